"""Every write of scoring: rules and their versions, settings, the ledger, lead scores, re-scores.

Every scoring pass (a batch of events, a fit check, expiry, one re-score chunk) runs in one
transaction that first locks the ScoringSettings row, so scoring writers take turns: two passes
can never score the same event twice or interleave their ledger reconciliation. Ledger rows,
the leads' score and temperature, taking the events off scoring's queue and any stage move are
written in that same transaction, so Lead.score equals the sum of the lead's live ledger rows at
every commit.
(Scores are written here, not through leads.services, because they are the ledger's sum written
set-based for thousands of leads at once; stage moves do go through leads.services.leads_promote.)
"""

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record, changes_between
from core.errors import ApiError, Forbidden
from core.publish import publish_on_commit
from events import services as event_services
from leads.models import Lead, Stage
from leads.services import Actor, actor_kind, leads_promote
from scoring import rules, selectors
from scoring.engine import Scope, derive, ledger, mql, pql, queue, scores, staging
from scoring.kick import RESCORE_STEP, SCORING_PROCESS, dirty_leads_pop, kick
from scoring.models import (
    LedgerEntry,
    RescoreJob,
    RescoreStatus,
    RuleVersion,
    ScoringRule,
    ScoringSettings,
)

logger = logging.getLogger(__name__)


class RuleInvalid(ApiError):
    default_code = "invalid"
    default_detail = "The rule is not valid."


def _forbid_reps(actor: User | None) -> None:
    """Rules and settings are marketing's (marketers and admins); `None` is the system."""
    if actor is not None and actor_kind(actor) is Actor.REP:
        raise Forbidden("A sales rep may not change scoring rules or settings.")
    if actor is not None and not actor.does_marketing:
        raise Forbidden("Only marketers and admins change scoring rules or settings.")


def _parse(data: Mapping[str, Any], **ids) -> rules.RuleDef:
    try:
        return rules.rule_parse(data, **ids)
    except rules.RuleError as exc:
        raise RuleInvalid(str(exc), fields=exc.fields) from exc


def _settings_locked() -> ScoringSettings:
    """Lock the settings row: the turn every scoring writer waits for (see the module doc)."""
    try:
        return ScoringSettings.objects.select_for_update().get(pk=1)
    except ScoringSettings.DoesNotExist:
        with transaction.atomic():
            ScoringSettings.objects.get_or_create(pk=1)
        return ScoringSettings.objects.select_for_update().get(pk=1)


# --- rules and settings ---------------------------------------------------------------------


def _version_create(rule: ScoringRule, ruledef: rules.RuleDef, actor, number: int) -> RuleVersion:
    data = ruledef.definition()
    return RuleVersion.objects.create(rule=rule, number=number, created_by=actor, **data)


@transaction.atomic
def rule_create(
    *,
    actor: User | None,
    name: str,
    definition: Mapping[str, Any],
    is_active: bool = True,
    key: str | None = None,
    rescore: bool = True,
) -> ScoringRule:
    """A rule and its version 1. A re-score follows on commit when the rule is active."""
    _forbid_reps(actor)
    ruledef = _parse(definition)
    rule = ScoringRule.objects.create(name=name, key=key, is_active=is_active, created_by=actor)
    rule.current_version = _version_create(rule, ruledef, actor, number=1)
    rule.save(update_fields=["current_version", "updated_at"])
    audit_record(
        actor=actor,
        action="scoring_rule.create",
        object_type="scoring_rule",
        object_id=rule.pk,
        object_label=name,
        changes=changes_between(
            {}, {"name": name, "is_active": is_active, "definition": ruledef.definition()}
        ),
    )
    if is_active and rescore:
        rescore_start(actor=actor, reason=f"Rule “{name}” created")
    return rule


def _rule_audit_state(rule: ScoringRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "is_active": rule.is_active,
        "definition": rule.version.as_def().definition(),
    }


