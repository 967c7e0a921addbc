# TEMPORARY (pages branch): replaced by the decisions/routing helpers' implementation at merge
"""The rep's decisions, reduced to what the inbox page needs to run its tests: the real
module (the DECISIONS helper's) replaces this file whole, with the same names and arguments."""

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.errors import ApiError, Conflict, Forbidden
from handoff import clock
from handoff.models import Assignment, AssignmentStatus, Discovery, Mode, Rejection, RejectReason
from handoff.selectors import handoff_settings
from leads import services as lead_services
from leads.models import Lead, Stage

CHECKLIST = (
    "product_fit",
    "decision_makers",
    "decision_process",
    "timeframe",
    "current_solution",
    "budget",
)
_TO_NURTURE = {RejectReason.BAD_TIMING, RejectReason.NO_BUDGET, RejectReason.NO_RESPONSE}


def _pending(lead: Lead, actor: User) -> Assignment:
    row = Assignment.objects.select_for_update().filter(lead=lead, status="pending").first()
    if row is None or row.rep_id != actor.pk:
        raise Forbidden("This lead is not waiting for you.", code="not_assigned")
    return row


@transaction.atomic
def lead_accept(*, lead_id: int, actor: User) -> Lead:
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    now, settings = timezone.now(), handoff_settings()
    if settings.mode == Mode.POOL and lead.owner_id is None:
        row = Assignment(lead=lead, rep=actor, assigned_at=now, accept_due_at=now)
        row.reassign_due_at = now
    elif lead.stage not in (Stage.MQL, Stage.PQL):
        raise Conflict("Someone accepted this lead already.", code="already_accepted")
    else:
        row = _pending(lead, actor)
    hours = clock.hours_parse(settings.business_hours)
    row.status, row.decided_at = AssignmentStatus.ACCEPTED, now
    row.first_touch_due_at = clock.deadline(now, settings.first_touch_within_minutes, hours)
    row.save()
    return lead_services.lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=actor)


@transaction.atomic
def lead_reject(
    *, lead_id: int, actor: User, reason: str, note: str = "", duplicate_of: int | None = None
) -> Lead:
    if reason not in RejectReason.values:
        valid = ", ".join(RejectReason.values)
        raise ApiError(f"reason must be one of: {valid}.", code="invalid_reason")
    if reason == RejectReason.OTHER and not note.strip():
        raise ApiError("A note is required.", code="note_required", fields={"note": ["Say why."]})
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    row = _pending(lead, actor)
    now = timezone.now()
    Rejection.objects.create(
        lead=lead, rep=actor, assignment=row, reason=reason, note=note, source=lead.source,
        stage=lead.stage, duplicate_of_id=duplicate_of, rejected_at=now,
    )  # fmt: skip
    row.status, row.decided_at, row.ended_at = AssignmentStatus.REJECTED, now, now
    row.save()
    if reason in _TO_NURTURE:
        Lead.objects.filter(pk=lead.pk).update(owner=None, recycle_count=lead.recycle_count + 1)
        return Lead.objects.get(pk=lead.pk)
    label = RejectReason(reason).label
    return lead_services.lead_transition(
        lead_id=lead.pk, to=Stage.DISQUALIFIED, actor=actor, reason=f"{label} {note}".strip()
    )


@transaction.atomic
def lead_qualify(*, lead_id: int, actor: User, answers: dict) -> Lead:
    missing = [name for name in CHECKLIST if not answers.get(name)]
    if missing:
        fields = {name: ["This item must be answered."] for name in missing}
        raise ApiError(f"Answer every item: {', '.join(missing)}.", fields=fields)
    lead = lead_services.lead_transition(lead_id=lead_id, to=Stage.SQL, actor=actor)
    Discovery.objects.update_or_create(
        lead=lead,
        defaults={**{k: answers[k] for k in CHECKLIST}, "answered_by": actor},
        create_defaults={
            **{k: answers[k] for k in CHECKLIST},
            "answered_by": actor,
            "answered_at": timezone.now(),
        },
    )
    return lead


@transaction.atomic
def lead_close(*, lead_id: int, actor: User, outcome: str, reason: str) -> Lead:
    if outcome not in ("won", "lost"):
        raise ApiError("outcome must be won or lost.", fields={"outcome": ["won or lost"]})
    to = Stage.CUSTOMER if outcome == "won" else Stage.DISQUALIFIED
    return lead_services.lead_transition(lead_id=lead_id, to=to, actor=actor, reason=reason)
