"""The SLA report: per rep and per source, how often the deadlines were met and how long
answering and first touches took. Managers and admins read it.

Rows: the assignments handed out in the period (`assigned_at` from the first day's start to the
last day's end, in the server's time zone). For each:

- accept: met when the rep accepted or rejected before `accept_due_at`; counted ("measured")
  once it was answered or its deadline passed while it was still open (an assignment a
  manager took back before its deadline, or still waiting with time left, is not counted);
- first touch (accepted assignments only): met when the first call, email or meeting came
  before `first_touch_due_at`; counted once touched or once the deadline passed while open;
- time to accept (accepted assignments: `decided_at - assigned_at`) and time to first touch
  (`first_touched_at - decided_at`): median and 90th percentile, in seconds of elapsed time.

Why elapsed seconds and not business minutes: the within-SLA shares already count business
hours (they compare with the stored deadlines, which were computed in business time when each
clock started), and elapsed time lets PostgreSQL aggregate the whole period in one statement
(percentile_cont over the rows) instead of walking a calendar in Python for every row. The
output says so in `units`.
"""

from datetime import date, datetime, time, timedelta

from django.db import connection
from django.utils import timezone

from accounts.models import User
from core.errors import ApiError, Forbidden
from handoff.models import Assignment
from leads.models import Lead

DEFAULT_DAYS = 30
MAX_DAYS = 366
UNITS = (
    "seconds of elapsed (wall-clock) time; the within-SLA shares compare with the stored "
    "deadlines, which count business hours"
)


class InvalidPeriod(ApiError):
    default_code = "invalid_period"
    default_detail = "The period is not valid."


def sla_report_authorize(*, user: User) -> None:
    if not user.manages_sales:
        raise Forbidden("Only sales managers and admins read the SLA report.")


def _day(raw: str | None, name: str) -> date | None:
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        message = f"{name} must be a date (YYYY-MM-DD), got {raw!r}."
        raise InvalidPeriod(message, fields={name: [message]}) from None


def sla_period(*, start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """The report's first and last day (both included) from the query's `from` and `to`:
    by default the last 30 days up to today; at most 366 days."""
    first, last = _day(start, "from"), _day(end, "to")
    last = last or (today if first is None else max(today, first))
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidPeriod("from must not be after to.", fields={"from": ["After to."]})
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidPeriod(f"The period may be at most {MAX_DAYS} days.")
    return first, last


_ROWS = """
SELECT a.rep_id, l.source,
    a.decided_at IS NOT NULL
        OR a.accept_due_at <= least(%(now)s, coalesce(a.ended_at, 'infinity')) AS accept_measured,
    coalesce(a.decided_at < a.accept_due_at, false) AS accept_met,
    CASE WHEN a.first_touch_due_at IS NOT NULL
        THEN extract(epoch FROM a.decided_at - a.assigned_at) END AS to_accept,
    a.first_touch_due_at IS NOT NULL AND (a.first_touched_at IS NOT NULL
        OR a.first_touch_due_at <= least(%(now)s, coalesce(a.ended_at, 'infinity')))
        AS touch_measured,
    coalesce(a.first_touched_at < a.first_touch_due_at, false) AS touch_met,
    extract(epoch FROM a.first_touched_at - a.decided_at) AS to_touch
FROM {assignment} AS a JOIN {lead} AS l ON l.id = a.lead_id
WHERE a.assigned_at >= %(start)s AND a.assigned_at < %(end)s
"""

# One statement: the rows, grouped per rep, per source and in total (GROUPING SETS), then the
# reps' names. GROUPING(rep_id, source): 1 = a rep's row, 2 = a source's, 3 = the total.
SLA_REPORT = """
WITH r AS ({rows}),
g AS (
    SELECT GROUPING(rep_id, source) AS grouping, rep_id, source, count(*) AS assignments,
        count(*) FILTER (WHERE accept_measured) AS accept_measured,
        count(*) FILTER (WHERE accept_measured AND accept_met) AS accept_met,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY to_accept) AS accept_median,
        percentile_cont(0.9) WITHIN GROUP (ORDER BY to_accept) AS accept_p90,
        count(*) FILTER (WHERE touch_measured) AS touch_measured,
        count(*) FILTER (WHERE touch_measured AND touch_met) AS touch_met,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY to_touch) AS touch_median,
        percentile_cont(0.9) WITHIN GROUP (ORDER BY to_touch) AS touch_p90
    FROM r
    GROUP BY GROUPING SETS ((rep_id), (source), ())
)
SELECT g.*, u.username, u.first_name, u.last_name
FROM g LEFT JOIN {user} AS u ON u.id = g.rep_id AND g.grouping = 1
ORDER BY g.grouping, u.username, g.source
"""


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _clock(measured: int, met: int, median, p90) -> dict:
    return {
        "measured": measured,
        "within_sla": met,
        "share": round(met / measured, 4) if measured else None,
        "median_seconds": _seconds(median),
        "p90_seconds": _seconds(p90),
    }


def _metrics(row: dict) -> dict:
    return {
        "assignments": row["assignments"],
        "accept": _clock(
            row["accept_measured"], row["accept_met"], row["accept_median"], row["accept_p90"]
        ),
        "first_touch": _clock(
            row["touch_measured"], row["touch_met"], row["touch_median"], row["touch_p90"]
        ),
    }


def _query(start: datetime, end: datetime, now: datetime) -> list[dict]:
    rows = _ROWS.format(assignment=Assignment._meta.db_table, lead=Lead._meta.db_table)
    sql = SLA_REPORT.format(rows=rows, user=User._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"start": start, "end": end, "now": now})
        names = [column.name for column in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _rep(row: dict) -> dict:
    name = f"{row['first_name']} {row['last_name']}".strip()
    return {"rep": row["rep_id"], "username": row["username"], "name": name or row["username"]}


def sla_report(*, user: User, first: date, last: date, now: datetime | None = None) -> dict:
    """The report over the assignments handed out from `first` to `last` (days included)."""
    sla_report_authorize(user=user)
    zone = timezone.get_default_timezone()
    start = datetime.combine(first, time.min, zone)
    end = datetime.combine(last + timedelta(days=1), time.min, zone)
    rows = _query(start, end, now or timezone.now())
    # The empty grouping set always yields its row, with zero counts when nothing matched.
    [total] = [r for r in rows if r["grouping"] == 3]
    return {
        "from": first,
        "to": last,
        "units": UNITS,
        "total": _metrics(total),
        "reps": [{**_rep(r), **_metrics(r)} for r in rows if r["grouping"] == 1],
        "sources": [{"source": r["source"], **_metrics(r)} for r in rows if r["grouping"] == 2],
    }
