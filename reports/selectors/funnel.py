"""The cohort funnel, read from the stage history in one SQL statement.

The cohort is the leads created in the period (and matching the filters). Each counts once in
every stage it reached (a history row into the stage), wherever it is now: a lead sales
recycled back to MQL, or one disqualified after SQL, still counts in SAL and SQL. So the funnel
does not shrink as leads move on or fall out, and it never counts a lead twice in a stage.

Per stage:

- `reached`: the cohort's leads with a history row into the stage;
- `converted` / `conversion_to_next`: of those, the leads that also reached the next stage;
  MQL and PQL are parallel paths into SAL (scoring makes a lead MQL, product use PQL, and a lead
  may be both), so IQL's next stage is "MQL or PQL", and MQL and PQL each convert to SAL. The
  `qualified` figure ("MQL or PQL": either path) converts to SAL too, without counting a lead
  that took both paths twice;
- `conversion_from_top`: `reached` over the cohort's size;
- `dropped` / `drop_off_rate`: reached but never reached the next stage (yet);
- days in stage: each stay (a history row into the stage, until the lead's next row) counts,
  so a lead recycled into MQL twice gives MQL three stays. The median and 90th percentile are
  over the stays that ended: an open stay has no length yet (counting it up to now would make
  young cohorts look fast, and its eventual length is unknown); `in_stage_now` says how many
  are open, so a reader sees how much the figure leaves out.

Velocity: days from the first entry into IQL to the first into SQL (and into CUSTOMER), median
over the leads that got there. Recycle rate: qualified leads (MQL or PQL) sales handed back to
nurture at least once (a recycle history row, `leads.lifecycle.is_recycle`); rejection rate:
qualified leads a rep rejected at least once (a `handoff.Rejection`). Monthly cohorts: the same
counts per month of creation, in the site's time zone.
"""

from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from core.errors import Forbidden
from handoff.models import Rejection
from leads.models import Stage
from reports.params import ReportParams
from reports.selectors.cohort import (
    BIT,
    RECYCLE_FROM,
    RECYCLED,
    STAGE_BIT,
    STAGE_CHANGE,
    cohort_sql,
    days,
    has,
    rate,
    time_zone_name,
)

# (stage, the stages that count as its next one)
STAGES: tuple[tuple[Stage, tuple[Stage, ...]], ...] = (
    (Stage.IQL, (Stage.MQL, Stage.PQL)),
    (Stage.MQL, (Stage.SAL,)),
    (Stage.PQL, (Stage.SAL,)),
    (Stage.SAL, (Stage.SQL,)),
    (Stage.SQL, (Stage.CUSTOMER,)),
    (Stage.CUSTOMER, ()),
)

_QUALIFIED = BIT[Stage.MQL] | BIT[Stage.PQL]


def _reached_next(stage: Stage, nexts: tuple[Stage, ...]) -> str:
    if len(nexts) == 1:
        return has(stage, *nexts)
    return f"{has(stage)} AND mask & {_QUALIFIED} <> 0"


_COUNTS = ",\n        ".join(
    [
        *(f"count(*) FILTER (WHERE {has(stage)}) AS {stage.lower()}" for stage, _ in STAGES),
        *(
            f"count(*) FILTER (WHERE {_reached_next(stage, nexts)}) AS {stage.lower()}_on"
            for stage, nexts in STAGES
            if nexts
        ),
        f"count(*) FILTER (WHERE mask & {_QUALIFIED} <> 0) AS qualified",
        f"count(*) FILTER (WHERE mask & {_QUALIFIED} <> 0 AND {has(Stage.SAL)}) AS qualified_on",
        f"count(*) FILTER (WHERE mask & {_QUALIFIED} <> 0 AND mask & {RECYCLED} <> 0) AS recycled",
        f"count(*) FILTER (WHERE mask & {_QUALIFIED} <> 0 AND rejected) AS rejected",
        f"count(*) FILTER (WHERE {has(Stage.DISQUALIFIED)}) AS disqualified",
    ]
)

# One aggregate row for every stage's stays, each percentile over its own stage's rows (a
# FILTER, not a GROUP BY: no sort of every stay by stage first).
_STAYS = ",\n        ".join(
    f"count(seconds) FILTER (WHERE to_stage = '{stage}') AS {stage.lower()}_left, "
    f"count(*) FILTER (WHERE to_stage = '{stage}' AND seconds IS NULL) AS {stage.lower()}_open, "
    f"percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE to_stage = '{stage}') "
    f"AS {stage.lower()}_median, "
    f"percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE to_stage = '{stage}') "
    f"AS {stage.lower()}_p90"
    for stage, _ in STAGES
)

