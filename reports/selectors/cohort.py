"""The cohort both reports start from, as SQL: the leads created in the period that match the
filters, and what each one reached (a bit mask) and when, from their journeys (`leads.journey`:
the stage history summed by PostgreSQL as it is written).

"Reached stage S" is the shared contract's: the lead has a `leads.StageChange` row with
`to_stage = S`, whatever stage it is in now, so a report's number and the lead list it links to
(`?reached=S`) count the same leads.
"""

from leads.journey import BIT, JOURNEY
from leads.models import Stage, StageChange
from reports.params import ReportParams

STAGE_CHANGE = StageChange._meta.db_table
SECONDS_A_DAY = 86400


# The velocity both reports give, over a group of the cohort's journeys: the leads that went
# from IQL to SQL (and to customer), and the median days it took them. Only those leads count,
# so a statement reads them alone, `WHERE {CONVERTED}` (the journey_converted index holds them).
CONVERTED = "sql_at >= iql_at OR customer_at >= iql_at"
VELOCITY = """count(*) FILTER (WHERE sql_at >= iql_at) AS to_sql_leads,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', sql_at - iql_at))
            FILTER (WHERE sql_at >= iql_at) AS to_sql_median,
        count(*) FILTER (WHERE customer_at >= iql_at) AS to_customer_leads,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', customer_at - iql_at))
            FILTER (WHERE customer_at >= iql_at) AS to_customer_median"""


def bits(*stages: Stage) -> int:
    """The mask bits of `stages`."""
    return sum(BIT[stage] for stage in stages)


def has(*stages: Stage) -> str:
    """SQL: the lead's `mask` has every one of `stages`."""
    return f"mask & {bits(*stages)} = {bits(*stages)}"


def whole_period(params: ReportParams) -> bool:
    """Is the cohort every lead created in the period (no filter but the period)?"""
    return not (params.sources or params.utm_campaign or params.owner is not None)


def cohort_sql(params: ReportParams, columns: str = "") -> tuple[str, dict]:
    """`SELECT j.lead_id AS id, j.reached AS mask{columns} FROM the journeys WHERE ...` for
    the cohort (`j`: `leads.Journey`, the lead's cohort keys and what its history adds up to),
    and its parameters. Created in [start, end): a lead created at the start instant is in,
    at the end is out."""
    where = ["j.created_at >= %(start)s", "j.created_at < %(end)s"]
    values: dict = {"start": params.start, "end": params.end}
    if params.sources:
        where.append("j.source = ANY(%(sources)s)")
        values["sources"] = list(params.sources)
    if params.utm_campaign:
        where.append("j.utm_campaign = %(utm_campaign)s")
        values["utm_campaign"] = params.utm_campaign
    if params.owner is not None:
        where.append("j.owner_id = %(owner)s")
        values["owner"] = params.owner
    sql = f"SELECT j.lead_id AS id, j.reached AS mask{columns} FROM {JOURNEY} AS j WHERE "
    sql += " AND ".join(where)
    return sql, values


def rate(part: int, whole: int) -> float | None:
    """part / whole to four places; None when there is no whole to share."""
    return round(part / whole, 4) if whole else None


def days(seconds: float | None) -> float | None:
    """Seconds as days, to two places."""
    return None if seconds is None else round(seconds / SECONDS_A_DAY, 2)
