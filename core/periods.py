"""A report's period from the query string: `?from=&to=`, shared by every report (the hand-off's
rejections, the funnel, the sources). Dates are whole days in the site's time zone; a datetime
is taken as given."""

from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.errors import ApiError

# A report without `from` covers this many days up to `to`.
DEFAULT_DAYS = 30


class InvalidPeriod(ApiError):
    default_code = "invalid"
    default_detail = "The period is not valid."


def day_start(day: date) -> datetime:
    """The first instant of `day` in the site's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def period_instant(raw: str, name: str, *, end: bool) -> datetime:
    """An ISO date as the start of that day (for `to`: of the next day, so the day is
    included), or an ISO datetime as given, in the site's time zone when it names none."""
    try:
        day = parse_date(raw)
        moment = None if day else parse_datetime(raw)
    except ValueError:
        day = moment = None
    if day is not None:
        return day_start(day + timedelta(days=1) if end else day)
    if moment is None:
        message = "An ISO 8601 date (2026-01-31) or date and time."
        raise InvalidPeriod(f"{name}: {message}", fields={name: [message]})
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def report_period(
    params: Mapping[str, str],
    *,
    default_start: Callable[[datetime], datetime] | None = None,
) -> tuple[datetime, datetime]:
    """[start, end) from `?from=&to=` (dates inclusive). Without `to`: up to the end of today;
    without `from`: `default_start(end)`, by default DEFAULT_DAYS days before the end."""
    raw_to, raw_from = params.get("to"), params.get("from")
    end = (
        period_instant(raw_to, "to", end=True)
        if raw_to
        else day_start(timezone.localdate() + timedelta(days=1))
    )
    if raw_from:
        start = period_instant(raw_from, "from", end=False)
    elif default_start is not None:
        start = default_start(end)
    else:
        start = end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise InvalidPeriod("from must be before to.", fields={"from": ["After to."]})
    return start, end
