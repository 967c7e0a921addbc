"""Real parts for nurturing tests: Celery worker subprocesses on a Redis queue of their own per
test and the test database, stopped by their fixtures. (The aiosmtpd server and the worker
class live in tests/support.py, the `smtp_server` fixture in tests/conftest.py.)
"""

import os
import uuid

import pytest
import redis

from nurturing.models import Sequence, Step
from tests.support import Worker, database_url, redis_queue_remove


@pytest.fixture
def nurture_queue(settings, redis_url):
    """A Redis queue for this test only, so parallel runs never take each other's tasks."""
    queue = f"test-nurture-{uuid.uuid4().hex[:12]}"
    settings.NURTURE_QUEUE = queue
    yield queue
    redis_queue_remove(redis_url, queue)
    client = redis.Redis.from_url(redis_url)
    kicked = client.keys(f"{settings.NURTURE_KEY_PREFIX}{queue}:*")  # the kicks' keys
    if kicked:
        client.delete(*kicked)


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
