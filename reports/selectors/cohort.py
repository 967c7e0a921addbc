"""The cohort both reports start from, as SQL: the leads created in the period that match the
filters, and what each one reached (a bit mask) and when, from the stage history.

"Reached stage S" is the shared contract's: the lead has a `leads.StageChange` row with
`to_stage = S`, whatever stage it is in now, so a report's number and the lead list it links to
(`?reached=S`) count the same leads.
"""

from django.utils import timezone

from leads.lifecycle import FUNNEL, recycle_move
from leads.models import Lead, Stage, StageChange
from reports.params import ReportParams

LEAD = Lead._meta.db_table
STAGE_CHANGE = StageChange._meta.db_table
SECONDS_A_DAY = 86400

# History rows that hand a lead back to nurture (lifecycle.is_recycle): into MQL from PQL, SAL,
# SQL, or MQL -> MQL (sales returned an assigned lead it never accepted).
RECYCLE_FROM = [stage for stage in Stage.values if recycle_move(stage) is not None]

# Each lead's history folds into one bit mask (`bit_or` over its rows aliased `sc`): a bit for
# every stage it reached (and, in the funnel, one for a recycle). One integer aggregate a row
# instead of a FILTER a stage.
BIT = {stage: 1 << index for index, stage in enumerate([*FUNNEL, Stage.DISQUALIFIED])}
RECYCLED = 1 << len(BIT)
STAGE_BIT = "CASE sc.to_stage " + " ".join(f"WHEN '{s}' THEN {b}" for s, b in BIT.items()) + " END"

# The first entries velocity needs, over rows aliased `sc` grouped by lead.
FIRST_ENTRIES = ",\n        ".join(
    f"min(sc.changed_at) FILTER (WHERE sc.to_stage = '{stage}') AS {stage.lower()}_at"
    for stage in (Stage.IQL, Stage.SQL, Stage.CUSTOMER)
)


def has(*stages: Stage) -> str:
    """SQL: the lead's `mask` has every one of `stages`."""
    bits = sum(BIT[stage] for stage in stages)
    return f"mask & {bits} = {bits}"


def cohort_sql(params: ReportParams, columns: str = "") -> tuple[str, dict]:
    """`SELECT l.id{columns} FROM leads WHERE ...` for the cohort, and its parameters.
    Created in [start, end): a lead created at the start instant is in, at the end is out."""
    where = ["l.created_at >= %(start)s", "l.created_at < %(end)s"]
    values: dict = {"start": params.start, "end": params.end}
    if params.sources:
        where.append("l.source = ANY(%(sources)s)")
        values["sources"] = list(params.sources)
    if params.utm_campaign:
        where.append("l.utm_campaign = %(utm_campaign)s")
        values["utm_campaign"] = params.utm_campaign
    if params.owner is not None:
        where.append("l.owner_id = %(owner)s")
        values["owner"] = params.owner
    sql = f"SELECT l.id{columns} FROM {LEAD} AS l WHERE " + " AND ".join(where)
    return sql, values


def time_zone_name() -> str:
    """The zone months are cut in (the site's)."""
    return timezone.get_current_timezone_name()


def rate(part: int, whole: int) -> float | None:
    """part / whole to four places; None when there is no whole to share."""
    return round(part / whole, 4) if whole else None


def days(seconds: float | None) -> float | None:
    """Seconds as days, to two places."""
    return None if seconds is None else round(seconds / SECONDS_A_DAY, 2)
