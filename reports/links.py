"""Links from a report's numbers to the leads behind them: `/leads/?...` in the shared filter
vocabulary (created_after, created_before, source, utm_campaign, owner, reached, not_reached).

`reached` and `not_reached` may repeat: a lead must have reached every stage named by
`reached` and none named by `not_reached` (so "reached MQL, then SAL" is
`reached=MQL&reached=SAL`, and IQL's drop-off `reached=IQL&not_reached=MQL&not_reached=PQL`).
"""

from collections.abc import Iterable
from datetime import datetime, time
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from reports.params import ReportParams


def _instant(moment: datetime) -> str:
    """A date when the instant is midnight in the site's time zone (as the period's days are),
    else the full ISO datetime."""
    local = timezone.localtime(moment)
    return local.date().isoformat() if local.time() == time.min else local.isoformat()


def leads_url(
    params: ReportParams,
    *,
    reached: Iterable[str] = (),
    not_reached: Iterable[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    source: str | None = None,
    utm_campaign: str | None = None,
) -> str:
    """The lead list of the report's cohort (or of its month [start, end), or of one source or
    campaign), narrowed to the leads that reached / never reached the stages given."""
    query = [
        ("created_after", _instant(start or params.start)),
        ("created_before", _instant(end or params.end)),
    ]
    query += [("source", value) for value in ((source,) if source else params.sources)]
    campaign = params.utm_campaign if utm_campaign is None else utm_campaign
    if campaign:
        query.append(("utm_campaign", campaign))
    if params.owner is not None:
        query.append(("owner", str(params.owner)))
    query += [("reached", stage) for stage in reached]
    query += [("not_reached", stage) for stage in not_reached]
    return f"{reverse('leads:list')}?{urlencode(query)}"
