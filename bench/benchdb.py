"""Each bench's own PostgreSQL database, named after DATABASE_URL's, made afresh and dropped."""

import os
import secrets
import sys
from urllib.parse import urlparse, urlunparse


def bench_database_url(*, suffix: str, script: str) -> str:
    """DATABASE_URL with its database name + `suffix`; exits unless it points at PostgreSQL."""
    parsed = urlparse(os.environ.get("DATABASE_URL", ""))
    if parsed.scheme not in ("postgres", "postgresql"):
        sys.exit(f"{script} needs DATABASE_URL pointing at PostgreSQL")
    name = (parsed.path.strip("/") or "leadcrm") + suffix
    return urlunparse(parsed._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def _admin(url: str, *statements: str) -> None:
    import psycopg2

    # Connected to the maintenance database: a database cannot drop itself.
    conn = psycopg2.connect(urlunparse(urlparse(url)._replace(path="/postgres")))
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        conn.close()


def recreate_database(url: str) -> None:
    name = database_name(url)
    _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    _admin(url, f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')


def run_with_django(url: str, run, args, *, prefix: str, env: dict[str, str] | None = None) -> None:
    """Set Django up on the bench database `url` (no Redis, a temporary var/), call
    `run(args)`, then close the connections, remove the folder and drop the database unless
    `args.keep`."""
    import tempfile

    var = tempfile.TemporaryDirectory(prefix=prefix)
    os.environ.update(DATABASE_URL=url, REDIS_URL="", LEADCRM_VAR_DIR=var.name, **(env or {}))
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcrm.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        var.cleanup()
        if not args.keep:
            drop_database(url)
            print(f"dropped database {database_name(url)}")
