"""Business time: SLA deadlines count working hours only. Pure: no ORM.

`BusinessHours` is the parsed form of the settings' `business_hours` JSON:
{"time_zone": "Europe/Berlin", "days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00",
 "holidays": "DE"}  (days: Monday = 0; holidays: a country code of the `holidays` package or
null). `None` means around the clock: a deadline is plain elapsed time.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as holiday_calendars

# A deadline further than this many calendar days ahead means the calendar has (almost) no
# working time: refuse it rather than loop for ever.
_MAX_DAYS = 800


class InvalidHours(ValueError):
    """The business hours are not usable; the message names the field."""


@dataclass(frozen=True)
class BusinessHours:
    time_zone: str
    days: frozenset[int]
    start: time
    end: time
    holidays: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def hours_parse(raw: dict | None) -> BusinessHours | None:
    """The settings' JSON as BusinessHours (None: around the clock), or InvalidHours."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidHours("business_hours must be an object or null.")
    unknown = set(raw) - {"time_zone", "days", "start", "end", "holidays"}
    if unknown:
        raise InvalidHours(f"business_hours has unknown keys: {', '.join(sorted(unknown))}.")
    zone = _zone(raw.get("time_zone"))
    days = _days(raw.get("days"))
    start, end = _clock_time(raw.get("start"), "start"), _clock_time(raw.get("end"), "end")
    if start >= end:
        raise InvalidHours("business_hours.start must be before business_hours.end.")
    country = _country(raw.get("holidays"))
    return BusinessHours(zone, days, start, end, country)


def _zone(value: object) -> str:
    if not isinstance(value, str) or value not in _zones():
        raise InvalidHours(f"business_hours.time_zone must be an IANA time zone, got {value!r}.")
    try:
        ZoneInfo(value)
    except ZoneInfoNotFoundError as exc:
        raise InvalidHours(f"business_hours.time_zone {value!r} is unknown.") from exc
    return value


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _days(value: object) -> frozenset[int]:
    if not isinstance(value, list) or not value or not all(map(_is_weekday, value)):
        raise InvalidHours("business_hours.days must be a non-empty list of 0 (Monday) to 6.")
    return frozenset(int(day) for day in value)


def _is_weekday(day: object) -> bool:
    return isinstance(day, int) and not isinstance(day, bool) and 0 <= day <= 6


def _clock_time(value: object, name: str) -> time:
    try:
        hours, minutes = str(value).split(":")
        parsed = time(int(hours), int(minutes))
    except ValueError as exc:
        raise InvalidHours(f"business_hours.{name} must be HH:MM, got {value!r}.") from exc
    return parsed


def _country(value: object) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or value.upper() not in holiday_calendars.list_supported_countries()
    ):
        raise InvalidHours(
            f"business_hours.holidays must be a supported country code or null, got {value!r}."
        )
    return value.upper()


@lru_cache(maxsize=64)
def _holiday_dates(country: str, year: int) -> frozenset[date]:
    return frozenset(holiday_calendars.country_holidays(country, years=year))


def _is_working_day(hours: BusinessHours, day: date) -> bool:
    if day.weekday() not in hours.days:
        return False
    return not (hours.holidays and day in _holiday_dates(hours.holidays, day.year))


def _windows(hours: BusinessHours, start: datetime):
    """The working windows (open, close) as aware datetimes, from the day of `start` on."""
    local_day = start.astimezone(hours.zone).date()
    for offset in range(_MAX_DAYS):
        day = local_day + timedelta(days=offset)
        if not _is_working_day(hours, day):
            continue
        # Local wall times, then UTC: arithmetic on them is then real elapsed time.
        opens = datetime.combine(day, hours.start, hours.zone).astimezone(UTC)
        closes = datetime.combine(day, hours.end, hours.zone).astimezone(UTC)
        yield opens, closes
    raise InvalidHours(f"no working time within {_MAX_DAYS} days")


def deadline(start: datetime, minutes: int, hours: BusinessHours | None) -> datetime:
    """The instant `minutes` of business time after `start` (plain time without hours).

    A clock started outside working hours starts at the next opening; a deadline that falls
    exactly on a closing time stays there (not the next morning).
    """
    if hours is None:
        return start + timedelta(minutes=minutes)
    left = timedelta(minutes=minutes)
    for opens, closes in _windows(hours, start):
        begin = max(opens, start)
        if begin >= closes:
            continue
        if begin + left <= closes:
            return (begin + left).astimezone(UTC)
        left -= closes - begin
    raise AssertionError("unreachable: _windows raises when it runs out")


def elapsed(start: datetime, end: datetime, hours: BusinessHours | None) -> timedelta:
    """Business time between `start` and `end` (zero when `end` is not after `start`)."""
    if end <= start:
        return timedelta(0)
    if hours is None:
        return end - start
    total = timedelta(0)
    for opens, closes in _windows(hours, start):
        if opens >= end:
            break
        begin, finish = max(opens, start), min(closes, end)
        if finish > begin:
            total += finish - begin
    return total
