"""Events' Celery tasks: thin and idempotent (a second run finds nothing left to do)."""

from celery import shared_task
from django.db import OperationalError

from events import retention, services


@shared_task(
    name="events.retention_purge",
    acks_late=True,
    reject_on_worker_lost=True,
    # A dropped connection or a deadlock is transient: the next try goes on where this stopped.
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    max_retries=3,
)
def retention_purge() -> int:
    return retention.events_purge()


@shared_task(
    name="events.buffer_drain",
    # A drain that dies leaves its rows in the buffer for the next (events/buffer.py); a lost
    # kick is made up for by beat's sweep.
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=1,
    max_retries=3,
)
def buffer_drain() -> int:
    return services.events_buffer_drain()