@transaction.atomic
def rule_update(
    *,
    actor: User | None,
    rule_id: int,
    name: str | None = None,
    definition: Mapping[str, Any] | None = None,
    is_active: bool | None = None,
) -> ScoringRule:
    """Rename, redefine (a new version) or switch a rule on/off. `definition` may be partial.

    A change to what an active rule scores (or to whether it is active) starts a re-score.
    """
    _forbid_reps(actor)
    rule = ScoringRule.objects.select_for_update().get(pk=rule_id)
    current = rule.version
    was_active, scoring_changed = rule.is_active, False
    before = _rule_audit_state(rule)
    if definition is not None:
        ruledef = _parse({**current.as_def().definition(), **definition})
        if ruledef.definition() != current.as_def().definition():
            rule.current_version = _version_create(rule, ruledef, actor, current.number + 1)
            scoring_changed = True
    if is_active is not None and is_active != rule.is_active:
        rule.is_active = is_active
        scoring_changed = True
    if name:
        rule.name = name
    rule.save()
    changes = changes_between(before, _rule_audit_state(rule))
    if changes:
        audit_record(
            actor=actor,
            action="scoring_rule.update",
            object_type="scoring_rule",
            object_id=rule.pk,
            object_label=rule.name,
            changes=changes,
        )
    if scoring_changed and (was_active or rule.is_active):
        state = "switched off" if was_active and not rule.is_active else "changed"
        rescore_start(actor=actor, reason=f"Rule “{rule.name}” {state}")
    return rule


@transaction.atomic
def scoring_settings_update(
    *, actor: User | None, data: Mapping[str, Any], rescore: bool = True
) -> ScoringSettings:
    """Change thresholds, temperature bands or PQL conditions; a change starts a re-score."""
    _forbid_reps(actor)
    row = _settings_locked()
    try:
        new = rules.thresholds_parse(data, base=row.thresholds())
    except rules.RuleError as exc:
        raise RuleInvalid(str(exc), fields=exc.fields) from exc
    if new == row.thresholds():
        return row
    before = _settings_audit_state(row)
    row.mql_threshold, row.warm_at, row.hot_at = new.mql_threshold, new.warm_at, new.hot_at
    row.pql_conditions = [
        {"event_name": c.event_name, "min_count": c.min_count, "within_days": c.within_days}
        for c in new.pql_conditions
    ]
    row.save()
    audit_record(
        actor=actor,
        action="scoring_settings.update",
        object_type="scoring_settings",
        object_id=row.pk,
        object_label="Scoring settings",
        changes=changes_between(before, _settings_audit_state(row)),
    )
    if rescore:
        rescore_start(actor=actor, reason="Scoring settings changed")
    return row


def _settings_audit_state(row: ScoringSettings) -> dict[str, Any]:
    names = ("mql_threshold", "warm_at", "hot_at", "pql_conditions")
    return {name: getattr(row, name) for name in names}


# --- scoring passes -------------------------------------------------------------------------


@dataclass
class PassResult:
    leads: int = 0
    events: int = 0
    promoted: int = 0


def _promote(cursor, scope: Scope, thresholds: rules.Thresholds, *, event_ids=None) -> int:
    """Forward moves for leads in scope: IQL -> MQL on the threshold, then IQL/MQL -> PQL
    (with `event_ids`, only where those new events could have met the PQL conditions)."""
    label = f"scoring: MQL threshold {thresholds.mql_threshold}"
    reasons = {
        lead_id: f"Score {score} reached the MQL threshold of {thresholds.mql_threshold}."
        for lead_id, score in mql.candidates(cursor, scope, thresholds.mql_threshold)
    }
    promoted = leads_promote(reasons=reasons, to=Stage.MQL, rule=label)
    if thresholds.pql_conditions:
        label = "scoring: " + rules.describe_pql(thresholds.pql_conditions)
        candidates = pql.candidates(cursor, scope, thresholds.pql_conditions, event_ids=event_ids)
        reasons = dict.fromkeys(candidates, "PQL conditions met.")
        promoted += leads_promote(reasons=reasons, to=Stage.PQL, rule=label[:200])
    return promoted


