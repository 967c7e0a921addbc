"""A real Celery worker's database connection: kept from task to task, as a web worker keeps
its own from request to request, and checked before a task uses it.

Celery's Django fixup closed every connection before and after each task, so each task opened
a PostgreSQL connection of its own (a server process forked and set up for it).
"""

import os

import pytest
from django.conf import settings
from django.db import connection

from core.publish import publish
from nurturing.services.dispatch import NURTURE_DISPATCH_LEADS
from tests.factories import LeadFactory
from tests.support import Worker, database_url, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


APP_NAME = "leadcrm-test-worker"  # the worker's connections say so (libpq's PGAPPNAME)


def _worker_backends() -> list[tuple[int, object]]:
    """(pid, started) of the worker's PostgreSQL server processes on the test database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s ORDER BY pid",
            [APP_NAME],
        )
        return cursor.fetchall()


@pytest.fixture
def worker(redis_url, queue):
    started = Worker(
        queue=queue,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url,
            "SECRET_KEY": settings.SECRET_KEY,
            "PGAPPNAME": APP_NAME,
        },
        concurrency=1,
    )
    yield started.start()
    started.stop()
    started.remove_log()


def _run_task(worker: Worker, lead_id: int, done: int) -> None:
    """Queue a task that reads the database and wait until the worker has run `done` tasks."""
    publish(NURTURE_DISPATCH_LEADS, [lead_id])
    finished = wait_for(lambda: worker.output().count(" succeeded in ") >= done, timeout=30)
    assert finished, worker.output()[-3000:]


def test_a_worker_keeps_its_connection_from_task_to_task(worker):
    lead = LeadFactory()
    _run_task(worker, lead.pk, 1)
    [first] = _worker_backends()  # still open once the task is done (closed before: none)

    _run_task(worker, lead.pk, 2)
    assert _worker_backends() == [first]  # the same server process, not a new one


def test_a_task_after_the_database_dropped_the_connection_gets_a_new_one(worker):
    lead = LeadFactory()
    _run_task(worker, lead.pk, 1)
    [(pid, _)] = _worker_backends()
    with connection.cursor() as cursor:  # the database restarts, say
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert wait_for(lambda: not _worker_backends(), timeout=10)

    _run_task(worker, lead.pk, 2)
    assert "raised unexpected" not in worker.output()
    [(again, _)] = _worker_backends()
    assert again != pid
