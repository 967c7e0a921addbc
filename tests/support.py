"""Helpers shared by the tests (no fixtures here: those live in the conftest files)."""

from urllib.parse import quote


def database_url(settings_dict: dict | None = None) -> str:
    """A database's connection settings (the test database by default, with its xdist suffix)
    as a DATABASE_URL for a subprocess: a TCP host and port, or a unix socket folder."""
    from django.db import connection

    db = settings_dict or connection.settings_dict
    auth = quote(db["USER"], safe="") + (
        f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    )
    host = db["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        return f"postgres://{auth}@/{db['NAME']}?host={host}"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"