# One pass over the cohort's history (`moves`, each row with the length of the stay it
# starts), folded per lead (`per_lead`) for the counts and read row by row for the stays. An
# inner join: every lead has its creation row (and the join in lead order lets PostgreSQL
# walk the history index without sorting it).
_SQL = f"""
WITH moves AS MATERIALIZED (
    SELECT c.id AS lead_id, c.month, sc.to_stage, sc.changed_at,
        {STAGE_BIT} | CASE WHEN sc.to_stage = 'MQL' AND sc.from_stage = ANY(%(recycle_from)s)
            THEN {RECYCLED} ELSE 0 END AS bits,
        extract(epoch FROM lead(sc.changed_at) OVER (
            PARTITION BY sc.lead_id ORDER BY sc.changed_at, sc.id) - sc.changed_at) AS seconds
    FROM ({{cohort}}) AS c JOIN {STAGE_CHANGE} AS sc ON sc.lead_id = c.id
),
per_lead AS (
    SELECT lead_id, min(month) AS month, bit_or(bits) AS mask,
        min(changed_at) FILTER (WHERE to_stage = 'IQL') AS iql_at,
        min(changed_at) FILTER (WHERE to_stage = 'SQL') AS sql_at,
        min(changed_at) FILTER (WHERE to_stage = 'CUSTOMER') AS customer_at,
        EXISTS (SELECT 1 FROM {Rejection._meta.db_table} AS r WHERE r.lead_id = moves.lead_id)
            AS rejected
    FROM moves
    GROUP BY lead_id
),
counts AS (
    SELECT GROUPING(month) AS total, month, count(*) AS leads,
        {_COUNTS},
        count(*) FILTER (WHERE sql_at >= iql_at) AS to_sql_leads,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sql_at - iql_at))
            FILTER (WHERE sql_at >= iql_at) AS to_sql_median,
        count(*) FILTER (WHERE customer_at >= iql_at) AS to_customer_leads,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM customer_at - iql_at))
            FILTER (WHERE customer_at >= iql_at) AS to_customer_median
    FROM per_lead
    GROUP BY GROUPING SETS ((), (month))
),
stays AS (
    SELECT {_STAYS}
    FROM moves
)
SELECT (SELECT json_agg(counts ORDER BY total DESC, month) FROM counts),
    (SELECT row_to_json(stays) FROM stays)
"""


def funnel_report_authorize(*, user: User) -> None:
    """Marketers, sales managers and admins read the funnel; reps do not."""
    if not user.sees_all_leads:
        raise Forbidden("The funnel is for marketers, sales managers and admins.")


def _query(params: ReportParams) -> tuple[list[dict], dict]:
    month = "date_trunc('month', l.created_at AT TIME ZONE %(tz)s) AS month"
    cohort, values = cohort_sql(params, columns=f", {month}")
    values |= {"tz": time_zone_name(), "recycle_from": RECYCLE_FROM}
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner's estimates over a whole history make JIT compile for longer than the
        # statement runs; the sorts of the percentiles fit in memory with a little more.
        cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '32MB'")
        cursor.execute(_SQL.format(cohort=cohort), values)
        counts, stays = cursor.fetchone()
    return counts, stays


def _stage_row(stage: Stage, nexts: tuple[Stage, ...], counts: dict, stays: dict) -> dict:
    reached = counts[stage.lower()]
    converted = counts[f"{stage.lower()}_on"] if nexts else None
    key = stage.lower()
    return {
        "stage": stage.value,
        "label": stage.label,
        "reached": reached,
        "next_stages": [next_stage.value for next_stage in nexts],
        "converted": converted,
        "conversion_to_next": rate(converted, reached) if converted is not None else None,
        "conversion_from_top": rate(reached, counts["leads"]),
        "dropped": reached - converted if converted is not None else None,
        "drop_off_rate": rate(reached - converted, reached) if converted is not None else None,
        "median_days_in_stage": days(stays[f"{key}_median"]),
        "p90_days_in_stage": days(stays[f"{key}_p90"]),
        "stays_measured": stays[f"{key}_left"],
        "in_stage_now": stays[f"{key}_open"],
    }


def _share(count: int, whole: int) -> dict:
    return {"leads": count, "rate": rate(count, whole)}


def _velocity(counts: dict, name: str) -> dict:
    return {"leads": counts[f"{name}_leads"], "median_days": days(counts[f"{name}_median"])}


def _month_row(counts: dict) -> dict:
    reached = {stage.value: counts[stage.lower()] for stage, _ in STAGES}
    return {
        "month": date.fromisoformat(counts["month"][:10]),
        "leads": counts["leads"],
        "reached": reached,
        "qualified": counts["qualified"],
        "from_top": {stage: rate(count, counts["leads"]) for stage, count in reached.items()},
        "qualified_from_top": rate(counts["qualified"], counts["leads"]),
    }


def _months(start: datetime, end: datetime) -> list[date]:
    """The first day of every month the period touches, in the site's time zone."""
    first = timezone.localtime(start).date().replace(day=1)
    last = timezone.localtime(end - timedelta(microseconds=1)).date()
    months, index = [], first.year * 12 + first.month - 1
    while index <= last.year * 12 + last.month - 1:
        months.append(date(index // 12, index % 12 + 1, 1))
        index += 1
    return months


def _cohorts(params: ReportParams, rows: list[dict]) -> list[dict]:
    """One row a month of the period, months without leads included (as zeros)."""
    by_month = {row["month"]: row for row in map(_month_row, rows)}
    empty = {"leads": 0, "qualified": 0, **{stage.lower(): 0 for stage, _ in STAGES}}
    return [
        by_month.get(month) or _month_row({**empty, "month": month.isoformat()})
        for month in _months(params.start, params.end)
    ]


def funnel_report(*, user: User, params: ReportParams) -> dict[str, Any]:
    """The funnel of the cohort `params` selects: see the module's docstring."""
    funnel_report_authorize(user=user)
    counts, stays = _query(params)
    total = counts[0]  # GROUPING SETS' () row comes first, and always comes (zeros when empty)
    leads = total["leads"]
    return {
        "from": params.start,
        "to": params.end,
        "leads": leads,
        "stages": [_stage_row(stage, nexts, total, stays) for stage, nexts in STAGES],
        "qualified": {
            **_share(total["qualified"], leads),
            "converted": total["qualified_on"],
            "conversion_to_next": rate(total["qualified_on"], total["qualified"]),
        },
        "velocity": {
            "iql_to_sql": _velocity(total, "to_sql"),
            "iql_to_customer": _velocity(total, "to_customer"),
        },
        "recycled": _share(total["recycled"], total["qualified"]),
        "rejected": _share(total["rejected"], total["qualified"]),
        "disqualified": _share(total["disqualified"], leads),
        "cohorts": _cohorts(params, counts[1:]),
    }