def _score_scope(cursor, scope: Scope, now: datetime, *, fit_only: bool = False) -> int:
    """Reconcile the ledger of every lead in scope with the active rules (the full re-score of
    those leads, or only their fit rules), then their scores and stages. Returns promotions."""
    thresholds = _settings_locked().thresholds()
    active = selectors.rules_active()
    scores.lock(cursor, scope)
    staging.begin(cursor)
    if not fit_only:
        for select in derive.events(active, scope):
            staging.add(cursor, select)
    fit = derive.fit(active, scope, now)
    if fit is not None:
        staging.add(cursor, fit)
    staging.done(cursor)
    if not fit_only:
        ledger.delete_missing(cursor, scope, fit=False)
    ledger.delete_missing(cursor, scope, fit=True)
    ledger.insert_new(cursor, now)
    if not fit_only:
        ledger.expire(cursor, scope, now)
        queue.drop(cursor, scope)
    scores.refresh(cursor, scope, thresholds)
    return _promote(cursor, scope, thresholds)


def events_score_batch(*, limit: int | None = None, now: datetime | None = None) -> PassResult:
    """Score one batch of events off scoring's queue (events.PendingEvent), in one transaction.

    Idempotent: a second run finds nothing to do. Capped rules ("at most N times") re-rank the
    touched leads' whole history, so an event that arrives late but happened early takes its
    place among the first N, exactly as a full re-score would decide.
    """
    limit = limit or settings.SCORING_BATCH_SIZE
    with transaction.atomic(), connection.cursor() as cursor:
        now = now or timezone.now()
        thresholds = _settings_locked().thresholds()
        # Small, latency-bound statements: parallel workers and JIT compilation cost more
        # than they save (the id lists make their estimates look big).
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cursor.execute("SET LOCAL jit = off")
        batch = queue.pop(cursor, limit)
        if not batch:
            return PassResult()
        event_ids = [event_id for event_id, _ in batch]
        scope = _events_ledger_update(cursor, event_ids, now, thresholds)
        promoted = _promote(cursor, scope, thresholds, event_ids=event_ids)
    leads = len({lead_id for _, lead_id in batch})
    return PassResult(leads=leads, events=len(batch), promoted=promoted)


def _events_ledger_update(
    cursor, event_ids: list[int], now: datetime, thresholds: rules.Thresholds
) -> Scope:
    """The ledger rows and scores the new events change; returns the leads they changed.

    Capped rules re-rank the history of the leads with a new event of theirs; every other rule
    only adds the new events' rows. Only leads that get or lose ledger rows are locked, and
    their scores move by the points this pass adds and removes (see engine.scores.add).
    """
    active = selectors.rules_active()
    capped_ids = derive.capped_leads(cursor, active, event_ids)
    capped_scope = Scope.of(capped_ids)
    staging.begin(cursor)
    for select in derive.events(active, capped_scope, event_ids=event_ids):
        staging.add(cursor, select)
    staging.done(cursor)
    scope = Scope.of({*staging.leads(cursor), *capped_ids})
    scores.lock(cursor, scope)
    capped = [r.version_id for r in active if r.max_times is not None]
    lost = {}
    if capped and capped_ids:
        lost = ledger.delete_missing_points(cursor, capped_scope, fit=False, versions=capped)
    deltas = ledger.insert_new_points(cursor, now)
    for lead_id, points in lost.items():
        deltas[lead_id] = deltas.get(lead_id, 0) - points
    scores.add(cursor, deltas, thresholds)
    return scope


def leads_fit_refresh(*, lead_ids: Iterable[int], now: datetime | None = None) -> PassResult:
    """Re-check the fit (attribute) rules of these leads, e.g. after their fields changed."""
    scope = Scope.of(lead_ids)
    if not scope.ids:
        return PassResult()
    with transaction.atomic(), connection.cursor() as cursor:
        promoted = _score_scope(cursor, scope, now or timezone.now(), fit_only=True)
    return PassResult(leads=len(scope.ids), promoted=promoted)


def points_expire(*, now: datetime | None = None, batch: int = 5000) -> PassResult:
    """Switch off ledger rows past their expiry and lower (or, for expired negative points,
    raise) the scores that follow. A lead's stage never moves back for this."""
    result = PassResult()
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            at = now or timezone.now()
            thresholds = _settings_locked().thresholds()
            lead_ids = ledger.expiring_leads(cursor, at, batch)
            if not lead_ids:
                return result
            scope = Scope.of(lead_ids)
            scores.lock(cursor, scope)
            ledger.expire(cursor, scope, at)
            scores.refresh(cursor, scope, thresholds)
            result.promoted += _promote(cursor, scope, thresholds)
            result.leads += len(lead_ids)


