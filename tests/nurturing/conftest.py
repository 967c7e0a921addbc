"""Real parts for nurturing tests: an aiosmtpd server and Celery worker subprocesses.

Both bind 127.0.0.1 on free ports, use the test database, a Redis queue of their own per test,
and are stopped by their fixtures.
"""

import os
import uuid

import pytest

from nurturing.models import Sequence, Step
from tests.support import Received, SmtpServer, SmtpSink, Worker, database_url

# Moved to tests/support.py (the hand-off's tests use them too); still importable from here.
__all__ = ["Received", "SmtpServer", "SmtpSink", "Worker", "make_sequence"]


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
