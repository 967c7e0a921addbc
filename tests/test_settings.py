"""Settings from the environment, checked in fresh interpreters so each run starts from scratch."""

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import env
from tests.support import database_url

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET = secrets.token_urlsafe(50)


def run_python(tmp_path, code: str, **variables: str) -> subprocess.CompletedProcess:
    """Run `code` after django.setup() with only the given variables set (plus PATH/HOME, and
    this run's database unless DATABASE_URL is given)."""
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LEADCRM_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "leadcrm.settings",
        "PYTHONDONTWRITEBYTECODE": "1",
        **variables,
    }
    script = "import django\ndjango.setup()\n" + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_manage(tmp_path, *args: str, **variables: str) -> subprocess.CompletedProcess:
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LEADCRM_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url(),
        "PYTHONDONTWRITEBYTECODE": "1",
        **variables,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


PRINT_SETTINGS = """
from django.conf import settings
print(json.dumps({name: getattr(settings, name) for name in NAMES}, default=str))
"""


def settings_of(tmp_path, names: list[str], **variables: str) -> dict:
    code = f"import json\nNAMES = {names!r}\n{PRINT_SETTINGS}"
    result = run_python(tmp_path, code, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- start-up refuses bad configuration, naming the variable -----------------------------------


@pytest.mark.parametrize(
    "variables, message",
    [
        ({}, "SECRET_KEY is required unless DEBUG is on"),
        ({"DEBUG": "0"}, "SECRET_KEY is required unless DEBUG is on"),
        (
            {"SECRET_KEY": SECRET, "DEBUG": "maybe"},
            "DEBUG must be a boolean (1/0/true/false), got 'maybe'",
        ),
        ({"SECRET_KEY": SECRET, "EMAIL_PORT": "smtp"}, "EMAIL_PORT must be an integer, got 'smtp'"),
        ({"SECRET_KEY": SECRET, "EMAIL_PORT": "0"}, "EMAIL_PORT must be at least 1, got 0"),
        (
            {"SECRET_KEY": SECRET, "EMAIL_USE_TLS": "sometimes"},
            "EMAIL_USE_TLS must be a boolean (1/0/true/false), got 'sometimes'",
        ),
        (
            {"SECRET_KEY": SECRET, "EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"},
            "EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on",
        ),
        (
            {"SECRET_KEY": SECRET, "DATABASE_URL": "mysql://leadcrm@127.0.0.1/leadcrm"},
            "DATABASE_URL must be a URL starting with postgres://, postgresql://, pgsql://, "
            "got 'mysql://leadcrm@127.0.0.1/leadcrm'",
        ),
        (
            {"SECRET_KEY": SECRET, "DATABASE_URL": "sqlite:///var/db.sqlite3"},
            "DATABASE_URL must be a URL starting with postgres://, postgresql://, pgsql://, "
            "got 'sqlite:///var/db.sqlite3'",
        ),
        (
            {"SECRET_KEY": SECRET, "SITE_URL": "crm.example.com"},
            "SITE_URL must be a URL starting with http://, https://, got 'crm.example.com'",
        ),
        (
            {"SECRET_KEY": SECRET, "SITE_URL": "ftp://crm.example.com"},
            "SITE_URL must be a URL starting with http://, https://, got 'ftp://crm.example.com'",
        ),
        (
            {"SECRET_KEY": SECRET, "REDIS_URL": "http://127.0.0.1:6379"},
            "REDIS_URL must be a URL starting with redis://, rediss://, unix://, "
            "got 'http://127.0.0.1:6379'",
        ),
        (
            {
                "SECRET_KEY": SECRET,
                "REDIS_URL": "redis://127.0.0.1:6379/0",
                "CELERY_VISIBILITY_TIMEOUT": "soon",
            },
            "CELERY_VISIBILITY_TIMEOUT must be an integer, got 'soon'",
        ),
    ],
)
def test_bad_configuration_stops_start_up_naming_the_variable(tmp_path, variables, message):
    result = run_python(tmp_path, "print('started')", **variables)

    assert result.returncode == 1
    assert result.stdout == ""
    assert last_line(result.stderr) == f"django.core.exceptions.ImproperlyConfigured: {message}"


def test_manage_py_check_also_stops_on_bad_configuration(tmp_path):
    result = run_manage(tmp_path, "check", SECRET_KEY=SECRET, DEBUG="perhaps")

    assert result.returncode == 1
    assert "DEBUG must be a boolean" in last_line(result.stderr)


# --- defaults ----------------------------------------------------------------------------------


def test_defaults_are_debug_off_and_filesystem_broker(tmp_path):
    values = settings_of(
        tmp_path, ["DEBUG", "CELERY_BROKER_URL", "SITE_URL", "ALLOWED_HOSTS"], SECRET_KEY=SECRET
    )

    assert values["DEBUG"] is False
    assert values["CELERY_BROKER_URL"] == "filesystem://"
    assert values["SITE_URL"] == "http://127.0.0.1:8000"
    assert values["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]


def test_debug_needs_no_secret_key(tmp_path):
    values = settings_of(tmp_path, ["DEBUG"], DEBUG="true")

    assert values == {"DEBUG": True}


# --- the database: DATABASE_URL, else the local PostgreSQL that `make run` runs ------------------


def test_a_unix_socket_database_url_puts_the_folder_in_host(tmp_path):
    values = settings_of(
        tmp_path,
        ["DATABASES"],
        SECRET_KEY=SECRET,
        DATABASE_URL="postgresql://postgres:@/crm?host=/run/postgresql",
    )

    database = values["DATABASES"]["default"]
    assert (database["HOST"], database["PORT"], database["NAME"], database["OPTIONS"]) == (
        "/run/postgresql",
        "",
        "crm",
        {},
    )


def _leave_postmaster_pid(var_dir: Path, *, pid: int, socket_dir: str) -> None:
    """The postmaster.pid a running server keeps in its data folder (PostgreSQL's format)."""
    pgdata = var_dir / "postgres"
    pgdata.mkdir(parents=True)
    lines = [str(pid), str(pgdata), "1767225600", "5432", socket_dir, "", "0 0", "ready"]
    (pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n")


def test_without_database_url_the_server_make_run_runs_is_used(tmp_path):
    # This test's own process stands in for the server's.
    _leave_postmaster_pid(tmp_path / "var", pid=os.getpid(), socket_dir="/run/leadcrm")

    values = settings_of(tmp_path, ["DATABASES"], SECRET_KEY=SECRET, DATABASE_URL="")

    database = values["DATABASES"]["default"]
    assert (database["ENGINE"], database["HOST"], database["NAME"], database["USER"]) == (
        "django.db.backends.postgresql",
        "/run/leadcrm",
        "leadcrm",
        "postgres",
    )


def test_without_database_url_or_a_running_server_start_up_says_what_to_do(tmp_path):
    ended = subprocess.Popen(["true"])
    ended.wait()
    _leave_postmaster_pid(tmp_path / "var", pid=ended.pid, socket_dir="/run/leadcrm")

    result = run_python(tmp_path, "print('started')", SECRET_KEY=SECRET, DATABASE_URL="")

    assert result.returncode == 1
    assert result.stdout == ""
    var = tmp_path.resolve() / "var"
    assert last_line(result.stderr) == (
        "django.core.exceptions.ImproperlyConfigured: DATABASE_URL is not set and no local "
        f"PostgreSQL is running in {var / 'postgres'}: set DATABASE_URL, start `make run` "
        f"(which runs one), or run the command under `python -m leadcrm.localdb {tmp_path / 'var'}"
        " -- COMMAND`"
    )


def test_configured_values_are_used(tmp_path):
    values = settings_of(
        tmp_path,
        ["ALLOWED_HOSTS", "SITE_URL", "DATABASES", "CELERY_BROKER_URL", "MAILERS"],
        SECRET_KEY=SECRET,
        ALLOWED_HOSTS="crm.example.com, www.crm.example.com",
        SITE_URL="https://crm.example.com/",
        DATABASE_URL="postgres://leadcrm:pw@db.internal:5433/crm",
        REDIS_URL="redis://redis.internal:6379/2",
        EMAIL_HOST="smtp.example.com",
        EMAIL_PORT="587",
        EMAIL_USE_TLS="1",
        EMAIL_HOST_USER="mailer",
        EMAIL_HOST_PASSWORD="secret",
    )

    assert values["ALLOWED_HOSTS"] == ["crm.example.com", "www.crm.example.com"]
    assert values["SITE_URL"] == "https://crm.example.com"
    database = values["DATABASES"]["default"]
    assert (database["ENGINE"], database["HOST"], database["PORT"], database["NAME"]) == (
        "django.db.backends.postgresql",
        "db.internal",
        5433,
        "crm",
    )
    assert values["CELERY_BROKER_URL"] == "redis://redis.internal:6379/2"
    options = values["MAILERS"]["default"]["OPTIONS"]
    assert (options["host"], options["port"], options["use_tls"], options["username"]) == (
        "smtp.example.com",
        587,
        True,
        "mailer",
    )


@pytest.mark.parametrize(
    "raw, expected",
    [("1", True), ("true", True), ("TRUE", True), (" yes ", True), ("on", True)]
    + [("0", False), ("false", False), ("False", False), ("no", False), ("off", False)],
)
def test_booleans_take_1_0_true_false(monkeypatch, raw, expected):
    monkeypatch.setenv("LEADCRM_TEST_FLAG", raw)

    assert env.env_bool("LEADCRM_TEST_FLAG", not expected) is expected


def test_unset_boolean_takes_its_default(monkeypatch):
    monkeypatch.delenv("LEADCRM_TEST_FLAG", raising=False)

    assert env.env_bool("LEADCRM_TEST_FLAG", True) is True


@pytest.mark.parametrize("raw", ["2", "maybe", "tru", "y e s"])
def test_other_booleans_are_refused(monkeypatch, raw):
    monkeypatch.setenv("LEADCRM_TEST_FLAG", raw)

    with pytest.raises(ImproperlyConfigured, match="LEADCRM_TEST_FLAG must be a boolean"):
        env.env_bool("LEADCRM_TEST_FLAG")


# --- production: check --deploy, HTTPS only from an https SITE_URL ------------------------------


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run_manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=SECRET,
        DEBUG="0",
        SITE_URL="https://crm.example.com",
        ALLOWED_HOSTS="crm.example.com",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"
    assert result.stderr == ""


REQUEST = """
import json
from django.conf import settings
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
plain = Client().get("/healthz", HTTP_HOST="127.0.0.1")
proxied = Client().get("/healthz", HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "proxied": [proxied.status_code, proxied.get("Strict-Transport-Security")],
    "secure_cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE],
}))
"""


def test_http_site_url_serves_plain_http_with_debug_off(db, tmp_path):
    result = run_python(tmp_path, REQUEST, SECRET_KEY=SECRET, DEBUG="0")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "plain": [200, None],
        "proxied": [200, None],
        "secure_cookies": [False, False],
    }


def test_https_site_url_redirects_plain_http_and_sends_hsts(db, tmp_path):
    result = run_python(
        tmp_path, REQUEST, SECRET_KEY=SECRET, DEBUG="0", SITE_URL="https://crm.example.com"
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "plain": [301, "https://127.0.0.1/healthz"],
        "proxied": [200, "max-age=31536000; includeSubDomains; preload"],
        "secure_cookies": [True, True],
    }
