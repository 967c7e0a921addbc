"""Reads for routing: the rules, the reps' room, which leads wait to be routed."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import (
    Count,
    Exists,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from accounts.models import Role, User
from core.errors import Forbidden
from handoff import matching
from handoff.models import Assignment, AssignmentStatus, RoutingRule
from leads.models import Lead, Stage, StageChange

HANDOFF_STAGES = (Stage.MQL, Stage.PQL)
# A rep's load: the leads they own that are still with sales (assigned, accepted, qualified).
OPEN_STAGES = (Stage.MQL, Stage.PQL, Stage.SAL, Stage.SQL)
OPEN_STATUSES = (AssignmentStatus.PENDING, AssignmentStatus.ACCEPTED)
# Moves that make a lead newly worth routing after a rep sent it back to nurture.
_ADVANCES = Q(from_stage__in=["", Stage.IQL], to_stage__in=HANDOFF_STAGES) | Q(
    from_stage=Stage.MQL, to_stage=Stage.PQL
)


def routing_setup_authorize(*, user: User) -> None:
    """Routing settings and rules: sales managers and admins read and write them."""
    if not user.manages_sales:
        raise Forbidden("Only sales managers and admins see and change routing.")


def routing_rule_list(*, user: User) -> QuerySet[RoutingRule]:
    routing_setup_authorize(user=user)
    # The reps of the whole page in one query.
    return RoutingRule.objects.order_by("position").prefetch_related("reps")


def routing_rule_get(*, user: User, rule_id) -> RoutingRule:
    try:
        return routing_rule_list(user=user).get(pk=rule_id)
    except (RoutingRule.DoesNotExist, ValueError, TypeError):
        raise Http404("No such routing rule.") from None


def routing_rules_active() -> list[matching.Rule]:
    """The active rules by position, as routing reads them (two queries)."""
    rows = RoutingRule.objects.filter(is_active=True).order_by("position")
    return [
        matching.Rule(
            id=row.pk,
            rep_ids=tuple(sorted(rep.pk for rep in row.reps.all())),
            is_default=row.is_default,
            countries=frozenset(c.strip().casefold() for c in row.countries),
            size_min=row.size_min,
            size_max=row.size_max,
            sources=frozenset(row.sources),
            stages=frozenset(row.stages),
            score_min=row.score_min,
            score_max=row.score_max,
        )
        for row in rows.prefetch_related("reps")
    ]


def reps_available_q(now: datetime) -> Q:
    """Active sales reps who are not away at `now` (an `away_until` at or before now: back)."""
    return Q(is_active=True, role=Role.REP, is_superuser=False) & (
        Q(is_away=False) | Q(away_until__lte=now)
    )


def rep_load(*, rep_id: int) -> int:
    return Lead.objects.filter(owner_id=rep_id, stage__in=OPEN_STAGES).count()


def rep_slots(*, rep_ids, now: datetime) -> dict[int, matching.RepSlot]:
    """The available reps among `rep_ids` with their load and last assignment (one query)."""
    load = (
        Lead.objects.filter(owner_id=OuterRef("pk"), stage__in=OPEN_STAGES)
        .values("owner_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    last = (
        Assignment.objects.filter(rep_id=OuterRef("pk"))
        .values("rep_id")
        .annotate(at=Max("assigned_at"))
        .values("at")
    )
    rows = (
        User.objects.filter(reps_available_q(now), pk__in=list(rep_ids))
        .annotate(
            load=Coalesce(Subquery(load, output_field=IntegerField()), Value(0)),
            last_at=Subquery(last),
        )
        .values(
            "pk",
            "capacity",
            "load",
            "last_at",
            "territory_countries",
            "territory_size_min",
            "territory_size_max",
        )
    )
    return {row["pk"]: _slot(row) for row in rows}


def _slot(row: Mapping[str, Any]) -> matching.RepSlot:
    return matching.RepSlot(
        id=row["pk"],
        capacity=row["capacity"],
        load=row["load"],
        last=(row["last_at"], 0) if row["last_at"] else None,
        countries=frozenset(c.strip().casefold() for c in row["territory_countries"]),
        size_min=row["territory_size_min"],
        size_max=row["territory_size_max"],
    )


def lapsed_reps(*, lead_ids) -> dict[int, set[int]]:
    """lead id -> the reps who let it lapse (a REASSIGNED assignment): never routed back."""
    lapsed: dict[int, set[int]] = {}
    rows = Assignment.objects.filter(
        lead_id__in=list(lead_ids), status=AssignmentStatus.REASSIGNED
    ).values_list("lead_id", "rep_id")
    for lead_id, rep_id in rows:
        lapsed.setdefault(lead_id, set()).add(rep_id)
    return lapsed


def _sent_back_to_nurture() -> tuple[Exists, Exists]:
    """Leads a rep sent back to nurture, not to be routed again until a rule advances them:
    the latest stage change recycled the lead to MQL, or its latest assignment ended as
    REJECTED with no advance (IQL -> MQL/PQL, MQL -> PQL) since."""
    later_change = StageChange.objects.filter(lead_id=OuterRef("lead_id"), id__gt=OuterRef("id"))
    recycled = StageChange.objects.filter(
        ~Exists(later_change),
        lead_id=OuterRef("pk"),
        to_stage=Stage.MQL,
        from_stage__in=[Stage.PQL, Stage.SAL, Stage.SQL],
    )
    later = Assignment.objects.filter(lead_id=OuterRef("lead_id"), id__gt=OuterRef("id"))
    advanced = StageChange.objects.filter(
        _ADVANCES, lead_id=OuterRef("lead_id"), changed_at__gt=OuterRef("rejected_at")
    )
    rejected = (
        Assignment.objects.filter(lead_id=OuterRef("pk"), status=AssignmentStatus.REJECTED)
        .annotate(rejected_at=Coalesce("decided_at", "ended_at", "assigned_at"))
        .filter(~Exists(later), ~Exists(advanced))
    )
    return Exists(recycled), Exists(rejected)


def routable_q() -> Q:
    """Leads waiting to be routed (the pool): MQL/PQL, nobody owns them, no open assignment,
    contact allowed, and not sent back to nurture by a rep (see _sent_back_to_nurture)."""
    open_assignment = Assignment.objects.filter(lead_id=OuterRef("pk"), status__in=OPEN_STATUSES)
    recycled, rejected = _sent_back_to_nurture()
    return Q(
        ~Exists(open_assignment),
        ~recycled,
        ~rejected,
        owner__isnull=True,
        stage__in=HANDOFF_STAGES,
        do_not_contact=False,
    )


def pool_size() -> int:
    return Lead.objects.filter(routable_q()).count()
