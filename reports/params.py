"""The reports' query parameters, parsed once for the pages and the API: the period (`from`,
`to`: core.periods) and the cohort filters of the shared lead-list vocabulary (`source`,
repeatable; `utm_campaign`, exact; `owner`, a user id). Bad values raise the API's 400."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from core.errors import ApiError
from core.periods import day_start, report_period
from leads.models import SourceChannel

# Without `from`, a report starts on the first day of the month this many months before the
# month of `to`: six whole monthly cohorts, the current one included.
DEFAULT_MONTHS = 6


class InvalidFilter(ApiError):
    default_code = "invalid"
    default_detail = "A filter is not valid."


@dataclass(frozen=True)
class ReportParams:
    """The cohort: leads created in [start, end) matching every filter given."""

    start: datetime
    end: datetime
    sources: tuple[str, ...] = ()
    utm_campaign: str = ""
    owner: int | None = None


def _month_start(end: datetime) -> datetime:
    last_day = timezone.localtime(end - timedelta(microseconds=1)).date()
    months = last_day.year * 12 + last_day.month - 1 - (DEFAULT_MONTHS - 1)
    return day_start(date(months // 12, months % 12 + 1, 1))


def _sources(values: list[str]) -> tuple[str, ...]:
    values = [value for value in values if value]
    unknown = [value for value in values if value not in SourceChannel.values]
    if unknown:
        message = f"Unknown source {unknown[0]!r}; one of: {', '.join(SourceChannel.values)}."
        raise InvalidFilter(message, fields={"source": [message]})
    return tuple(dict.fromkeys(values))


def _owner(raw: str | None) -> int | None:
    if raw in (None, ""):
        return None
    if not raw.isdigit():
        message = f"owner must be a user id (a whole number), got {raw!r}."
        raise InvalidFilter(message, fields={"owner": [message]})
    return int(raw)


def report_params(query) -> ReportParams:
    """Parse a QueryDict (request.GET / request.query_params) into the report's cohort."""
    start, end = report_period(query, default_start=_month_start)
    campaign = (query.get("utm_campaign") or "").strip()
    return ReportParams(
        start=start,
        end=end,
        sources=_sources(query.getlist("source")),
        utm_campaign=campaign,
        owner=_owner(query.get("owner")),
    )
