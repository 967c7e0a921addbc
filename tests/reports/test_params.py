"""The reports' query parameters: the period's defaults and the filters' validation."""

from datetime import UTC, datetime

import pytest
from django.http import QueryDict

from reports.params import InvalidFilter, report_params


def test_without_from_six_whole_months_up_to_to():
    params = report_params(QueryDict("to=2026-03-15"))

    assert params.start == datetime(2025, 10, 1, tzinfo=UTC)  # Oct, Nov, Dec, Jan, Feb, Mar
    assert params.end == datetime(2026, 3, 16, tzinfo=UTC)  # `to` is included


def test_a_to_at_midnight_ends_the_months_before_it():
    params = report_params(QueryDict("to=2026-03-01T00:00:00Z"))

    assert params.start == datetime(2025, 9, 1, tzinfo=UTC)  # its last instant is in February


def test_filters_parsed():
    params = report_params(
        QueryDict("source=social&source=event&source=social&owner=7&utm_campaign=+q3+")
    )

    assert params.sources == ("social", "event")
    assert params.owner == 7
    assert params.utm_campaign == "q3"


@pytest.mark.parametrize("query", ["source=tv", "owner=1.5", "owner=seven"])
def test_bad_filters(query):
    with pytest.raises(InvalidFilter):
        report_params(QueryDict(query))
