"""Sources: the funnel's cohort split by where the leads came from, in one SQL statement.

Attribution is first touch: a lead belongs to the source channel and the UTM campaign it was
created with (`Lead.source`, `Lead.utm_campaign`, set from its first identified touch and not
changed by later visits). For each channel and each campaign: the leads, how many reached MQL,
PQL, SQL and CUSTOMER (the shared contract's "reached", as in the funnel) and their share of
the leads, and the velocity: median days from the first entry into IQL to the first into SQL,
and into CUSTOMER. Ranked by customers, then SQLs, then leads.
"""

from typing import Any

from django.db import connection, transaction

from accounts.models import User
from leads.models import SourceChannel, Stage
from reports.params import ReportParams
from reports.selectors.cohort import CONVERTED, VELOCITY, cohort_sql, days, has, rate
from reports.selectors.funnel import funnel_report_authorize

REACHED = (Stage.MQL, Stage.PQL, Stage.SQL, Stage.CUSTOMER)
# GROUPING(source, utm_campaign): the bits of the columns a row is NOT grouped by.
_SOURCE, _CAMPAIGN, _TOTAL = 1, 2, 3

_REACHED = ", ".join(
    f"count(*) FILTER (WHERE {has(stage)}) AS {stage.lower()}" for stage in REACHED
)

# One narrow journey row a lead (`leads.journey`: what its history adds up to), grouped three ways,
# twice: every lead of the cohort counted (hashed: no sort of the cohort by source, then by
# campaign), and the velocity's medians over the few leads that got to SQL or customer (the
# journey_converted index holds just those). A group none of whose leads got there has no
# velocity row: its counts are zero, its medians none.
_SQL = f"""
WITH per_lead AS NOT MATERIALIZED ({{cohort}}),
counts AS (
    SELECT GROUPING(source, utm_campaign) AS grouping, source, utm_campaign, count(*) AS leads,
        {_REACHED}
    FROM per_lead
    GROUP BY GROUPING SETS ((source), (utm_campaign), ())
),
velocity AS (
    SELECT GROUPING(source, utm_campaign) AS grouping, source, utm_campaign,
        {VELOCITY}
    FROM per_lead
    WHERE {CONVERTED}
    GROUP BY GROUPING SETS ((source), (utm_campaign), ())
)
SELECT c.*, coalesce(v.to_sql_leads, 0) AS to_sql_leads, v.to_sql_median,
    coalesce(v.to_customer_leads, 0) AS to_customer_leads, v.to_customer_median
FROM counts AS c
LEFT JOIN velocity AS v ON v.grouping = c.grouping
    AND v.source IS NOT DISTINCT FROM c.source
    AND v.utm_campaign IS NOT DISTINCT FROM c.utm_campaign
"""


def _query(params: ReportParams) -> list[dict]:
    columns = ", j.source, j.utm_campaign, j.iql_at, j.sql_at, j.customer_at"
    cohort, values = cohort_sql(params, columns=columns)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '32MB'")  # as the funnel's
        cursor.execute(_SQL.format(cohort=cohort), values)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _source_label(value: str) -> str:
    return SourceChannel(value).label if value in SourceChannel.values else value


def _row(row: dict, key: str, label: str) -> dict:
    leads = row["leads"]
    reached = {stage.value: row[stage.lower()] for stage in REACHED}
    return {
        "key": key,
        "label": label,
        "leads": leads,
        "reached": reached,
        "rates": {stage: rate(count, leads) for stage, count in reached.items()},
        "velocity": {
            "iql_to_sql": {"leads": row["to_sql_leads"], "median_days": days(row["to_sql_median"])},
            "iql_to_customer": {
                "leads": row["to_customer_leads"],
                "median_days": days(row["to_customer_median"]),
            },
        },
    }


def _ranked(rows: list[dict]) -> list[dict]:
    return sorted(
        rows,
        key=lambda r: (-r["reached"]["CUSTOMER"], -r["reached"]["SQL"], -r["leads"], r["key"]),
    )


def sources_report(*, user: User, params: ReportParams) -> dict[str, Any]:
    """The cohort `params` selects, by source channel and by UTM campaign: see the module."""
    funnel_report_authorize(user=user)
    rows = _query(params)
    [total] = [row for row in rows if row["grouping"] == _TOTAL]
    return {
        "from": params.start,
        "to": params.end,
        "total": _row(total, "", "All leads"),
        "sources": _ranked(
            [
                _row(row, row["source"], _source_label(row["source"]))
                for row in rows
                if row["grouping"] == _SOURCE
            ]
        ),
        "campaigns": _ranked(
            [
                _row(row, row["utm_campaign"], row["utm_campaign"] or "(no campaign)")
                for row in rows
                if row["grouping"] == _CAMPAIGN
            ]
        ),
    }
