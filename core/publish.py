"""Getting Celery tasks onto the broker, by task name, without ever failing the caller.

A task queued inside a transaction must not run before the transaction commits (it would not
see its rows) nor at all if it rolls back: `publish_on_commit` queues it after the commit.
A broker outage is logged and swallowed: every task published here has a periodic job that finds
the work again (see leadcrm/schedule.py), so a lost publish delays work and never loses it.

Tasks are named, not imported, so a service never imports its app's tasks module (which imports
the services) and a lower app could publish a higher app's task without importing it.
"""

import logging
from typing import Any

import kombu.exceptions
import redis
from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

# What an unreachable broker or Redis raises: kombu wraps connection errors in its
# OperationalError; redis-py raises RedisError subclasses; sockets raise OSError.
BROKER_ERRORS = (kombu.exceptions.OperationalError, redis.RedisError, OSError)


def publish(
    task_name: str,
    *args: Any,
    queue: str | None = None,
    countdown: float | None = None,
    **kwargs: Any,
) -> bool:
    """Queue `task_name` now. False (and a warning in the log) when the broker is unreachable."""
    options: dict[str, Any] = {"retry": False}
    if queue:
        options["queue"] = queue
    if countdown is not None:
        options["countdown"] = countdown
    try:
        current_app.send_task(task_name, args=args, kwargs=kwargs, **options)
    except BROKER_ERRORS as exc:
        logger.warning("Could not queue %s (%s); its periodic job catches up.", task_name, exc)
        return False
    return True


def publish_on_commit(
    task_name: str,
    *args: Any,
    queue: str | None = None,
    countdown: float | None = None,
    **kwargs: Any,
) -> None:
    """Queue `task_name` once the current transaction commits (at once outside one); never
    raises for a broker outage, never fails the caller's transaction."""
    transaction.on_commit(
        lambda: publish(task_name, *args, queue=queue, countdown=countdown, **kwargs),
        robust=True,
    )
