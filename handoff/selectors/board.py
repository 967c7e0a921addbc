"""The pipeline board (/board/): a column per stage with its totals, cards paged per column, and
the moves each card offers its viewer.

A board costs the same few queries at any size: one GROUP BY over the visible leads for every
column's count and score totals (an index scan on (stage, ...) or, for a rep, on (owner,
stage)), and one UNION ALL of each column's first page (each arm an index scan on
(stage, -created_at) with a LIMIT). What a move does is decided by handoff.services.board;
the moves offered here are what the lifecycle and the hand-off would let the viewer do now.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import Http404

from accounts.models import Role, User
from handoff.models import Assignment, AssignmentStatus
from leads import lifecycle
from leads.models import Lead, SourceChannel, Stage
from leads.selectors import lead_list
from leads.services import actor_kind

PAGE_SIZE = 20  # cards a column shows, and loads each time "more" is asked for
MAX_PAGE = 500  # a page number beyond this is the last one worth asking for

STAGES = (
    Stage.IQL,
    Stage.MQL,
    Stage.PQL,
    Stage.SAL,
    Stage.SQL,
    Stage.CUSTOMER,
    Stage.DISQUALIFIED,
)
# Closed stages: their columns start collapsed (counted, cards loaded on demand).
CLOSED = (Stage.CUSTOMER, Stage.DISQUALIFIED)

# What a drop asks for before it is sent: nothing, a reason, a reject reason code, the
# discovery checklist.
NEEDS_NOTHING = ""
NEEDS_REASON = "reason"
NEEDS_REJECT = "reject"
NEEDS_CHECKLIST = "checklist"


@dataclass(frozen=True)
class BoardMove:
    to: str
    kind: str  # advance, accept, qualify, win, lost, reject, recycle, disqualify, reopen
    needs: str  # one of NEEDS_*
    label: str


@dataclass(frozen=True)
class Filters:
    owner: int | None = None
    source: str = ""

    @classmethod
    def parse(cls, params: Any) -> "Filters":
        """From the query string; anything unknown is ignored (the board shows everything)."""
        owner = params.get("owner", "")
        source = params.get("source", "")
        return cls(
            owner=int(owner) if owner.isdigit() else None,
            source=source if source in SourceChannel.values else "",
        )

    def query(self) -> str:
        parts = [f"owner={self.owner}"] if self.owner else []
        return "&".join(parts + ([f"source={self.source}"] if self.source else []))


@dataclass
class Column:
    stage: str
    label: str
    count: int = 0
    score_sum: int = 0
    score_avg: float | None = None
    closed: bool = False
    cards: list[Lead] = field(default_factory=list)
    more: bool = False  # another page of cards exists
    next_page: int = 2


@dataclass
class Board:
    columns: list[Column]
    filters: Filters
    owners: list[User]  # the owner filter's choices (empty for a rep)
    sources: list[tuple[str, str]]


def board_leads(*, user: User, filters: Filters) -> QuerySet[Lead]:
    """The leads on `user`'s board: what they may see (a rep: their own, and the pool in pool
    mode), narrowed by the filters."""
    leads = lead_list(user=user)
    if filters.owner:
        leads = leads.filter(owner_id=filters.owner)
    if filters.source:
        leads = leads.filter(source=filters.source)
    return leads


def board_totals(*, user: User, filters: Filters, stages=STAGES) -> dict[str, dict[str, Any]]:
    """Per stage: count, sum and average score of the visible leads; one GROUP BY, which reads
    only the (stage, score) index (COUNT(*), not of a column; the average from the two)."""
    rows = (
        board_leads(user=user, filters=filters)
        .filter(stage__in=list(stages))
        .order_by()
        .values("stage")
        .annotate(count=Count("*"), score_sum=Sum("score"))
    )
    totals = {stage: {"count": 0, "score_sum": 0, "score_avg": None} for stage in stages}
    for row in rows:
        count, score_sum = row["count"], row["score_sum"] or 0
        totals[row["stage"]] = {
            "count": count,
            "score_sum": score_sum,
            "score_avg": round(score_sum / count, 1) if count else None,
        }
    return totals


def _cards(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    pending = Assignment.objects.filter(lead=OuterRef("pk"), status=AssignmentStatus.PENDING)
    return (
        leads.select_related("owner")
        .annotate(pending_rep_id=Subquery(pending.values("rep_id")[:1]))
        .order_by("-created_at", "-id")
    )


def board_get(*, user: User, filters: Filters) -> Board:
    """The whole board: every column's totals, and the first page of cards of the open ones."""
    totals = board_totals(user=user, filters=filters)
    leads = board_leads(user=user, filters=filters)
    open_stages = [stage for stage in STAGES if stage not in CLOSED]
    # One query: each column's first page (and one more card, to know whether "more" exists).
    arms = [_cards(leads.filter(stage=stage))[: PAGE_SIZE + 1] for stage in open_stages]
    cards = list(arms[0].union(*arms[1:], all=True))
    by_stage: dict[str, list[Lead]] = {stage: [] for stage in STAGES}
    for lead in cards:
        by_stage[lead.stage].append(lead)
    columns = []
    for stage in STAGES:
        found = by_stage[stage]
        closed = stage in CLOSED
        columns.append(
            Column(
                stage=stage,
                label=Stage(stage).label,
                closed=closed,
                cards=_with_moves(found[:PAGE_SIZE], user),
                # A closed column's cards load when asked for (its first page is "more").
                more=totals[stage]["count"] > 0 if closed else len(found) > PAGE_SIZE,
                next_page=1 if closed else 2,
                **totals[stage],
            )
        )
    return Board(
        columns=columns,
        filters=filters,
        owners=_owners(user),
        sources=list(SourceChannel.choices),
    )


