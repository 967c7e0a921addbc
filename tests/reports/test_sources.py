"""The sources report on the hand-built history: by first-touch source channel and UTM
campaign, every figure worked out by hand, ranked by customers, SQLs, leads."""

import pytest
from django.http import QueryDict

from core.errors import Forbidden
from reports.params import report_params
from reports.selectors.sources import sources_report
from tests.reports.history import PERIOD, build

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(rep):
    return build(rep)


def _params(query: str = ""):
    full = QueryDict(mutable=True)
    full.update(PERIOD)
    for key, values in QueryDict(query).lists():
        full.setlist(key, values)
    return report_params(full)


def _figures(row):
    velocity = row["velocity"]
    return (
        row["key"],
        row["leads"],
        row["reached"],
        velocity["iql_to_sql"]["median_days"],
        velocity["iql_to_customer"]["median_days"],
    )


def _reached(mql, pql, sql, customer):
    return {"MQL": mql, "PQL": pql, "SQL": sql, "CUSTOMER": customer}


def test_by_source_channel_ranked(marketer, history):
    report = sources_report(user=marketer, params=_params())

    assert [_figures(row) for row in report["sources"]] == [
        ("paid_search", 3, _reached(3, 1, 2, 1), 7.0, 19.0),  # A B F
        ("social", 2, _reached(2, 1, 0, 0), None, None),  # C D
        ("event", 1, _reached(0, 0, 0, 0), None, None),  # G
        ("organic_search", 1, _reached(0, 0, 0, 0), None, None),  # E
        ("referral", 1, _reached(1, 0, 0, 0), None, None),  # J
    ]
    assert report["sources"][0]["label"] == "Paid search"
    assert report["sources"][0]["rates"] == {
        "MQL": 1.0,
        "PQL": 0.3333,
        "SQL": 0.6667,
        "CUSTOMER": 0.3333,
    }
    assert report["sources"][0]["velocity"]["iql_to_sql"]["leads"] == 2


def test_by_utm_campaign_ranked(marketer, history):
    report = sources_report(user=marketer, params=_params())

    assert [_figures(row) for row in report["campaigns"]] == [
        ("spring", 2, _reached(2, 1, 2, 1), 7.0, 19.0),  # A B
        ("", 4, _reached(2, 1, 0, 0), None, None),  # C E G J
        ("fall", 1, _reached(1, 0, 0, 0), None, None),  # D
        ("summer", 1, _reached(1, 0, 0, 0), None, None),  # F
    ]
    assert report["campaigns"][1]["label"] == "(no campaign)"
    assert _figures(report["total"]) == ("", 8, _reached(6, 2, 2, 1), 7.0, 19.0)


def test_filters_apply_to_the_sources_too(marketer, rep, history):
    report = sources_report(user=marketer, params=_params(f"owner={rep.pk}"))

    assert [(row["key"], row["leads"]) for row in report["sources"]] == [("paid_search", 1)]
    assert [(row["key"], row["leads"]) for row in report["campaigns"]] == [("summer", 1)]


def test_an_empty_period_has_no_rows(marketer, history):
    report = sources_report(user=marketer, params=_params("from=2026-06-01&to=2026-06-30"))

    assert report["sources"] == [] and report["campaigns"] == []
    assert report["total"]["leads"] == 0


def test_reps_may_not_read_it(rep, history):
    with pytest.raises(Forbidden):
        sources_report(user=rep, params=_params())
