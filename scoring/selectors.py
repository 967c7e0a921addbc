"""Reads of scoring: rules, a lead's score breakdown, re-score jobs, and the simulation."""

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from core.errors import Forbidden
from leads.models import Lead, Stage
from leads.selectors import lead_get
from scoring import rules
from scoring.engine import Scope, derive, pql
from scoring.models import (
    LedgerEntry,
    RescoreJob,
    RuleVersion,
    ScoringRule,
    ScoringSettings,
    SimulationJob,
)


def rules_active() -> list[rules.RuleDef]:
    """The current versions of the active rules, as pure definitions."""
    rows = ScoringRule.objects.filter(is_active=True, current_version__isnull=False)
    rows = rows.select_related("current_version").order_by("id")
    return [row.version.as_def(name=row.name) for row in rows]


def rule_list(*, kind: str | None = None, is_active: bool | None = None) -> QuerySet:
    rows = ScoringRule.objects.select_related("current_version").order_by("id")
    if kind:
        rows = rows.filter(current_version__kind=kind)
    if is_active is not None:
        rows = rows.filter(is_active=is_active)
    return rows


def rule_get(*, rule_id) -> ScoringRule:
    return rule_list().get(pk=rule_id)


def rule_versions(*, rule: ScoringRule) -> QuerySet[RuleVersion]:
    return rule.versions.select_related("created_by").order_by("-number")


def scoring_settings_get() -> ScoringSettings:
    """The settings row; unsaved defaults if none was ever written."""
    return ScoringSettings.objects.filter(pk=1).first() or ScoringSettings(pk=1)


def rescore_job_list() -> QuerySet[RescoreJob]:
    return RescoreJob.objects.select_related("created_by").order_by("-created_at", "-id")


def lead_score_breakdown(
    *, user: User, lead_id, soon_days: int = 7, now: datetime | None = None
) -> dict[str, Any]:
    """Per rule: how often it fired, the points it gives now, and what expires within
    `soon_days`. Visible to whoever may see the lead (Http404 otherwise)."""
    lead = lead_get(user=user, lead_id=lead_id)
    return lead_score_breakdown_of(lead=lead, soon_days=soon_days, now=now)


def lead_score_breakdown_of(
    *, lead: Lead, soon_days: int = 7, now: datetime | None = None
) -> dict[str, Any]:
    """`lead_score_breakdown` of a lead the caller has already loaded for a user who may see
    it (the lead's page): one query, the ledger grouped by rule."""
    now = now or timezone.now()
    soon = now + timedelta(days=soon_days)
    live = Q(is_live=True)
    expiring = live & Q(expires_at__isnull=False, expires_at__lte=soon)
    rows = (
        LedgerEntry.objects.filter(lead=lead)
        .values("rule_id", "rule__name")
        .annotate(
            times_fired=Count("id"),
            live_times=Count("id", filter=live),
            live_points=Coalesce(Sum("points", filter=live), 0),
            expired_points=Coalesce(Sum("points", filter=~live), 0),
            expiring_points=Coalesce(Sum("points", filter=expiring), 0),
            next_expiry=Min("expires_at", filter=live),
            last_fired_at=Max("occurred_at"),
        )
        .order_by("-live_points", "rule_id")
    )
    breakdown = [
        {
            "rule": row["rule_id"],
            "name": row["rule__name"],
            "times_fired": row["times_fired"],
            "live_times": row["live_times"],
            "points": row["live_points"],
            "expired_points": row["expired_points"],
            "expiring_soon_points": row["expiring_points"],
            "next_expiry": row["next_expiry"],
            "last_fired_at": row["last_fired_at"],
        }
        for row in rows
    ]
    return {
        "lead": lead.pk,
        "score": lead.score,
        "temperature": lead.temperature,
        "stage": lead.stage,
        "expiring_soon": {
            "within_days": soon_days,
            "points": sum(r["expiring_soon_points"] for r in breakdown),
        },
        "rules": breakdown,
    }


def lead_score_section(lead: Lead, user: User) -> dict[str, Any]:
    """The score on the lead's page (a `core.hooks.lead_page_sections` receiver): the lead's
    score and temperature, which rules gave which points, and what expires within a week."""
    return {
        "template": "scoring/_lead_score.html",
        "context": lead_score_breakdown_of(lead=lead),
    }


