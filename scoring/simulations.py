"""Writes of simulation jobs: start one, run it (the Celery task's body), cancel it.

A simulation reads the whole event history (seconds at a million events), so it runs in a
worker and the caller polls the job. It changes nothing but its own row.
"""

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.errors import Conflict
from core.publish import publish_on_commit
from leads.models import Lead
from scoring import rules, selectors
from scoring.kick import SIMULATE_RUN
from scoring.models import SimulationJob, SimulationStatus

logger = logging.getLogger(__name__)


def simulation_start(*, actor: User, draft: dict[str, Any]) -> SimulationJob:
    """A new simulation of `draft` (`rules`: definitions or None for the active rules,
    `thresholds`: the overrides as for /settings/, `limit`), already validated by the caller.
    The task is queued when the transaction commits."""
    selectors.scoring_simulate_authorize(user=actor)
    with transaction.atomic():
        job = SimulationJob.objects.create(
            created_by=actor, draft=draft, total_leads=Lead.objects.count()
        )
        publish_on_commit(SIMULATE_RUN, job.pk)
    return job


def simulation_run(*, job_id: int) -> None:
    """Run a pending simulation to its end. A second delivery finds it claimed and stops; a
    cancel between two chunks stops it there."""
    claimed = SimulationJob.objects.filter(pk=job_id, status=SimulationStatus.PENDING).update(
        status=SimulationStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    job = SimulationJob.objects.get(pk=job_id)
    draft_rules, thresholds = draft_parse(job.draft)

    def progress(done: int) -> bool:
        # A conditional update: zero rows means the job was cancelled meanwhile.
        return bool(
            SimulationJob.objects.filter(pk=job_id, status=SimulationStatus.RUNNING).update(
                processed_leads=done
            )
        )

    try:
        result = selectors.scoring_simulate(
            draft=draft_rules,
            thresholds=thresholds,
            limit=job.draft.get("limit", 100),
            progress=progress,
        )
    except selectors.SimulationCancelled:
        return
    except Exception:
        # The traceback goes to the log; users see a generic message with the job's id.
        logger.exception("simulation %s failed", job_id)
        SimulationJob.objects.filter(pk=job_id, status=SimulationStatus.RUNNING).update(
            status=SimulationStatus.FAILED,
            error=f"The simulation failed (job {job_id}); the server log has the details.",
            finished_at=timezone.now(),
        )
        raise
    SimulationJob.objects.filter(pk=job_id, status=SimulationStatus.RUNNING).update(
        status=SimulationStatus.DONE,
        result=result,
        processed_leads=result["leads"],
        finished_at=timezone.now(),
    )


def simulation_cancel(*, job: SimulationJob, actor: User) -> SimulationJob:
    """Stop an open simulation (it stops after the chunk it is working on)."""
    selectors.scoring_simulate_authorize(user=actor)
    cancelled = SimulationJob.objects.filter(
        pk=job.pk, status__in=[SimulationStatus.PENDING, SimulationStatus.RUNNING]
    ).update(status=SimulationStatus.CANCELLED, finished_at=timezone.now())
    job.refresh_from_db()
    if not cancelled:
        raise Conflict(f"This simulation is already {job.status}.", code="simulation_closed")
    return job


def draft_parse(draft: dict[str, Any]) -> tuple[list[rules.RuleDef], rules.Thresholds]:
    """The rules and thresholds a stored draft stands for (the active rules when it names
    none; its threshold overrides on top of the current settings)."""
    raw_rules = draft.get("rules")
    parsed = (
        selectors.rules_active()
        if raw_rules is None
        else [rules.rule_parse(item) for item in raw_rules]
    )
    thresholds = rules.thresholds_parse(
        draft.get("thresholds") or {}, base=selectors.scoring_settings_get().thresholds()
    )
    return parsed, thresholds