def board_column_page(
    *, user: User, filters: Filters, stage: str, page: int
) -> tuple[list[Lead], bool]:
    """One page of a column's cards (page 1 is the first) and whether another follows."""
    page = max(1, min(page, MAX_PAGE))
    start = (page - 1) * PAGE_SIZE
    leads = board_leads(user=user, filters=filters).filter(stage=stage)
    found = list(_cards(leads)[start : start + PAGE_SIZE + 1])
    return _with_moves(found[:PAGE_SIZE], user), len(found) > PAGE_SIZE


def board_card(*, user: User, lead_id: int) -> Lead:
    """One card, as the board shows it (Http404 when the user may not see the lead)."""
    lead = _cards(lead_list(user=user).filter(pk=lead_id)).first()
    if lead is None:
        raise Http404("No such lead.")
    return _with_moves([lead], user)[0]


def _owners(user: User) -> list[User]:
    if user.is_rep:
        return []
    return list(
        User.objects.filter(Q(role=Role.REP) | Q(role=Role.ADMIN), is_active=True).order_by(
            "username"
        )
    )


def _with_moves(leads: list[Lead], user: User) -> list[Lead]:
    for lead in leads:
        lead.board_moves = board_moves(lead=lead, user=user)  # type: ignore[attr-defined]
    return leads


# --- the moves a card offers ----------------------------------------------------------------

_KIND_LABELS = {
    "advance": "advance",
    "accept": "accept",
    "qualify": "qualify: discovery checklist",
    "win": "won: a customer",
    "lost": "lost",
    "reject": "reject",
    "recycle": "back to nurture",
    "disqualify": "disqualify",
    "reopen": "reopen",
}


def move_for(*, lead: Lead, to: str, user: User, pending_rep_id: int | None) -> BoardMove | None:
    """How a drop of `lead` on the column `to` is made (which decision, what it asks for), or
    None when the lifecycle has no such move. Whether `user` may make it is the services'
    decision (a refusal says why)."""
    if to not in Stage.values or lead.stage == to:
        return None
    move = lifecycle.MOVES.get((Stage(lead.stage), Stage(to)))
    if move is None:
        return None
    kind, needs = _decision(lead, to, move, user, pending_rep_id)
    return BoardMove(to=to, kind=kind, needs=needs, label=f"{to} ({_KIND_LABELS[kind]})")


def _decision(
    lead: Lead, to: str, move: lifecycle.Move, user: User, pending_rep_id: int | None
) -> tuple[str, str]:
    sales = user.is_rep or user.manages_sales
    if move.kind is lifecycle.MoveKind.ACCEPT:
        return "accept", NEEDS_NOTHING
    if move.kind is lifecycle.MoveKind.QUALIFY:
        return "qualify", NEEDS_CHECKLIST
    if move.kind is lifecycle.MoveKind.WIN:
        return "win", NEEDS_NOTHING
    if lead.stage == Stage.SQL and to == Stage.DISQUALIFIED and sales:
        return "lost", NEEDS_REASON
    # A lead handed to a rep and not yet accepted is turned down with a rejection (its reason
    # code is what marketing learns from), not a plain disqualify or recycle.
    if pending_rep_id is not None and sales and lead.stage in (Stage.MQL, Stage.PQL):
        return "reject", NEEDS_REJECT
    return str(move.kind), NEEDS_REASON if move.needs_reason else NEEDS_NOTHING


def board_moves(*, lead: Lead, user: User) -> list[BoardMove]:
    """The moves the card's "Move to…" control offers: those the lifecycle allows the viewer's
    role from the lead's stage; a rep's moves only on leads they own (on the pool's, accept)."""
    actor = actor_kind(user)
    pending = getattr(lead, "pending_rep_id", None)
    moves = []
    for to in lifecycle.allowed_targets(from_stage=lead.stage, actor=actor):
        if user.is_rep and lead.owner_id != user.pk and to != Stage.SAL:
            continue
        move = move_for(lead=lead, to=to, user=user, pending_rep_id=pending)
        if move is not None:
            moves.append(move)
    return moves
