"""Imports' Celery tasks: thin, idempotent (a job's cursor moves with each batch in the batch's
transaction, and a runner that finds it moved stops), acknowledged late so that a killed
worker's step runs again from the last committed batch."""

from typing import Any

from celery import shared_task
from django.db import OperationalError

from core.publish import publish_on_commit
from imports import services

_TASK: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    # Deadlocks, serialisation failures and dropped connections are transient: try again soon
    # (the failed batch rolled back; the job's cursor says where to go on from).
    "autoretry_for": (OperationalError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@shared_task(name=services.IMPORT_RUN, **_TASK)
def run(job_id: int) -> bool:
    """Some batches of an import (a time-boxed step), then the next step is queued."""
    try:
        more = services.job_run_step(job_id=job_id)
    except OperationalError:
        raise
    except Exception as exc:
        # A bug, not a blip: the job says why it stopped, and the error is raised for the log.
        services.job_fail(job_id=job_id, error=f"{exc.__class__.__name__}: {exc}")
        raise
    if more:
        publish_on_commit(services.IMPORT_RUN, job_id)
    return more


@shared_task(name="imports.resume", **_TASK)
def resume() -> list[int]:
    """Queue again the imports nothing runs (a publish lost while the broker was down)."""
    return services.jobs_resume()