def lead_score_timeline_items(lead: Lead, limit: int = 200) -> list[dict[str, Any]]:
    """The lead's point changes for its timeline (a `core.hooks.lead_timeline_items` receiver)."""
    rows = LedgerEntry.objects.filter(lead=lead).select_related("rule", "event")
    return [
        {
            "kind": "score",
            "at": row.occurred_at,
            "title": f"{row.points:+d} {row.rule.name}",
            "detail": {
                "rule": row.rule_id,
                "version": row.version_id,
                "event": row.event_id,
                "points": row.points,
                "expires_at": row.expires_at.isoformat() if row.expires_at else None,
                "live": row.is_live,
            },
        }
        for row in rows.order_by("-occurred_at", "-id")[:limit]
    ]


# --- try before publishing ------------------------------------------------------------------


def scoring_simulate_authorize(*, user: User) -> None:
    """Simulating draft rules is marketing's (marketers and admins)."""
    if user.is_rep:
        raise Forbidden("A sales rep may not simulate scoring over every lead.")
    if not user.does_marketing:
        raise Forbidden("Only marketers and admins simulate scoring rules.")


def simulation_job_list() -> QuerySet[SimulationJob]:
    return SimulationJob.objects.select_related("created_by").order_by("-created_at", "-id")


# Score buckets of the before/after histogram: below 0, then 10 points wide up to 100+.
HISTOGRAM_WIDTH = 10
HISTOGRAM_TOP = 100


class SimulationCancelled(Exception):
    """The `progress` callback of a simulation asked it to stop."""


def scoring_simulate(
    *,
    draft: list[rules.RuleDef],
    thresholds: rules.Thresholds,
    now: datetime | None = None,
    limit: int = 100,
    chunk: int = 10000,
    progress: Callable[[int], bool] | None = None,
) -> dict[str, Any]:
    """What `draft` and `thresholds` would do to every lead, changing nothing.

    Works chunk by chunk over the leads with the re-score's own SELECTs (so the answer is the
    one a re-score would give), each chunk inside a transaction that is always rolled back.
    After each chunk `progress(leads done)` is called; when it answers False the simulation
    stops with SimulationCancelled.
    """
    now = now or timezone.now()
    # Draft rules have no ids yet; the derivation tells rules apart by version id (-1, -2, ...).
    draft = [
        rules.RuleDef(**{**r.__dict__, "rule_id": -i, "version_id": -i})
        for i, r in enumerate(draft, 1)
    ]
    tally = _Tally(limit=limit, rules=draft, mql_threshold=thresholds.mql_threshold)
    for scope, leads in _lead_chunks(chunk):
        with transaction.atomic(), connection.cursor() as cursor:
            points = derive.points_under(cursor, draft, scope, now)
            to_pql = set(pql.candidates(cursor, scope, thresholds.pql_conditions))
            transaction.set_rollback(True)
        scores = tally.rule_points(points)
        for lead_id, email, stage, score in leads:
            new_score = scores.get(lead_id, 0)
            new_stage = rules.next_stage(
                stage=stage, score=new_score, pql=lead_id in to_pql, thresholds=thresholds
            )
            tally.add((lead_id, email, stage, score, new_score, new_stage))
        if progress is not None and not progress(tally.totals["leads"]):
            raise SimulationCancelled
    return tally.result()