# --- merging duplicates (the hand-off merges; it decides who may) ---------------------------


def scoring_turn_take() -> None:
    """Take scoring's turn (lock its settings row) in the caller's transaction.

    For a writer outside scoring that locks leads and then re-scores them (a merge): taking the
    turn first keeps the order every scoring pass locks in (settings, then leads), so the two
    cannot deadlock."""
    _settings_locked()


def ledger_move_to_lead(*, from_lead_id: int, to_lead_id: int) -> int:
    """Give one lead's ledger rows to another (its scoring queue rows follow its events).

    A fit rule counts once per lead: the moved lead's fit rows for versions the kept lead also
    has are dropped. The kept lead's score is stale until `lead_rescore`. Returns rows moved.
    """
    rows = LedgerEntry.objects.filter(lead_id=from_lead_id)
    kept_fit = LedgerEntry.objects.filter(lead_id=to_lead_id, event__isnull=True)
    rows.filter(event__isnull=True, version_id__in=kept_fit.values("version_id")).delete()
    return rows.update(lead_id=to_lead_id)


def lead_rescore(*, lead_id: int, now: datetime | None = None) -> PassResult:
    """A full re-score of one lead from its events and fields, in one transaction: its ledger
    reconciled with the active rules, its score, band and forward stage moves (after a merge
    gave it another lead's events and ledger rows)."""
    with transaction.atomic(), connection.cursor() as cursor:
        promoted = _score_scope(cursor, Scope.of([lead_id]), now or timezone.now())
    return PassResult(leads=1, promoted=promoted)


# --- full re-score --------------------------------------------------------------------------


def rescore_start(*, actor: User | None, reason: str) -> RescoreJob:
    """A new full re-score; open older ones are superseded (the new one covers every lead).
    The first step is enqueued when the caller's transaction commits."""
    _forbid_reps(actor)
    with transaction.atomic():
        now = timezone.now()
        RescoreJob.objects.filter(status__in=[RescoreStatus.PENDING, RescoreStatus.RUNNING]).update(
            status=RescoreStatus.SUPERSEDED, finished_at=now
        )
        job = RescoreJob.objects.create(
            reason=reason[:300], created_by=actor, total_leads=Lead.objects.count()
        )
        publish_on_commit(RESCORE_STEP, job.pk, 0)
    return job


def rescore_chunk(
    *, job_id: int, cursor: int | None = None, now: datetime | None = None
) -> int | None:
    """Re-score the next chunk of leads of an open job, in one transaction.

    Returns the job's new cursor, or None when the job is finished, closed, or has already
    moved past `cursor` (another delivery of the same step got there first).
    """
    chunk = settings.SCORING_RESCORE_CHUNK
    with transaction.atomic(), connection.cursor() as db:
        now = now or timezone.now()
        _settings_locked()
        job = RescoreJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or not job.is_open or (cursor is not None and job.cursor != cursor):
            return None
        ids = list(
            Lead.objects.filter(id__gt=job.cursor)
            .order_by("id")
            .values_list("id", flat=True)[:chunk]
        )
        if job.status == RescoreStatus.PENDING:
            # Counted when work starts: leads created after the job was queued are included.
            job.total_leads = Lead.objects.count()
        job.heartbeat_at = now
        job.started_at = job.started_at or now
        if not ids:
            job.status, job.finished_at = RescoreStatus.DONE, now
            job.save()
            return None
        job.promoted += _score_scope(db, Scope(after=job.cursor, upto=ids[-1]), now)
        job.status, job.cursor = RescoreStatus.RUNNING, ids[-1]
        job.processed_leads += len(ids)
        job.save()
        return job.cursor


def rescore_step(*, job_id: int, cursor: int, budget_seconds: float = 10.0) -> int | None:
    """Chunks of a job for up to `budget_seconds`; the cursor to go on from, or None if done.

    Short steps keep each task well inside the broker's visibility timeout.
    """
    deadline = time.monotonic() + budget_seconds
    while True:
        next_cursor = rescore_chunk(job_id=job_id, cursor=cursor)
        if next_cursor is None or time.monotonic() >= deadline:
            return next_cursor
        cursor = next_cursor


