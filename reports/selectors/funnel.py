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

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from core.errors import Forbidden
from core.periods import day_start
from handoff.models import Rejection
from leads.journey import RECYCLED
from leads.models import Stage
from reports.params import ReportParams
from reports.selectors.cohort import (
    CONVERTED,
    STAGE_CHANGE,
    VELOCITY,
    bits,
    cohort_sql,
    days,
    rate,
    whole_period,
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

_QUALIFIED = bits(Stage.MQL, Stage.PQL)
REJECTION = Rejection._meta.db_table


def _has(mask: int, *stages: Stage) -> bool:
    """The lead's `mask` has every one of `stages` (reports.selectors.cohort.has, in Python)."""
    wanted = bits(*stages)
    return mask & wanted == wanted


def _reached_next(mask: int, stage: Stage, nexts: tuple[Stage, ...]) -> bool:
    if len(nexts) == 1:
        return _has(mask, stage, *nexts)
    return _has(mask, stage) and bool(mask & _QUALIFIED)


# Every count of the funnel but one, as a test of one group of leads: its mask (the stages
# reached, and the recycle bit) and the stage of its last history row. SQL groups the cohort by
# those and its month (a few hundred groups, one count each); the groups are folded here. The
# one left, the qualified leads a rep rejected, is counted in SQL from the rejections (few).
Counter = Callable[[int, str], bool]  # (mask, last stage) -> counts?


def _reached(stage: Stage) -> Counter:
    return lambda mask, _last: _has(mask, stage)


def _converted(stage: Stage, nexts: tuple[Stage, ...]) -> Counter:
    return lambda mask, _last: _reached_next(mask, stage, nexts)


def _there_now(stage: Stage) -> Counter:
    return lambda _mask, last: last == stage


_COUNTERS: dict[str, Counter] = {
    **{stage.lower(): _reached(stage) for stage, _ in STAGES},
    **{f"{stage.lower()}_on": _converted(stage, nexts) for stage, nexts in STAGES if nexts},
    "qualified": lambda m, _last: bool(m & _QUALIFIED),
    "qualified_on": lambda m, _last: bool(m & _QUALIFIED) and _has(m, Stage.SAL),
    "recycled": lambda m, _last: bool(m & _QUALIFIED) and bool(m & RECYCLED),
    "disqualified": lambda m, _last: _has(m, Stage.DISQUALIFIED),
    # The open stays: the leads whose last history row is into the stage.
    **{f"{stage.lower()}_open": _there_now(stage) for stage, _ in STAGES},
}


def _fold(groups: list[dict], month_starts: list[date]) -> list[dict]:
    """The groups' counts, a row a month (in month order), each with its `leads`. A group's
    month is its index in `month_starts`."""
    months: dict[int, dict] = {}
    for group in groups:
        index = group["month"]
        row = months.setdefault(
            index,
            {
                "month": month_starts[index].isoformat(),
                "leads": 0,
                **dict.fromkeys(_COUNTERS, 0),
            },
        )
        row["leads"] += group["leads"]
        for name in _counted_in(group["mask"], group["last_stage"]):
            row[name] += group["leads"]
    return [months[index] for index in sorted(months)]


@cache
def _counted_in(mask: int, last_stage: str) -> tuple[str, ...]:
    """The counts a group of leads adds to (a few hundred kinds of group, tested once each)."""
    return tuple(name for name, counts in _COUNTERS.items() if counts(mask, last_stage))


# The stays that ended, every stage's in one aggregate row, each stage's two percentiles from
# one sort of its own (a FILTER, not a GROUP BY: no sort of every stay by stage first), of the
# rows' `stay_seconds` read from the stagechange_stays index in that order (the sort finds them
# sorted). The open stays are the leads whose last history row is into the stage: counted with
# the months.
_STAYS = ",\n        ".join(
    f"count(*) FILTER (WHERE sc.to_stage = '{stage}') AS {stage.lower()}_left, "
    f"percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY sc.stay_seconds) "
    f"FILTER (WHERE sc.to_stage = '{stage}') "
    f"AS {stage.lower()}_percentiles"
    for stage, _ in STAGES
)
# The cohort's journeys (`per_lead`: one narrow row a lead, what its history adds up to) read
# three times: the leads counted by month and what they reached (folded by _COUNTERS; the
# period's counts are the months' sums), the velocity over the few leads that got to SQL, and
# the stays: the cohort's history rows, each stay ending at the row's `left_at` (the lead's
# next row; NULL while the lead is still there).
_SQL = f"""
WITH per_lead AS NOT MATERIALIZED (
    SELECT c.id AS lead_id, c.month, c.mask, c.last_stage, c.iql_at, c.sql_at, c.customer_at
    FROM ({{cohort}}) AS c
),
groups AS (
    SELECT month, mask, last_stage, count(*) AS leads
    FROM per_lead
    GROUP BY month, mask, last_stage
),
rejected AS (
    SELECT count(*) AS rejected
    FROM per_lead
    WHERE mask & {_QUALIFIED} <> 0 AND lead_id IN (SELECT r.lead_id FROM {REJECTION} AS r)
),
velocity AS (
    SELECT {VELOCITY}
    FROM per_lead
    WHERE {CONVERTED}
),
stays AS (
    SELECT {_STAYS}
    FROM {{stays_from}}
)
SELECT (SELECT coalesce(json_agg(groups), '[]') FROM groups),
    (SELECT row_to_json(velocity) FROM velocity),
    (SELECT row_to_json(stays) FROM stays),
    (SELECT rejected FROM rejected)
"""


def funnel_report_authorize(*, user: User) -> None:
    """Marketers, sales managers and admins read the funnel; reps do not."""
    if not user.sees_all_leads:
        raise Forbidden("The funnel is for marketers, sales managers and admins.")


# The cohort's ended stays: its history rows with a `left_at`. A cohort of every lead created in
# the period (no other filter) is found on the rows themselves (`lead_created_at`, the lead's,
# copied by leads.journey): no join; a filtered one through its journeys.
_STAYS_OF_PERIOD = f"""{STAGE_CHANGE} AS sc
    WHERE sc.left_at IS NOT NULL
        AND sc.lead_created_at >= %(start)s AND sc.lead_created_at < %(end)s"""
_STAYS_OF_COHORT = f"""per_lead JOIN {STAGE_CHANGE} AS sc ON sc.lead_id = per_lead.lead_id
    WHERE sc.left_at IS NOT NULL"""


def _query(params: ReportParams) -> tuple[dict, list[dict], dict]:
    # A lead's month of creation, in the site's time zone, as the index of the month start it
    # follows (given here): a comparison or four a lead, a third of date_trunc's cost in time
    # zone arithmetic.
    month_starts = _months(params.start, params.end)
    month = "width_bucket(j.created_at, %(month_bounds)s::timestamptz[]) AS month"
    columns = f", {month}, j.last_stage, j.iql_at, j.sql_at, j.customer_at"
    cohort, values = cohort_sql(params, columns=columns)
    values |= {"month_bounds": [day_start(start) for start in month_starts[1:]]}
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner's estimates over a whole history make JIT compile for longer than the
        # statement runs; the sorts of the percentiles fit in memory with a little more.
        cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '32MB'")
        stays_from = _STAYS_OF_PERIOD if whole_period(params) else _STAYS_OF_COHORT
        cursor.execute(_SQL.format(cohort=cohort, stays_from=stays_from), values)
        groups, velocity, stays, rejected = cursor.fetchone()
    months = _fold(groups, month_starts)
    total = {key: sum(month[key] for month in months) for key in ("leads", *_COUNTERS)}
    return total | velocity | {"rejected": rejected}, months, stays


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
