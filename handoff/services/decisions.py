"""The rep's decisions on a handed-off lead: accept, reject with a reason, qualify with the
discovery checklist, close won or lost.

Each locks the lead first (decisions on one lead take turns), changes its stage only through
leads.services, and moves the lead's assignment in the same transaction. A decision that frees
a rep's capacity (reject, close) asks routing to serve the pool once it commits.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from core.errors import ApiError
from core.publish import publish_on_commit
from handoff import clock
from handoff.models import Assignment, AssignmentStatus, Discovery, Mode, Rejection, RejectReason
from handoff.selectors import handoff_settings
from handoff.services import merge
from handoff.services.common import (
    ROUTE_POOL,
    AlreadyAccepted,
    NoRep,
    NotAssigned,
    assignment_end,
    lead_locked,
    lead_may_see,
    open_assignment,
    require_owner,
    require_sales,
)
from leads import services as lead_services
from leads.models import Lead, Stage
from leads.selectors import lead_stage_entry

# Stages a lead is in once sales has accepted it.
ACCEPTED_STAGES = (Stage.SAL, Stage.SQL, Stage.CUSTOMER)

# What each reject reason does with the lead.
NURTURE_REASONS = (
    RejectReason.BAD_TIMING,
    RejectReason.NO_BUDGET,
    RejectReason.NO_RESPONSE,
    RejectReason.OTHER,
)
DISQUALIFY_REASONS = (RejectReason.NOT_A_FIT, RejectReason.COMPETITOR)

DISCOVERY_TEXT_ITEMS = (
    "decision_makers",
    "decision_process",
    "timeframe",
    "current_solution",
    "budget",
)
DISCOVERY_ITEMS = ("product_fit", *DISCOVERY_TEXT_ITEMS)


class InvalidReason(ApiError):
    default_code = "invalid_reason"
    default_detail = "Unknown reason."


class DiscoveryIncomplete(ApiError):
    default_code = "discovery_incomplete"
    default_detail = "Answer every item of the discovery checklist."


# --- accept ------------------------------------------------------------------------------------


@transaction.atomic
def lead_accept(*, lead_id: int, actor: User, now: datetime | None = None) -> Lead:
    """MQL/PQL -> SAL, owned by the rep; the assignment becomes ACCEPTED with its first-touch
    deadline (business time, from the hand-off settings).

    Assign mode: the rep of the lead's pending assignment (a sales manager or admin may accept
    for them). Pool mode: any rep claims an unowned pool lead, which opens an accepted
    assignment for them. Of two reps racing for a lead, the second waits for the first's lock
    and then finds it taken: 409 `already_accepted`.
    """
    now = now or timezone.now()
    lead = lead_locked(lead_id)
    require_sales(actor, "accept leads")
    assignment = open_assignment(lead.pk)
    if assignment is not None and assignment.status == AssignmentStatus.PENDING:
        _require_assignee(lead, assignment, actor)
    else:
        assignment = _claim(lead, assignment, actor, now)
    lead = lead_services.lead_transition(
        lead_id=lead.pk, to=Stage.SAL, actor=actor, reason="Accepted"
    )
    _accepted_at(assignment, now)
    return lead


def _require_assignee(lead: Lead, assignment: Assignment, actor: User) -> None:
    if actor.pk == assignment.rep_id or actor.manages_sales:
        return
    if not lead_may_see(lead.pk, actor):
        raise Http404("No such lead.")
    raise NotAssigned("This lead is assigned to another rep.")


def _was_accepted(lead: Lead, assignment: Assignment | None) -> bool:
    # `assignment` here is never pending: an open one is the accepted one.
    return assignment is not None or lead.stage in ACCEPTED_STAGES


def _claim(lead: Lead, assignment: Assignment | None, actor: User, now: datetime) -> Assignment:
    """No pending assignment: a rep claims the lead (the pool's, or one they already own)."""
    if actor.is_rep and not lead_may_see(lead.pk, actor):
        # The loser of a pool race no longer sees the lead the winner now owns.
        if handoff_settings().mode == Mode.POOL and _was_accepted(lead, assignment):
            raise AlreadyAccepted()
        raise Http404("No such lead.")
    if _was_accepted(lead, assignment):
        raise AlreadyAccepted()
    if not actor.is_rep:
        raise NoRep()
    if lead.stage not in (Stage.MQL, Stage.PQL):
        raise lead_services.IllegalTransition(f"A lead at {lead.stage} cannot be accepted.")
    try:
        with transaction.atomic():
            return Assignment.objects.create(
                lead=lead, rep=actor, assigned_at=now, accept_due_at=now, reassign_due_at=now
            )
    except IntegrityError as exc:  # one open assignment a lead: the database's last word
        raise AlreadyAccepted() from exc


# --- reject ------------------------------------------------------------------------------------


@transaction.atomic
def lead_reject(
    *,
    lead_id: int,
    actor: User,
    reason: str,
    note: str = "",
    duplicate_of: int | None = None,
    now: datetime | None = None,
) -> Lead:
    """The rep turns down a lead assigned to them (before accepting it), with a reason code.

    `bad_timing`, `no_budget`, `no_response`, `other` (needs a note): back to nurture (MQL,
    owner cleared, recycle count + 1, the re-engagement sequence); `not_a_fit`, `competitor`:
    DISQUALIFIED; `duplicate`: merged into `duplicate_of` (a lead the rep may see). Records a
    Rejection (with the rule or condition that made the lead MQL/PQL) and ends the assignment
    REJECTED. Returns the lead, or for a duplicate the lead it was merged into.
    """
    now = now or timezone.now()
    if reason == RejectReason.DUPLICATE:
        merge.merge_turn_take()  # before any lead lock: see merge.lead_merge
    lead = lead_locked(lead_id)
    require_sales(actor, "reject leads")
    assignment = _pending_for(lead, actor)
    note = _reject_checked(lead, actor, reason, note, duplicate_of)
    rejection = Rejection.objects.create(
        lead=lead,
        rep=assignment.rep,
        assignment=assignment,
        reason=reason,
        note=note,
        duplicate_of_id=duplicate_of if reason == RejectReason.DUPLICATE else None,
        source=lead.source,
        stage=lead.stage,
        qualified_by=_qualified_by(lead),
        rejected_at=now,
    )
    assignment_end(lead_id=lead.pk, status=AssignmentStatus.REJECTED, now=now)
    return _REJECT_OUTCOMES[_outcome(reason)](lead, actor, rejection)


def _pending_for(lead: Lead, actor: User) -> Assignment:
    """The lead's pending assignment, which `actor` may decide on; or the refusal."""
    assignment = open_assignment(lead.pk)
    if assignment is not None and assignment.status == AssignmentStatus.PENDING:
        _require_assignee(lead, assignment, actor)
        return assignment
    if actor.is_rep and not lead_may_see(lead.pk, actor):
        raise Http404("No such lead.")
    if _was_accepted(lead, assignment):
        raise AlreadyAccepted(
            "This lead has already been accepted: recycle or close it instead of rejecting it."
        )
    if actor.is_rep:
        raise NotAssigned("You may reject only a lead assigned to you.")
    raise NoRep("No rep is assigned this lead, so there is nothing to reject.")


def _reject_checked(
    lead: Lead, actor: User, reason: str, note: str, duplicate_of: int | None
) -> str:
    """The note, stripped, once the reason and what it needs are valid (else a 400)."""
    if reason not in RejectReason.values:
        valid = ", ".join(RejectReason.values)
        raise InvalidReason(
            f"Unknown reason {reason!r}; the valid reasons are: {valid}.",
            fields={"reason": [f"Choose one of: {valid}."]},
        )
    note = (note or "").strip()
    if reason == RejectReason.OTHER and not note:
        raise ApiError(
            "The reason `other` needs a note saying why.",
            code="note_required",
            fields={"note": ["Required when the reason is other."]},
        )
    if reason == RejectReason.DUPLICATE:
        _duplicate_checked(lead, actor, duplicate_of)
    return note


def _duplicate_checked(lead: Lead, actor: User, duplicate_of: int | None) -> None:
    problem = None
    if duplicate_of is None:
        problem = "Required when the reason is duplicate: the lead this one duplicates."
    elif duplicate_of == lead.pk:
        problem = "A lead is not a duplicate of itself."
    elif not lead_may_see(duplicate_of, actor):
        problem = "No such lead."
    if problem:
        raise ApiError(problem, code="invalid", fields={"duplicate_of": [problem]})


def _qualified_by(lead: Lead) -> str:
    """What made the lead MQL/PQL: the rule (a scoring threshold, a PQL condition) named by the
    history row of its current stage entry; "by hand" for a person's move."""
    entry = lead_stage_entry(lead=lead)
    if entry is None:
        return ""
    return entry.rule or "by hand"


def _outcome(reason: str) -> str:
    if reason in NURTURE_REASONS:
        return "nurture"
    return "disqualify" if reason in DISQUALIFY_REASONS else "duplicate"


def _why(rejection: Rejection) -> str:
    label = RejectReason(rejection.reason).label
    return f"Rejected: {label}" + (f" ({rejection.note})" if rejection.note else "")


def _to_nurture(lead: Lead, actor: User, rejection: Rejection) -> Lead:
    return lead_services.lead_return_to_nurture(
        lead_id=lead.pk, actor=actor, reason=_why(rejection)
    )


def _disqualify(lead: Lead, actor: User, rejection: Rejection) -> Lead:
    return lead_services.lead_transition(
        lead_id=lead.pk, to=Stage.DISQUALIFIED, actor=actor, reason=_why(rejection)
    )


def _merge_duplicate(lead: Lead, actor: User, rejection: Rejection) -> Lead:
    assert rejection.duplicate_of_id is not None
    merge.lead_merge(lead_id=rejection.duplicate_of_id, other_id=lead.pk, actor=actor)
    return Lead.objects.get(pk=rejection.duplicate_of_id)


_REJECT_OUTCOMES: dict[str, Callable[[Lead, User, Rejection], Lead]] = {
    "nurture": _to_nurture,
    "disqualify": _disqualify,
    "duplicate": _merge_duplicate,
}


# --- qualify -----------------------------------------------------------------------------------


@transaction.atomic
def lead_qualify(
    *, lead_id: int, actor: User, answers: dict[str, Any], now: datetime | None = None
) -> Lead:
    """SAL -> SQL once every discovery item is answered (`product_fit` must be true); the
    answers are kept (one Discovery row a lead, replaced when it is qualified again)."""
    now = now or timezone.now()
    lead = lead_locked(lead_id)
    require_owner(lead, actor, "qualify this lead")
    if lead.stage != Stage.SAL:
        raise lead_services.IllegalTransition(
            f"Only an accepted (SAL) lead can be qualified; this one is {lead.stage}."
        )
    cleaned = discovery_clean(answers)
    lead = lead_services.lead_transition(
        lead_id=lead.pk, to=Stage.SQL, actor=actor, reason="Discovery checklist answered"
    )
    Discovery.objects.update_or_create(
        lead=lead, defaults={**cleaned, "answered_by": actor, "answered_at": now}
    )
    return lead


def discovery_clean(answers: dict[str, Any]) -> dict[str, Any]:
    """The checklist's answers, or a 400 naming each missing or empty item."""
    errors: dict[str, list[str]] = {}
    fit = answers.get("product_fit")
    if fit is None:
        errors["product_fit"] = ["Answer this item: does the product fit (true)?"]
    elif fit is not True:
        errors["product_fit"] = ["The product must fit (true) to qualify the lead."]
    cleaned: dict[str, Any] = {"product_fit": True}
    for name in DISCOVERY_TEXT_ITEMS:
        value = answers.get(name)
        if not isinstance(value, str) or not value.strip():
            errors[name] = ["Answer this item."]
        else:
            cleaned[name] = value.strip()
    if errors:
        raise DiscoveryIncomplete(
            f"Answer every discovery item; missing or not acceptable: {', '.join(errors)}.",
            fields=errors,
        )
    return cleaned


# --- close -------------------------------------------------------------------------------------


class Outcome:
    WON = "won"
    LOST = "lost"


@transaction.atomic
def lead_close(
    *, lead_id: int, actor: User, outcome: str, reason: str = "", now: datetime | None = None
) -> Lead:
    """SQL -> CUSTOMER (won) or DISQUALIFIED (lost, with the loss reason). Ends the assignment
    RELEASED and frees the rep's capacity."""
    now = now or timezone.now()
    lead = lead_locked(lead_id)
    require_owner(lead, actor, "close this lead")
    if outcome not in (Outcome.WON, Outcome.LOST):
        raise ApiError(
            "outcome must be won or lost.", code="invalid", fields={"outcome": ["won or lost."]}
        )
    if lead.stage != Stage.SQL:
        raise lead_services.IllegalTransition(
            f"Only a sales-qualified (SQL) lead can be closed; this one is {lead.stage}."
        )
    reason = (reason or "").strip()
    if outcome == Outcome.LOST and not reason:
        raise lead_services.ReasonRequired(
            "A lost deal needs the loss reason.", fields={"reason": ["Required when lost."]}
        )
    to = Stage.CUSTOMER if outcome == Outcome.WON else Stage.DISQUALIFIED
    why = f"{outcome.capitalize()}" + (f": {reason}" if reason else "")
    lead = lead_services.lead_transition(lead_id=lead.pk, to=to, actor=actor, reason=why)
    assignment_end(lead_id=lead.pk, status=AssignmentStatus.RELEASED, now=now)
    return lead


# --- moves made elsewhere (the generic transition endpoint and page form) --------------------

# A lead here has left the hand-off: its assignment, whatever it was, is over.
_GONE_STAGES = (Stage.IQL, Stage.DISQUALIFIED, Stage.CUSTOMER)


@transaction.atomic
def assignments_sync(*, lead_ids: list[int], now: datetime | None = None) -> dict[str, int]:
    """Bring open assignments in line with moves made outside these decisions (the generic
    `/transition/` endpoint, the page form, a manager's recycle), for a `lead_stage_entered`
    receiver: a pending assignment whose rep moved the lead on to SAL or SQL becomes
    ACCEPTED (decided when the lead entered its stage, with its first-touch deadline); one
    whose lead left the hand-off (recycled: owner cleared; disqualified, won, reopened; or
    owned by someone else) ends RELEASED, freeing the rep. Idempotent."""
    now = now or timezone.now()
    open_rows = Assignment.objects.select_for_update().filter(
        lead_id__in=list(lead_ids), status__in=[AssignmentStatus.PENDING, AssignmentStatus.ACCEPTED]
    )
    stale = open_rows.filter(
        Q(lead__owner__isnull=True) | ~Q(lead__owner=F("rep")) | Q(lead__stage__in=_GONE_STAGES)
    )
    released = stale.update(status=AssignmentStatus.RELEASED, ended_at=now)
    if released:
        publish_on_commit(ROUTE_POOL)
    moved_on = open_rows.filter(
        status=AssignmentStatus.PENDING, lead__stage__in=[Stage.SAL, Stage.SQL]
    ).select_related("lead")
    accepted = 0
    for assignment in moved_on:
        _accepted_at(assignment, assignment.lead.stage_entered_at)
        accepted += 1
    return {"released": released, "accepted": accepted}


def _accepted_at(assignment: Assignment, at: datetime) -> None:
    settings = handoff_settings()
    hours = clock.hours_parse(settings.business_hours)
    assignment.status = AssignmentStatus.ACCEPTED
    assignment.decided_at = at
    assignment.first_touch_due_at = clock.deadline(at, settings.first_touch_within_minutes, hours)
    assignment.save(update_fields=["status", "decided_at", "first_touch_due_at"])
