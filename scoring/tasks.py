"""Scoring's Celery tasks: thin, idempotent (every pass re-derives from the database and a second
run finds nothing left to do), acknowledged late so a killed worker's task runs again."""

import logging
import uuid
from typing import Any

from celery import shared_task
from django.db import OperationalError

from core.publish import publish_on_commit
from scoring import services, simulations
from scoring.kick import RESCORE_STEP, SCORING_PROCESS, SIMULATE_RUN

logger = logging.getLogger(__name__)

_TASK: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    # Deadlocks, serialisation failures and dropped connections are transient: try again soon.
    "autoretry_for": (OperationalError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@shared_task(name=SCORING_PROCESS, **_TASK)
def scoring_process(lead_ids=()):
    """Score unscored events (and fit-check kicked leads); hand over to a fresh task if the
    backlog outlasts one task's time budget."""
    result, more = services.backlog_score(lead_ids=lead_ids)
    if more:
        publish_on_commit(SCORING_PROCESS)
    return {"events": result.events, "promoted": result.promoted, "more": more}


@shared_task(name="scoring.sweep", **_TASK)
def sweep():
    return services.scoring_sweep()


@shared_task(name="scoring.expire", **_TASK)
def expire():
    result = services.points_expire()
    return {"leads": result.leads, "promoted": result.promoted}


@shared_task(name=RESCORE_STEP, bind=True, **_TASK)
def rescore_step(self, job_id: int, cursor: int):
    """Some chunks of a re-score, then the next step is queued. A second delivery of the same
    step finds the job's cursor moved on and stops."""
    try:
        next_cursor = services.rescore_step(job_id=job_id, cursor=cursor)
    except OperationalError:
        raise
    except Exception:
        # A bug, not a blip: the job says it stopped, under an id that finds the traceback in
        # the log. Not the exception's text: every user reads the job, and an exception may
        # carry internals (paths, SQL, values) or personal data.
        error_id = uuid.uuid4().hex[:12]
        logger.exception(
            "Re-score %s failed (error id %s)", job_id, error_id, extra={"error_id": error_id}
        )
        services.rescore_fail(
            job_id=job_id,
            error=f"The re-score stopped on an internal error (error id {error_id}); "
            "an administrator finds the details in the server log under that id.",
        )
        raise
    if next_cursor is not None:
        publish_on_commit(RESCORE_STEP, job_id, next_cursor)
    return next_cursor


@shared_task(name=SIMULATE_RUN, **_TASK)
def simulate_run(job_id: int):
    """Run a simulation job; a second delivery finds it claimed and does nothing."""
    simulations.simulation_run(job_id=job_id)
