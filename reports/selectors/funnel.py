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
from leads.journey import BIT, RECYCLED
from leads.models import Stage
from reports.params import ReportParams
from reports.selectors.cohort import (
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
REJECTION = Rejection._meta.db_table


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

# The stays that ended, every stage's in one aggregate row, each stage's two percentiles from
# one sort of its own (a FILTER, not a GROUP BY: no sort of every stay by stage first). The
# open stays are the leads whose last history row is into the stage: counted with the months.
_STAYS = ",\n        ".join(
    f"count(*) FILTER (WHERE sc.to_stage = '{stage}') AS {stage.lower()}_left, "
    f"percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY date_part('epoch', "
    f"sc.left_at - sc.changed_at)) FILTER (WHERE sc.to_stage = '{stage}') "
    f"AS {stage.lower()}_percentiles"
    for stage, _ in STAGES
)
_OPEN = ",\n        ".join(
    f"count(*) FILTER (WHERE last_stage = '{stage}') AS {stage.lower()}_open" for stage, _ in STAGES
)

# The cohort's journeys (`per_lead`: one narrow row a lead, what its history adds up to) read
# three times: the counts a month (a hash of a dozen groups; the period's are their sums), the
# velocity over the few leads that got to SQL, and the stays: the cohort's history rows, each
# stay ending at the row's `left_at` (the lead's next row; NULL while the lead is still there).
_SQL = f"""
WITH per_lead AS NOT MATERIALIZED (
    SELECT c.id AS lead_id, c.month, c.mask, c.last_stage, c.iql_at, c.sql_at, c.customer_at,
        c.mask & {_QUALIFIED} <> 0 AND c.id IN (SELECT r.lead_id FROM {REJECTION} AS r) AS rejected
    FROM ({{cohort}}) AS c
),
months AS (
    SELECT month, count(*) AS leads,
        {_COUNTS},
        {_OPEN}
    FROM per_lead
    GROUP BY month
),
velocity AS (
    SELECT count(*) FILTER (WHERE sql_at >= iql_at) AS to_sql_leads,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', sql_at - iql_at))
            FILTER (WHERE sql_at >= iql_at) AS to_sql_median,
        count(*) FILTER (WHERE customer_at >= iql_at) AS to_customer_leads,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', customer_at - iql_at))
            FILTER (WHERE customer_at >= iql_at) AS to_customer_median
    FROM per_lead
    WHERE sql_at >= iql_at OR customer_at >= iql_at
),
stays AS (
    SELECT {_STAYS}
    FROM per_lead JOIN {STAGE_CHANGE} AS sc ON sc.lead_id = per_lead.lead_id
    WHERE sc.left_at IS NOT NULL
)
SELECT (SELECT coalesce(json_agg(months ORDER BY month), '[]') FROM months),
    (SELECT row_to_json(velocity) FROM velocity),
    (SELECT row_to_json(stays) FROM stays)
"""
# The counts that add up across months to the period's (all but the month and the velocity).
_SUMMED = (
    "leads",
    *(line.rsplit(" AS ", 1)[1] for line in [*_COUNTS.split(",\n"), *_OPEN.split(",\n")]),
)


def funnel_report_authorize(*, user: User) -> None:
    """Marketers, sales managers and admins read the funnel; reps do not."""
    if not user.sees_all_leads:
        raise Forbidden("The funnel is for marketers, sales managers and admins.")


def _query(params: ReportParams) -> tuple[dict, list[dict], dict]:
    month = "date_trunc('month', j.created_at AT TIME ZONE %(tz)s) AS month"
    columns = f", {month}, j.last_stage, j.iql_at, j.sql_at, j.customer_at"
    cohort, values = cohort_sql(params, columns=columns)
    values |= {"tz": time_zone_name()}
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner's estimates over a whole history make JIT compile for longer than the
        # statement runs; the sorts of the percentiles fit in memory with a little more.
        cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '32MB'")
        cursor.execute(_SQL.format(cohort=cohort), values)
        months, velocity, stays = cursor.fetchone()
    total = {key: sum(month[key] for month in months) for key in _SUMMED}
    return total | velocity, months, stays


def _stage_row(stage: Stage, nexts: tuple[Stage, ...], counts: dict, stays: dict) -> dict:
    reached = counts[stage.lower()]
    converted = counts[f"{stage.lower()}_on"] if nexts else None
    key = stage.lower()
    median, p90 = stays[f"{key}_percentiles"] or (None, None)
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
        "median_days_in_stage": days(median),
        "p90_days_in_stage": days(p90),
        "stays_measured": stays[f"{key}_left"],
        "in_stage_now": counts[f"{key}_open"],
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
    total, months, stays = _query(params)
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
        "cohorts": _cohorts(params, months),
    }
