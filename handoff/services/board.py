"""A move on the pipeline board: a card dropped on another stage's column (or sent with its
"Move to…" form) becomes the decision that move is.

Accepting, rejecting, qualifying and closing go through the hand-off's decisions (which keep
assignments, rejections and discovery answers in step); every other move through the lead's
generic stage change. Each of those checks the lifecycle, the viewer's role and ownership
inside its own transaction; this module only picks which one and refuses what none could make.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from accounts.models import User
from core.errors import ApiError
from handoff.models import Assignment, AssignmentStatus, RejectReason
from handoff.selectors import board as board_selectors
from handoff.services import decisions
from leads import lifecycle
from leads import services as lead_services
from leads.models import Lead, Stage
from leads.selectors import lead_get

# The reject reasons a drop offers, by the column the card was dropped on: DISQUALIFIED takes
# the reasons that disqualify, MQL (back to nurture) those that return the lead to nurture. A
# duplicate is merged from the lead's page, where the other lead is named.
REJECT_REASONS: dict[str, tuple[str, ...]] = {
    "DISQUALIFIED": tuple(decisions.DISQUALIFY_REASONS),
    "MQL": tuple(decisions.NURTURE_REASONS),
}


@dataclass(frozen=True)
class MoveInput:
    """What the browser sent with a move: a free-text reason (disqualify, recycle, lost,
    reopen), a reject reason code and note, or the discovery checklist's answers."""

    reason: str = ""
    reject_reason: str = ""
    note: str = ""
    answers: dict[str, Any] = field(default_factory=dict)


class MoveIncomplete(ApiError):
    """The move needs input it did not get: the board asks for it (a dialog, a form page)."""

    default_code = "move_needs_input"
    default_detail = "This move needs more information."


def _pending_rep_id(lead_id: int) -> int | None:
    rows = Assignment.objects.filter(lead_id=lead_id, status=AssignmentStatus.PENDING)
    return rows.values_list("rep_id", flat=True).first()


def board_move_plan(
    *, lead_id: int, to: str, actor: User
) -> tuple[Lead, board_selectors.BoardMove]:
    """The lead (Http404 when the actor may not see it) and what moving it to `to` would be;
    IllegalTransition when the lifecycle has no such move."""
    lead = lead_get(user=actor, lead_id=lead_id)
    move = board_selectors.move_for(
        lead=lead, to=to, user=actor, pending_rep_id=_pending_rep_id(lead.pk)
    )
    if move is None:
        shown = to if to else "nowhere"
        raise lead_services.IllegalTransition(f"A lead cannot move from {lead.stage} to {shown}.")
    _require_role(lead, to, actor)
    return lead, move


def _require_role(lead: Lead, to: str, actor: User) -> None:
    """Refuse a move the actor's role may never make before the board asks for a reason or a
    checklist; the service makes the same checks again, under the lead's lock."""
    kind = lead_services.actor_kind(actor)
    move = lifecycle.MOVES[(Stage(lead.stage), Stage(to))]
    if kind not in move.actors:
        raise lead_services.TransitionForbidden(
            f"A {kind} cannot move a lead from {lead.stage} to {to}."
        )
    rep_on_other = kind is lifecycle.Actor.REP and lead.owner_id != actor.pk
    if rep_on_other and move.kind is not lifecycle.MoveKind.ACCEPT:
        raise lead_services.TransitionForbidden(
            "A sales rep may act only on leads assigned to them; accept the lead first."
        )


@transaction.atomic
def board_move(*, lead_id: int, to: str, actor: User, data: MoveInput) -> Lead:
    """Move the lead to the stage `to` as the board's viewer `actor`; returns the lead as it is
    now. Refusals are the services' errors (404 not visible, 403 not allowed, 409 illegal,
    400 a reason or answer missing); MoveIncomplete when the move asks for input it lacks."""
    lead, move = board_move_plan(lead_id=lead_id, to=to, actor=actor)
    _require_input(move, data)
    perform = _PERFORM.get(move.kind, _generic)
    return perform(lead, move, actor, data)


def _require_input(move: board_selectors.BoardMove, data: MoveInput) -> None:
    if move.needs == board_selectors.NEEDS_REJECT and not data.reject_reason:
        raise MoveIncomplete(
            "Choose why you reject this lead.", fields={"reject_reason": ["Required."]}
        )
    if move.needs == board_selectors.NEEDS_CHECKLIST and not data.answers:
        raise MoveIncomplete("Answer the discovery checklist to qualify this lead.")
    if move.needs == board_selectors.NEEDS_REASON and not data.reason.strip():
        raise lead_services.ReasonRequired(
            f"Moving a lead to {move.to} ({move.kind}) needs a reason.",
            fields={"reason": ["This field is required."]},
        )


def _accept(lead: Lead, move, actor: User, data: MoveInput) -> Lead:
    return decisions.lead_accept(lead_id=lead.pk, actor=actor)


def _qualify(lead: Lead, move, actor: User, data: MoveInput) -> Lead:
    return decisions.lead_qualify(lead_id=lead.pk, actor=actor, answers=data.answers)


def _win(lead: Lead, move, actor: User, data: MoveInput) -> Lead:
    return decisions.lead_close(lead_id=lead.pk, actor=actor, outcome=decisions.Outcome.WON)


def _lost(lead: Lead, move, actor: User, data: MoveInput) -> Lead:
    return decisions.lead_close(
        lead_id=lead.pk, actor=actor, outcome=decisions.Outcome.LOST, reason=data.reason
    )


def _reject(lead: Lead, move, actor: User, data: MoveInput) -> Lead:
    allowed = REJECT_REASONS.get(move.to, ())
    if data.reject_reason not in allowed:
        labels = ", ".join(str(RejectReason(code).label) for code in allowed)
        raise decisions.InvalidReason(
            f"Dropped on {move.to}, a rejection's reason is one of: {labels}.",
            fields={"reject_reason": [f"Choose one of: {labels}."]},
        )
    return decisions.lead_reject(
        lead_id=lead.pk, actor=actor, reason=data.reject_reason, note=data.note
    )


def _generic(lead: Lead, move, actor: User, data: MoveInput) -> Lead:
    return lead_services.lead_transition_requested(
        lead_id=lead.pk, to=move.to, actor=actor, reason=data.reason
    )


_PERFORM = {
    "accept": _accept,
    "qualify": _qualify,
    "win": _win,
    "lost": _lost,
    "reject": _reject,
}
