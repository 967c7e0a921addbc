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
from scoring import rules, selectors, services
from scoring.kick import SIMULATE_RUN
from scoring.models import ScoringRule, SimulationJob, SimulationStatus

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


# --- drafts from the pages: a change to preview, then publish or discard ----------------------


def draft_for_rule(
    *, rule: ScoringRule | None, name: str, definition: dict[str, Any], limit: int = 200
) -> dict[str, Any]:
    """The draft of creating a rule (`rule` None) or redefining one: the active rules with
    this one added or replaced, and what publishing it will do."""
    current = [r for r in selectors.rules_active() if rule is None or r.rule_id != rule.pk]
    draft_rules = [{**r.definition(), "name": r.name} for r in current]
    if rule is None or rule.is_active:
        draft_rules.append({**definition, "name": name})
    change: dict[str, Any] = {"name": name, "definition": definition}
    if rule is None:
        change["type"] = "rule_create"
    else:
        change.update(type="rule_update", rule_id=rule.pk, version_id=rule.current_version_id)
    return {"rules": draft_rules, "thresholds": {}, "limit": limit, "change": change}


def draft_for_settings(*, overrides: dict[str, Any], limit: int = 200) -> dict[str, Any]:
    """The draft of new scoring settings (threshold, bands, PQL conditions)."""
    base = selectors.scoring_settings_get()
    return {
        "rules": None,
        "thresholds": overrides,
        "limit": limit,
        "change": {"type": "settings", "settings": overrides, "updated_at": str(base.updated_at)},
    }


@transaction.atomic
def simulation_publish(*, job: SimulationJob, actor: User) -> None:
    """Apply a previewed draft: the rule or settings change it stands for, which starts the
    re-score. Refused when the preview is not finished, was published already, or what it
    changes has changed since (preview again)."""
    selectors.scoring_simulate_authorize(user=actor)
    change = (job.draft or {}).get("change")
    if change is None:
        raise Conflict("This simulation has no change to publish.", code="nothing_to_publish")
    claimed = SimulationJob.objects.filter(
        pk=job.pk, status=SimulationStatus.DONE, published_at__isnull=True
    ).update(published_at=timezone.now())
    if not claimed:
        job.refresh_from_db()
        state = "published already" if job.published_at else f"{job.status}, not done"
        raise Conflict(f"This preview is {state}.", code="preview_not_publishable")
    _apply(change, actor)


def _apply(change: dict[str, Any], actor: User) -> None:
    if change["type"] == "rule_create":
        services.rule_create(actor=actor, name=change["name"], definition=change["definition"])
        return
    if change["type"] == "settings":
        row = selectors.scoring_settings_get()
        if str(row.updated_at) != change["updated_at"]:
            raise _stale("The scoring settings")
        services.scoring_settings_update(actor=actor, data=change["settings"])
        return
    rule = ScoringRule.objects.select_for_update().get(pk=change["rule_id"])
    if rule.current_version_id != change["version_id"]:
        raise _stale(f"The rule “{rule.name}”")
    services.rule_update(
        actor=actor, rule_id=rule.pk, name=change["name"], definition=change["definition"]
    )


def _stale(what: str) -> Conflict:
    return Conflict(
        f"{what} changed since this preview: preview the change again.", code="preview_stale"
    )


def simulation_discard(*, job: SimulationJob, actor: User) -> None:
    """Forget a draft and its preview: nothing of it is left. A published one stays (it is
    the record of what was previewed)."""
    selectors.scoring_simulate_authorize(user=actor)
    with transaction.atomic():
        SimulationJob.objects.filter(
            pk=job.pk, status__in=[SimulationStatus.PENDING, SimulationStatus.RUNNING]
        ).update(status=SimulationStatus.CANCELLED)
        deleted, _ = SimulationJob.objects.filter(pk=job.pk, published_at__isnull=True).delete()
    if not deleted:
        raise Conflict("A published preview cannot be discarded.", code="preview_published")