class _Tally:
    """The simulation's running totals: stages, the score histogram before and after, and the
    points each draft rule gives."""

    def __init__(self, *, limit: int, rules: list[rules.RuleDef], mql_threshold: int):
        self.limit = limit
        self.mql_threshold = mql_threshold
        self.totals = {
            "leads": 0,
            "score_changes": 0,
            "mql": 0,
            "pql": 0,
            "changes": 0,
            "drop_below_mql": 0,
        }
        self.changes: list[dict[str, Any]] = []
        self.drops: list[dict[str, Any]] = []
        self.before: Counter[int] = Counter()
        self.after: Counter[int] = Counter()
        self.rules = rules
        self.rule_points_total: Counter[int] = Counter()
        self.rule_leads: Counter[int] = Counter()

    def rule_points(self, points: list[tuple[int, int, int]]) -> dict[int, int]:
        scores: dict[int, int] = {}
        for lead_id, version_id, given in points:
            scores[lead_id] = scores.get(lead_id, 0) + given
            self.rule_points_total[version_id] += given
            self.rule_leads[version_id] += given != 0
        return scores

    def add(self, row: tuple) -> None:
        lead_id, email, stage, score, new_score, new_stage = row
        totals = self.totals
        totals["leads"] += 1
        totals["score_changes"] += new_score != score
        totals["mql"] += new_stage == Stage.MQL
        totals["pql"] += new_stage == Stage.PQL
        self.before[_bucket(score)] += 1
        self.after[_bucket(new_score)] += 1
        # Scoring only moves leads forward: an MQL whose score would fall below the threshold
        # stays an MQL, but would no longer qualify. The preview calls these "drop back".
        if stage == Stage.MQL and new_score < self.mql_threshold <= score:
            totals["drop_below_mql"] += 1
            if len(self.drops) < self.limit:
                self.drops.append(
                    {"id": lead_id, "email": email, "score": score, "would_score": new_score}
                )
        if new_stage == stage:
            return
        totals["changes"] += 1
        if len(self.changes) < self.limit:
            self.changes.append(
                {
                    "id": lead_id,
                    "email": email,
                    "stage": stage,
                    "would_be": new_stage,
                    "score": score,
                    "would_score": new_score,
                }
            )

    def result(self) -> dict[str, Any]:
        return {
            **self.totals,
            "changed_leads": self.changes,
            "changed_leads_truncated": self.totals["changes"] > self.limit,
            "dropped_leads": self.drops,
            "histogram": _histogram(self.before, self.after),
            "rules": [
                {
                    "index": i,
                    "name": rule.name,
                    "points": self.rule_points_total[rule.version_id],
                    "leads": self.rule_leads[rule.version_id],
                }
                for i, rule in enumerate(self.rules)
            ],
        }


def _bucket(score: int) -> int:
    """The histogram bucket of a score: -1 below 0, then 0, 10, ... up to HISTOGRAM_TOP."""
    if score < 0:
        return -1
    return min(score // HISTOGRAM_WIDTH * HISTOGRAM_WIDTH, HISTOGRAM_TOP)


def _histogram(before: Counter[int], after: Counter[int]) -> list[dict[str, Any]]:
    buckets = [-1, *range(0, HISTOGRAM_TOP + 1, HISTOGRAM_WIDTH)]
    out = []
    for low in buckets:
        if low == -1:
            label = "below 0"
        elif low == HISTOGRAM_TOP:
            label = f"{HISTOGRAM_TOP}+"
        else:
            label = f"{low}–{low + HISTOGRAM_WIDTH - 1}"
        out.append({"bucket": label, "before": before[low], "after": after[low]})
    return out


def _lead_chunks(size: int):
    """Every lead as (id, email, stage, score), `size` at a time in id order, each chunk with
    the scope of its ids."""
    last = 0
    while True:
        leads = list(
            Lead.objects.filter(id__gt=last)
            .order_by("id")
            .values_list("id", "email", "stage", "score")[:size]
        )
        if not leads:
            return
        yield Scope(after=last, upto=leads[-1][0]), leads
        last = leads[-1][0]


def rule_overview() -> list[dict[str, Any]]:
    """Every rule for the rules page: its sentence, version, and what it gives now (leads it
    scores, live points), in two queries."""
    given: dict[int, dict[str, Any]] = {
        row["rule_id"]: dict(row)
        for row in LedgerEntry.objects.filter(is_live=True)
        .values("rule_id")
        .annotate(leads=Count("lead_id", distinct=True), points=Sum("points"))
    }
    out = []
    for rule in rule_list():
        version = rule.current_version
        stats: dict[str, Any] = given.get(rule.pk, {})
        out.append(
            {
                "rule": rule,
                "sentence": rules.describe(version.as_def()) if version else "",
                "version": version.number if version else 0,
                "leads": stats.get("leads", 0),
                "points": stats.get("points", 0) or 0,
            }
        )
    return out
