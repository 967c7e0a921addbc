"""The one place that says which stage moves are legal and who may make them.

Pure: no ORM. `check_move` answers for a (from, to, actor kind) triple; services call it
inside their transaction and write the change and its history row together.
"""

from dataclasses import dataclass
from enum import StrEnum

from leads.models import Stage


class Actor(StrEnum):
    SYSTEM = "system"  # a scoring rule or a background job
    MARKETER = "marketer"
    REP = "rep"
    MANAGER = "manager"  # a sales manager: the sales moves, on any rep's lead
    ADMIN = "admin"


class MoveKind(StrEnum):
    ADVANCE = "advance"  # marketing qualification: IQL -> MQL -> PQL
    ACCEPT = "accept"  # a rep accepts a handed-off lead
    QUALIFY = "qualify"  # a rep qualifies on a sales call
    WIN = "win"
    RECYCLE = "recycle"  # a rep rejects the lead back to nurture
    DISQUALIFY = "disqualify"
    REOPEN = "reopen"


@dataclass(frozen=True)
class Move:
    kind: MoveKind
    actors: frozenset[Actor]
    needs_reason: bool = False


class IllegalMove(Exception):
    """The lifecycle has no such move."""


class MoveNotAllowed(Exception):
    """The move exists, but not for this actor."""


class MoveNeedsReason(Exception):
    """The move needs a reason and none was given."""


_MARKETING = frozenset({Actor.SYSTEM, Actor.MARKETER, Actor.ADMIN})
_SALES = frozenset({Actor.REP, Actor.MANAGER, Actor.ADMIN})
_PEOPLE = frozenset({Actor.REP, Actor.MANAGER, Actor.MARKETER, Actor.ADMIN})

MOVES: dict[tuple[Stage, Stage], Move] = {
    (Stage.IQL, Stage.MQL): Move(MoveKind.ADVANCE, _MARKETING),
    (Stage.IQL, Stage.PQL): Move(MoveKind.ADVANCE, _MARKETING),
    (Stage.MQL, Stage.PQL): Move(MoveKind.ADVANCE, _MARKETING),
    (Stage.MQL, Stage.SAL): Move(MoveKind.ACCEPT, _SALES),
    (Stage.PQL, Stage.SAL): Move(MoveKind.ACCEPT, _SALES),
    (Stage.SAL, Stage.SQL): Move(MoveKind.QUALIFY, _SALES),
    (Stage.SQL, Stage.CUSTOMER): Move(MoveKind.WIN, _SALES),
    (Stage.PQL, Stage.MQL): Move(MoveKind.RECYCLE, _PEOPLE, needs_reason=True),
    (Stage.SAL, Stage.MQL): Move(MoveKind.RECYCLE, _PEOPLE, needs_reason=True),
    (Stage.SQL, Stage.MQL): Move(MoveKind.RECYCLE, _PEOPLE, needs_reason=True),
    **{
        (stage, Stage.DISQUALIFIED): Move(MoveKind.DISQUALIFY, _PEOPLE, needs_reason=True)
        for stage in (Stage.IQL, Stage.MQL, Stage.PQL, Stage.SAL, Stage.SQL)
    },
    (Stage.DISQUALIFIED, Stage.IQL): Move(
        MoveKind.REOPEN, frozenset({Actor.MARKETER, Actor.ADMIN}), needs_reason=True
    ),
}

# Sales hands back an MQL lead it was assigned but never accepted: the lead stays MQL, yet it
# re-enters MQL as a recycle (an MQL -> MQL history row, recycle_count + 1, owner cleared), so
# that nurturing starts its re-engagement sequence. Not in MOVES: the generic transition offers
# no move to the stage a lead is in; only leads.services.lead_return_to_nurture makes it.
RETURN_TO_NURTURE = Move(MoveKind.RECYCLE, _SALES, needs_reason=True)

# Moves a person makes only with their own form, never through the generic stage change:
# qualifying (SAL -> SQL) needs the discovery checklist (POST /api/v1/leads/{id}/qualify/).
DEDICATED_MOVES = frozenset({MoveKind.QUALIFY})

# Forward order of the qualification funnel; automatic moves only ever go up this list.
FUNNEL = (Stage.IQL, Stage.MQL, Stage.PQL, Stage.SAL, Stage.SQL, Stage.CUSTOMER)


def check_move(*, from_stage: str, to_stage: str, actor: Actor, reason: str = "") -> Move:
    """Return the move, or raise IllegalMove / MoveNotAllowed / MoveNeedsReason."""
    move = MOVES.get((Stage(from_stage), Stage(to_stage)))
    if move is None:
        raise IllegalMove(f"A lead cannot move from {from_stage} to {to_stage}.")
    if actor not in move.actors:
        raise MoveNotAllowed(f"A {actor} cannot move a lead from {from_stage} to {to_stage}.")
    if move.needs_reason and not reason.strip():
        raise MoveNeedsReason(f"Moving a lead to {to_stage} ({move.kind}) needs a reason.")
    return move


def is_forward(from_stage: str, to_stage: str) -> bool:
    """True when `to_stage` lies further along the funnel than `from_stage`."""
    if from_stage not in FUNNEL or to_stage not in FUNNEL:
        return False
    return FUNNEL.index(Stage(to_stage)) > FUNNEL.index(Stage(from_stage))


def allowed_targets(*, from_stage: str, actor: Actor) -> list[Stage]:
    return [to for (frm, to), move in MOVES.items() if frm == from_stage and actor in move.actors]


def recycle_move(from_stage: str) -> Move | None:
    """The move that returns a lead at `from_stage` to nurture (MQL), or None if there is none."""
    if from_stage == Stage.MQL:
        return RETURN_TO_NURTURE
    move = MOVES.get((Stage(from_stage), Stage.MQL)) if from_stage in Stage.values else None
    return move if move is not None and move.kind is MoveKind.RECYCLE else None


def check_recycle(*, from_stage: str, actor: Actor, reason: str = "") -> Move:
    """`check_move` for returning a lead to nurture (PQL, SAL, SQL -> MQL, and MQL -> MQL)."""
    move = recycle_move(from_stage)
    if move is None:
        raise IllegalMove(f"A lead at {from_stage} cannot be returned to nurture.")
    if actor not in move.actors:
        raise MoveNotAllowed(f"A {actor} cannot return a lead at {from_stage} to nurture.")
    if move.needs_reason and not reason.strip():
        raise MoveNeedsReason("Returning a lead to nurture needs a reason.")
    return move


def is_recycle(from_stage: str, to_stage: str) -> bool:
    """Whether a history row (from, to) returned the lead to nurture."""
    return to_stage == Stage.MQL and bool(from_stage) and recycle_move(from_stage) is not None
