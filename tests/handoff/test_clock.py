"""Business time for SLA deadlines: working days and hours, holidays, time zones, boundaries."""

from datetime import UTC, datetime, timedelta

import pytest

from handoff.clock import InvalidHours, deadline, elapsed, hours_parse

BERLIN = {"time_zone": "Europe/Berlin", "days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_around_the_clock_is_plain_elapsed_time():
    start = utc(2026, 11, 28, 23, 30)  # a Saturday night

    assert deadline(start, 60, None) == utc(2026, 11, 29, 0, 30)
    assert elapsed(start, utc(2026, 11, 29, 0, 30), None) == timedelta(minutes=60)


def test_a_clock_started_at_night_starts_at_the_next_opening():
    hours = hours_parse(BERLIN)
    # Tuesday 2026-12-01 06:00 UTC is 07:00 in Berlin (CET, UTC+1): opens at 08:00 UTC.
    assert deadline(utc(2026, 12, 1, 6, 0), 30, hours) == utc(2026, 12, 1, 8, 30)


def test_a_deadline_on_the_closing_instant_stays_there_and_one_minute_more_is_next_morning():
    hours = hours_parse(BERLIN)
    start = utc(2026, 12, 1, 15, 0)  # 16:00 in Berlin, one hour before closing

    assert deadline(start, 60, hours) == utc(2026, 12, 1, 16, 0)  # 17:00 Berlin exactly
    assert deadline(start, 61, hours) == utc(2026, 12, 2, 8, 1)  # 09:01 the next day


def test_weekends_are_skipped():
    hours = hours_parse(BERLIN)
    friday_late = utc(2026, 12, 4, 15, 30)  # Friday 16:30 Berlin

    assert deadline(friday_late, 60, hours) == utc(2026, 12, 7, 8, 30)  # Monday 09:30


def test_public_holidays_of_the_country_are_skipped():
    hours = hours_parse({**BERLIN, "holidays": "de"})
    # Thursday 2026-12-24 16:30 Berlin; the 25th and 26th are holidays, 26th/27th a weekend.
    start = utc(2026, 12, 24, 15, 30)

    assert deadline(start, 60, hours) == utc(2026, 12, 28, 8, 30)
    assert deadline(start, 60, hours_parse(BERLIN)) == utc(2026, 12, 25, 8, 30)


def test_the_clock_follows_the_zone_across_daylight_saving():
    hours = hours_parse(BERLIN)
    # Friday 2026-03-27 16:00 CET (15:00 UTC); Monday 2026-03-30 09:00 is CEST (07:00 UTC).
    assert deadline(utc(2026, 3, 27, 15, 0), 120, hours) == utc(2026, 3, 30, 8, 0)


def test_elapsed_counts_only_working_time():
    hours = hours_parse(BERLIN)
    friday_four = utc(2026, 12, 4, 15, 0)  # Friday 16:00 Berlin
    monday_ten = utc(2026, 12, 7, 9, 0)  # Monday 10:00 Berlin

    assert elapsed(friday_four, monday_ten, hours) == timedelta(hours=2)
    assert elapsed(monday_ten, friday_four, hours) == timedelta(0)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({**BERLIN, "time_zone": "Mars/Olympus"}, "business_hours.time_zone"),
        ({**BERLIN, "days": []}, "business_hours.days"),
        ({**BERLIN, "days": [7]}, "business_hours.days"),
        ({**BERLIN, "start": "9"}, "business_hours.start"),
        ({**BERLIN, "end": "25:00"}, "business_hours.end"),
        ({**BERLIN, "start": "17:00", "end": "09:00"}, "before business_hours.end"),
        ({**BERLIN, "holidays": "XX"}, "business_hours.holidays"),
        ({**BERLIN, "lunch": "12:00"}, "unknown keys: lunch"),
        ("weekdays", "must be an object or null"),
    ],
)
def test_bad_hours_are_refused_naming_the_field(raw, message):
    with pytest.raises(InvalidHours, match=message):
        hours_parse(raw)
