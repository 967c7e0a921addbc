"""Real parts for nurturing tests: an aiosmtpd server and Celery worker subprocesses.

Both bind 127.0.0.1 on free ports, use the test database, a Redis queue of their own per test,
and are stopped by their fixtures.
"""

import email
import email.policy
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from nurturing.models import Sequence, Step
from tests.support import database_url, free_port

ROOT = Path(__file__).resolve().parents[2]
# aiosmtpd logs every SMTP command at INFO.
logging.getLogger("mail.log").setLevel(logging.WARNING)


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


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_mailer(settings, smtp_server):
    """Point this process's default mailer at the aiosmtpd server."""
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_server.port, "timeout": 5},
        }
    }
    return smtp_server


class Worker:
    """A `celery worker` subprocess on the test database and a queue of this test's own."""

    def __init__(self, *, queue: str, env: dict[str, str], concurrency: int = 2):
        self.queue = queue
        self.env = env
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None
        # Outlives this method: the subprocess writes to it until stop(), which closes it.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="nurture-worker-", suffix=".log", delete=False
        )

    def start(self) -> "Worker":
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "leadcrm",
            "worker",
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


@pytest.fixture
def nurture_queue(settings, redis_url):
    """A Redis queue for this test only, so parallel runs never take each other's tasks."""
    queue = f"test-nurture-{uuid.uuid4().hex[:12]}"
    settings.NURTURE_QUEUE = queue
    yield queue
    redis_queue_remove(redis_url, queue)


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


@pytest.fixture
def start_worker(settings, redis_url, nurture_queue, transactional_db):
    """start_worker(smtp_port) -> Worker; every worker started is stopped after the test."""
    workers: list[Worker] = []

    def start(smtp_port: int, **extra_env: str) -> Worker:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url,
            # The web process must verify the links the worker signs.
            "SECRET_KEY": settings.SECRET_KEY,
            "DEBUG": "0",
            "SITE_URL": "http://testserver",
            "ALLOWED_HOSTS": "testserver",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "EMAIL_TIMEOUT": "2",
            "NURTURE_QUEUE": nurture_queue,
            "NURTURE_CLAIM_LEASE_SECONDS": "10",
            "NURTURE_RETRY_BASE_SECONDS": "1",
            "NURTURE_SEND_RATE_PER_MINUTE": "0",
            "CELERY_VISIBILITY_TIMEOUT": "10",
            **extra_env,
        }
        worker = Worker(queue=nurture_queue, env=env).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
        worker.remove_log()


@pytest.fixture
def worker_settings(settings):
    """This process acts as the beat: the same lease and rate as the workers."""
    settings.NURTURE_CLAIM_LEASE_SECONDS = 10
    settings.NURTURE_SEND_RATE_PER_MINUTE = 0
    settings.SITE_URL = "http://testserver"
    return settings


def make_sequence(*, key="seq", steps=1, delays=None, **fields) -> Sequence:
    from django.utils import timezone

    sequence = Sequence.objects.create(
        key=key, name=key.title(), activated_at=timezone.now(), **fields
    )
    delays = delays or [0] * steps
    for position, delay in enumerate(delays, start=1):
        Step.objects.create(
            sequence=sequence,
            position=position,
            delay_minutes=delay,
            subject=f"{key} step {position} for {{{{ first_name }}}}",
            body_text=f"Hello {{{{ first_name }}}}, step {position}. https://example.com/s{position}",
            body_html=(
                f'<p>Hello {{{{ first_name }}}}, <a href="https://example.com/s{position}?a=1&amp;b=2">'
                f"step {position}</a></p>"
            ),
        )
    return sequence
