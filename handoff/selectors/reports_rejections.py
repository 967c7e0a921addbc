"""The rejections report: why sales turns leads down, from which sources, and which scoring
rule or PQL condition sent them (so marketing sees which rules send sales the wrong leads)."""

from datetime import datetime
from typing import Any

from django.db import connection

from accounts.models import User
from core.errors import Forbidden
from handoff.models import Rejection, RejectReason
from leads.models import SourceChannel

# One pass over the period's rejections, every breakdown at once. GROUPING(reason, source,
# qualified_by) is a bit mask of the columns a row is NOT grouped by (reason 4, source 2,
# qualified_by 1): 7 the total, 3 per reason, 5 per source, 1 per source and reason, 6 per
# qualified_by, 2 per qualified_by and reason.
_SQL = f"""
SELECT GROUPING(reason, source, qualified_by), reason, source, qualified_by, count(*)
FROM {Rejection._meta.db_table}
WHERE rejected_at >= %s AND rejected_at < %s
GROUP BY GROUPING SETS ((), (reason), (source), (source, reason), (qualified_by),
                        (qualified_by, reason))
"""
_TOTAL, _REASON, _SOURCE, _SOURCE_REASON, _RULE, _RULE_REASON = 7, 3, 5, 1, 6, 2


def rejections_report_authorize(*, user: User) -> None:
    """Sales managers, admins and marketers read it; reps do not."""
    if not user.sees_all_leads:
        raise Forbidden("The rejections report is for sales managers, admins and marketers.")


def rejections_report(*, user: User, start: datetime, end: datetime) -> dict[str, Any]:
    """Rejections made in [start, end): the total, and counts by reason, by source and by what
    qualified the lead (`qualified_by`), the last two split by reason. Largest first."""
    rejections_report_authorize(user=user)
    with connection.cursor() as cursor:
        cursor.execute(_SQL, [start, end])
        rows = cursor.fetchall()
    total = next((count for mask, *_, count in rows if mask == _TOTAL), 0)
    return {
        "total": total,
        "by_reason": _sorted(
            {"reason": reason, "label": RejectReason(reason).label, "count": count}
            for mask, reason, _, _, count in rows
            if mask == _REASON
        ),
        "by_source": _split(rows, _SOURCE, _SOURCE_REASON, 2, "source", _source_label),
        "by_qualified_by": _split(rows, _RULE, _RULE_REASON, 3, "qualified_by", None),
    }


def _source_label(value: str) -> str:
    return SourceChannel(value).label if value in SourceChannel.values else value


def _split(rows, mask: int, by_reason_mask: int, column: int, name: str, label) -> list[dict]:
    groups = {
        row[column]: {name: row[column], "count": row[4], "by_reason": {}}
        for row in rows
        if row[0] == mask
    }
    if label is not None:
        for key, group in groups.items():
            group["label"] = label(key)
    for row in rows:
        if row[0] == by_reason_mask:
            groups[row[column]]["by_reason"][row[1]] = row[4]
    return _sorted(groups.values())


def _sorted(items) -> list[dict]:
    return sorted(items, key=lambda item: (-item["count"], str(next(iter(item.values())))))