def rescore_run(*, job_id: int) -> RescoreJob:
    """The whole job in this process (management command, benchmark, tests)."""
    cursor: int | None = RescoreJob.objects.get(pk=job_id).cursor
    while cursor is not None:
        cursor = rescore_chunk(job_id=job_id, cursor=cursor)
    return RescoreJob.objects.get(pk=job_id)


def rescore_fail(*, job_id: int, error: str) -> None:
    RescoreJob.objects.filter(
        pk=job_id, status__in=[RescoreStatus.PENDING, RescoreStatus.RUNNING]
    ).update(status=RescoreStatus.FAILED, error=error[:5000], finished_at=timezone.now())


# --- background entry points ----------------------------------------------------------------


def scoring_kick(lead_ids: Iterable[int] = ()) -> None:
    """Ask for scoring soon: unscored events, and fit rules of `lead_ids` whose fields changed.

    Called by ingestion after its transaction commits. Coalesced: within a short window many
    kicks make one task. Never raises for a broker outage: the periodic sweep finds unscored
    events, and leads changed since its last run, once the broker is back.
    """
    kick(lead_ids=lead_ids)


def backlog_score(
    *, lead_ids: Iterable[int] = (), budget_seconds: float = 20.0
) -> tuple[PassResult, bool]:
    """Score what is waiting: fit checks for `lead_ids` (and those queued by kicks), then event
    batches off the queue until none are left or the budget is spent. Returns what was done and
    whether work remains (the `scoring.process` task hands that over to a fresh task)."""
    result = PassResult()
    ids = {*lead_ids, *dirty_leads_pop()}
    for chunk in _chunks(sorted(ids), settings.SCORING_BATCH_SIZE):
        result.promoted += leads_fit_refresh(lead_ids=chunk).promoted
    deadline = time.monotonic() + budget_seconds
    limit = settings.SCORING_BATCH_SIZE
    while time.monotonic() < deadline:
        batch = events_score_batch(limit=limit)
        result.events += batch.events
        result.promoted += batch.promoted
        if batch.events < limit:
            return result, False
    return result, True


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def scoring_sweep(*, now: datetime | None = None, budget_seconds: float = 30.0) -> dict[str, Any]:
    """The periodic catch-up: fit rules of leads changed since the last sweep, unscored events
    (those accepted while the broker was down), and re-score jobs whose chain of steps broke."""
    now = now or timezone.now()
    with transaction.atomic():
        last_sweep = _settings_locked().fit_checked_at
    # The last sweep's time, minus a margin for transactions that were still open then.
    margin = timedelta(seconds=settings.SCORING_FIT_SWEEP_MARGIN_SECONDS)
    since = None if last_sweep is None else last_sweep - margin
    # A first sweep relinks ids linked within the margin (fit-checks every lead, though).
    relinked = event_services.orphans_relink(since=since or now - margin)
    fit = _fit_sweep(now, since=since)
    result, more = backlog_score(budget_seconds=budget_seconds)
    if more:
        publish_on_commit(SCORING_PROCESS)
    stale = now - timedelta(seconds=settings.SCORING_RESCORE_STALE_SECONDS)
    restarted = 0
    for job in RescoreJob.objects.filter(status__in=[RescoreStatus.PENDING, RescoreStatus.RUNNING]):
        if (job.heartbeat_at or job.created_at) < stale:
            publish_on_commit(RESCORE_STEP, job.pk, job.cursor)
            restarted += 1
    return {
        "fit_leads": fit,
        "relinked": relinked,
        "events": result.events,
        "more": more,
        "rescores": restarted,
    }


def _fit_sweep(now: datetime, *, since: datetime | None) -> int:
    """Fit-check leads updated since `since` (every lead when None), in chunks, then move the
    mark to `now`."""
    leads = Lead.objects.order_by("id")
    if since is not None:
        leads = leads.filter(updated_at__gte=since)
    checked, last = 0, 0
    size = settings.SCORING_BATCH_SIZE
    while True:
        ids = list(leads.filter(id__gt=last).values_list("id", flat=True)[:size])
        if not ids:
            break
        leads_fit_refresh(lead_ids=ids, now=now)
        checked, last = checked + len(ids), ids[-1]
    ScoringSettings.objects.filter(pk=1).update(fit_checked_at=now)
    return checked
