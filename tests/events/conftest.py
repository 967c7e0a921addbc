import base64
import gzip
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from pytest_django.live_server_helper import LiveServer

from core import hooks
from events import services
from tests.support import database_url


@pytest.fixture
def write_key(db):
    """A source named "website" and its write key."""
    _, key = services.source_create(name="website")
    return key


@pytest.fixture
def source(write_key):
    from events.models import Source

    return Source.objects.get(name="website")


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@pytest.fixture
def post_segment(client):
    """POST a JSON (optionally gzipped) body to /v1/<kind>; returns the response."""

    def post(kind, body, *, key=None, gzipped=False, raw=None, headers=None):
        data = raw if raw is not None else json.dumps(body).encode()
        all_headers = dict(headers or {})
        if key is not None:
            all_headers["Authorization"] = basic(key)
        if gzipped:
            data = gzip.compress(data)
            all_headers["Content-Encoding"] = "gzip"
        return client.post(
            f"/v1/{kind}", data=data, content_type="application/json", headers=all_headers
        )

    return post


def wait_for_other_sessions_to_end(timeout: float = 2) -> None:
    """Make sure servers we stopped (or whose workers we killed) have left the test database,
    so that pytest-django can drop it at the end of the session.

    A live-server thread parked on an idle keep-alive socket keeps its connection open even
    after the server stopped; the database is this worker's own, so what is left is ended.
    """
    from django.db import connection

    others = (
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(others)
            if not cursor.fetchall():
                return
            time.sleep(0.05)
        cursor.execute(f"SELECT pg_terminate_backend(pid) FROM ({others}) AS o")


@pytest.fixture
def ingest_server(transactional_db):
    """A live server on 127.0.0.1 (a free port) serving the test database; stopped after."""
    server = LiveServer("127.0.0.1")
    yield server
    # The SDKs keep a module-wide keep-alive session; close it so no server thread is left
    # waiting on a connection when the server (and its database connection) goes away.
    from rudderstack.analytics import request as rudder_request
    from segment.analytics import request as segment_request

    segment_request._session.close()
    rudder_request._session.close()
    deadline, quiet = time.monotonic() + 2, 0
    while time.monotonic() < deadline and quiet < 5:
        busy = any("process_request_thread" in t.name for t in threading.enumerate())
        quiet = 0 if busy else quiet + 1
        time.sleep(0.02)
    server.stop()
    wait_for_other_sessions_to_end()


@pytest.fixture
def kicks(monkeypatch):
    """Records the `events_recorded` hook's calls instead of asking its receivers (scoring)."""
    calls = []
    monkeypatch.setattr(hooks.events_recorded, "_receivers", [lambda ids: calls.append(ids)])
    return calls


ROOT = Path(__file__).resolve().parents[2]


class Gunicorn:
    """A real gunicorn (master + workers) on 127.0.0.1, serving the test database."""

    def __init__(self, *, log: Path, workers: int, env: dict[str, str]):
        self.log = log
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "leadcrm.wsgi:application",
            "--bind=127.0.0.1:0",
            f"--workers={workers}",
            "--worker-class=sync",
            "--graceful-timeout=5",
            "--no-control-socket",  # gunicorn 27 shares one control socket path per user
            f"--error-logfile={log}",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        port = self._wait_for(r"Listening at: http://127\.0\.0\.1:(\d+)")
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while len(self.worker_pids()) < workers and time.monotonic() < deadline:
            time.sleep(0.05)

    def _wait_for(self, pattern: str) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log.read_text()}")
            found = re.search(pattern, self.log.read_text() if self.log.exists() else "")
            if found:
                return found.group(1)
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn did not start:\n{self.log.read_text()}")

    def worker_pids(self) -> list[int]:
        """Live workers: children of the master process."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid and fields[0] != "Z":
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """Start gunicorn on the test database: gunicorn(workers=2, env={...}). Stopped after."""
    from django.db import connections

    started = []

    def start(*, workers: int = 2, env: dict[str, str] | None = None) -> Gunicorn:
        connections.close_all()  # so the server's writes are seen by fresh connections
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": database_url(),
            "SECRET_KEY": settings.SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1",
            "LEADCRM_VAR_DIR": str(tmp_path / "var"),
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        server = Gunicorn(
            log=tmp_path / f"gunicorn{len(started)}.log", workers=workers, env=environment
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    wait_for_other_sessions_to_end()
