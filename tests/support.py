"""Helpers shared by the tests (no fixtures here: those live in the conftest files)."""

import email
import email.policy
import http.server
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
# aiosmtpd logs every SMTP command at INFO.
logging.getLogger("mail.log").setLevel(logging.WARNING)


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now: bound, then released, by us."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    predicate: Callable[[], object],
    *,
    timeout: float,
    interval: float = 0.2,
    on_tick: Callable[[], object] | None = None,
) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds pass; True when it became true.
    `on_tick` runs between polls (a beat, a log flush). Waiting, never timing: how long it took
    is not a test's business (see bench/)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if on_tick:
            on_tick()
        time.sleep(interval)
    return bool(predicate())


# --- A real SMTP server (aiosmtpd) and Celery worker subprocesses ------------------------------


@dataclass
class Received:
    rcpt: str
    message: email.message.EmailMessage
    at: float
    raw: bytes = b""


@dataclass
class SmtpSink:
    """An aiosmtpd handler that keeps what it accepts and refuses listed recipients (550)."""

    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append(Received(rcpt, message, time.time(), envelope.content))
        return "250 2.0.0 Accepted"

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def counts(self) -> Counter:
        """Deliveries per (recipient, subject): 1 everywhere means exactly once."""
        return Counter((r.rcpt, str(r.message["Subject"])) for r in self.snapshot())


class SmtpServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.sink = SmtpSink()
        self.controller = None

    def start(self) -> "SmtpServer":
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


# `celery worker` whose own published tasks (no explicit queue) go to the queue it consumes.
_WORKER_OWN_QUEUE = (
    "import sys; from leadcrm.celery import app; "
    "app.conf.task_default_queue = sys.argv[1]; app.worker_main(sys.argv[2:])"
)


class Worker:
    """A `celery worker` subprocess on the test database and a queue of this test's own.

    `publishes_to_queue`: tasks the worker queues itself (a task that publishes the next one)
    go to that queue too, instead of Celery's default queue that nobody consumes in a test.
    """

    def __init__(
        self,
        *,
        queue: str,
        env: dict[str, str],
        concurrency: int = 2,
        publishes_to_queue: bool = False,
    ):
        self.queue = queue
        self.env = env
        self.concurrency = concurrency
        self.publishes_to_queue = publishes_to_queue
        self.proc: subprocess.Popen | None = None
        # Outlives this method: the subprocess writes to it until stop(), which closes it.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="celery-worker-", suffix=".log", delete=False
        )

    def _command(self) -> list[str]:
        if self.publishes_to_queue:
            return [sys.executable, "-c", _WORKER_OWN_QUEUE, self.queue, "worker"]
        return [sys.executable, "-m", "celery", "-A", "leadcrm", "worker"]

    def start(self) -> "Worker":
        cmd = [
            *self._command(),
            "-Q",
            self.queue,
            "-c",
            str(self.concurrency),
            "-P",
            "prefork",
            "-n",
            f"{self.queue}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
        ]
        # A session of its own, so that kill -9 reaches the pool processes too.
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.log.close()

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def remove_log(self) -> None:
        Path(self.log.name).unlink(missing_ok=True)


# `celery beat` with some of leadcrm/schedule.py's entries, each at a test's own interval,
# sending to the given queue: argv = queue, schedule file, JSON {entry name: seconds}.
_BEAT = (
    "import json, sys; from leadcrm.celery import app; from leadcrm.schedule import BEAT_SCHEDULE; "
    "every = json.loads(sys.argv[3]); "
    "app.conf.beat_schedule = {n: {**BEAT_SCHEDULE[n], 'schedule': s} for n, s in every.items()}; "
    "app.conf.task_default_queue = sys.argv[1]; "
    "app.start(['beat', '-s', sys.argv[2], '-l', 'INFO', '--max-interval', '1'])"
)


class Beat(Worker):
    """A `celery beat` subprocess running the named entries of leadcrm/schedule.py (the real
    task names and options) every `every[name]` seconds instead of their production rate, so
    a test need not wait a minute. Stopped like a worker."""

    def __init__(self, *, queue: str, env: dict[str, str], every: dict[str, float], state: Path):
        super().__init__(queue=queue, env=env)
        self.every = every
        self.state = state

    def start(self) -> "Beat":
        cmd = [sys.executable, "-c", _BEAT, self.queue, str(self.state), json.dumps(self.every)]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self


def redis_queue_remove(redis_url: str, queue: str) -> None:
    """Remove the queue, the routing entries kombu keeps for it, and the unacknowledged tasks
    of its killed workers (any later consumer would restore those into the queue)."""
    import json

    import redis

    client = redis.Redis.from_url(redis_url)
    for tag, raw in client.hgetall("unacked").items():
        _message, _exchange, routing_key = json.loads(raw)
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    for member in client.smembers("_kombu.binding.celery"):
        if member.endswith(queue.encode()):
            client.srem("_kombu.binding.celery", member)


def race(work: Callable[[int], object], count: int = 2) -> list:
    """Run `work(i)` in `count` threads released together by a barrier; what each returned or
    raised, by i. Each thread closes its own database connections (use a transactional test)."""
    from django.db import connections

    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the outcome under test, kept for asserting
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def assert_error(response, status: int, code: str, fields: set[str] | None = None) -> dict:
    """An API refusal: the status, JSON with a machine `code` and a human `message` (and
    exactly these `fields`, if given). Returns the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    if fields is not None:
        assert set(body.get("fields", {})) == fields, body
    return body


# --- browser tests (tests/pages/) ---------------------------------------------------------------
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def log_in(page, user, password: str = "pw-for-tests"):
    """Log `user` in through the real login form (the factories' password by default); the
    page ends wherever the log-in sent it."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"^(?!.*/accounts/login/)"))
    return page


def scroll_width(page) -> int:
    """The page's full width: more than the viewport's means the page scrolls sideways."""
    return page.evaluate("document.documentElement.scrollWidth")


class StaticSite:
    """Files served over HTTP from a folder, on a free 127.0.0.1 port of their own: a second
    origin (another website) for browser tests. `headers` go on every answer (a CSP, ...)."""

    def __init__(self, root: Path, headers: dict[str, str] | None = None):
        import functools
        import http.server

        extra = dict(headers or {})

        class Handler(http.server.SimpleHTTPRequestHandler):
            def end_headers(self):
                for name, value in extra.items():
                    self.send_header(name, value)
                super().end_headers()

            def log_message(self, format, *args):  # noqa: A002 - the base class's name
                pass

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
        )
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "StaticSite":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class MemorySite:
    """A website on an origin of its own (127.0.0.1 and a free port), in a thread: serves the
    files it is given, `{path: (bytes, content type)}`, and 404 for anything else. Stands for
    a customer's site that embeds a script pointed at leadcrm. Stop it with `stop()`."""

    def __init__(self, files: dict[str, tuple[bytes, str]]):
        self.files = files
        self.requests: list[str] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's naming
                path = self.path.split("?", 1)[0]
                site.requests.append(path)
                found = site.files.get(path)
                if found is None:
                    self.send_error(404)
                    return
                body, content_type = found
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
