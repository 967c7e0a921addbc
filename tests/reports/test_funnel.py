"""The cohort funnel on the hand-built history of tests/reports/history.py: every number
worked out by hand, the period's boundaries exact, recycled, rejected and disqualified leads
included."""

from datetime import UTC, date, datetime

import pytest
from django.http import QueryDict

from core.errors import Forbidden
from leads.models import Stage
from reports.params import report_params
from reports.selectors.funnel import funnel_report
from tests.reports.history import END, PERIOD, START, TICK, build, make_lead

pytestmark = pytest.mark.django_db


def _params(**extra):
    query = QueryDict(mutable=True)
    query.update(PERIOD)
    for key, value in extra.items():
        query.setlist(key, [str(item) for item in (value if isinstance(value, list) else [value])])
    return report_params(query)


@pytest.fixture
def history(rep):
    return build(rep)


def _stage(stage, reached, nexts, converted, from_top, median, p90, measured, now):
    return {
        "stage": stage,
        "reached": reached,
        "next_stages": nexts,
        "converted": converted,
        "conversion_to_next": None if converted is None else round(converted / reached, 4),
        "conversion_from_top": from_top,
        "dropped": None if converted is None else reached - converted,
        "drop_off_rate": None if converted is None else round((reached - converted) / reached, 4),
        "median_days_in_stage": median,
        "p90_days_in_stage": p90,
        "stays_measured": measured,
        "in_stage_now": now,
    }


# Stays (days) that ended, by stage:
#   IQL  A 2, B 1, C 1, D 6, E 2, F 30; G open          -> median 2, p90 6 + .5 * 24 = 18
#   MQL  A 3, C 2, D 1 (its return to nurture ends the stay), J 2 (created at MQL);
#        open: B (recycled into it), D (after its MQL -> MQL row), F  -> [1, 2, 2, 3]: 2, 2.7
#   PQL  B 2, C 1                                        -> 1.5 and 1.9
#   SAL  A 4, B 2, C 1; J open                           -> 2 and 2 + .8 * 2 = 3.6
#   SQL  A 10, B 4                                       -> 7 and 4 + .9 * 6 = 9.4
#   CUSTOMER  A open                                     -> none measured
EXPECTED_STAGES = [
    _stage("IQL", 7, ["MQL", "PQL"], 5, 0.875, 2.0, 18.0, 6, 1),
    _stage("MQL", 6, ["SAL"], 4, 0.75, 2.0, 2.7, 4, 3),
    _stage("PQL", 2, ["SAL"], 2, 0.25, 1.5, 1.9, 2, 0),
    _stage("SAL", 4, ["SQL"], 2, 0.5, 2.0, 3.6, 3, 1),
    _stage("SQL", 2, ["CUSTOMER"], 1, 0.25, 7.0, 9.4, 2, 0),
    _stage("CUSTOMER", 1, [], None, 0.125, None, None, 0, 1),
]


def test_funnel_counts_each_lead_once_in_every_stage_it_reached(marketer, history):
    report = funnel_report(user=marketer, params=_params())

    assert report["from"] == START and report["to"] == END
    assert report["leads"] == 8  # A B C D J E F G; H (at END) and I (before START) are out
    stages = [{k: v for k, v in row.items() if k != "label"} for row in report["stages"]]
    assert stages == EXPECTED_STAGES
    assert report["qualified"] == {
        "leads": 6,  # A B C D J F
        "rate": 0.75,
        "converted": 4,  # A B C J reached SAL; B and C by both paths, counted once
        "conversion_to_next": 0.6667,
    }


def test_velocity_recycle_rejection_and_disqualified(marketer, history):
    report = funnel_report(user=marketer, params=_params())

    assert report["velocity"] == {
        "iql_to_sql": {"leads": 2, "median_days": 7.0},  # A 9 days, B 5
        "iql_to_customer": {"leads": 1, "median_days": 19.0},  # A
    }
    # B (SQL -> MQL) and D (MQL -> MQL, rejected) of the 6 qualified; H's rejection is out.
    assert report["recycled"] == {"leads": 2, "rate": 0.3333}
    assert report["rejected"] == {"leads": 1, "rate": 0.1667}
    assert report["disqualified"] == {"leads": 2, "rate": 0.25}  # C after SAL, E from IQL


def test_monthly_cohorts(marketer, history):
    cohorts = funnel_report(user=marketer, params=_params())["cohorts"]

    assert [(row["month"], row["leads"], row["qualified"], row["reached"]) for row in cohorts] == [
        (
            date(2026, 3, 1),
            5,
            5,
            {"IQL": 4, "MQL": 5, "PQL": 2, "SAL": 4, "SQL": 2, "CUSTOMER": 1},
        ),
        (
            date(2026, 4, 1),
            3,
            1,
            {"IQL": 3, "MQL": 1, "PQL": 0, "SAL": 0, "SQL": 0, "CUSTOMER": 0},
        ),
    ]
    assert cohorts[0]["from_top"]["SAL"] == 0.8
    assert cohorts[1]["qualified_from_top"] == 0.3333


def test_months_are_cut_at_midnight_in_the_sites_time_zone(marketer, settings):
    """A lead belongs to the month of its creation on the site's clock: New York's April starts
    at 04:00 UTC (daylight saving time), not at midnight UTC."""
    settings.TIME_ZONE = "America/New_York"
    april = datetime(2026, 4, 1, 4, tzinfo=UTC)
    for name, created in (
        ("March", april - TICK),  # 23:59:59.999999 on March 31 in New York
        ("April", april),  # midnight
        ("Before", datetime(2026, 3, 1, 5, tzinfo=UTC) - TICK),  # the period starts after it
    ):
        make_lead(name, created, Stage.IQL, [], source="event")

    report = funnel_report(user=marketer, params=_params())

    assert [(row["month"], row["leads"]) for row in report["cohorts"]] == [
        (date(2026, 3, 1), 1),
        (date(2026, 4, 1), 1),
    ]
    assert report["leads"] == 2


def test_a_month_without_leads_is_a_row_of_zeros(marketer, history):
    report = funnel_report(user=marketer, params=_params(**{"from": "2026-02-01"}))

    assert [(row["month"], row["leads"]) for row in report["cohorts"]] == [
        (date(2026, 2, 1), 1),  # I, created START - 1 µs
        (date(2026, 3, 1), 5),
        (date(2026, 4, 1), 3),
    ]
    empty = funnel_report(
        user=marketer, params=_params(**{"from": "2026-06-01", "to": "2026-06-30"})
    )
    assert empty["leads"] == 0
    assert empty["cohorts"][0]["reached"]["IQL"] == 0
    assert empty["stages"][0]["conversion_to_next"] is None
    assert empty["velocity"]["iql_to_sql"] == {"leads": 0, "median_days": None}


def test_period_boundaries_by_the_instant(marketer, history):
    at_start = {"from": "2026-03-01T00:00:00+00:00", "to": "2026-03-01T00:00:00.000001+00:00"}
    assert funnel_report(user=marketer, params=_params(**at_start))["leads"] == 1  # A
    last = {"from": "2026-04-30T23:59:59.999999+00:00", "to": "2026-05-01T00:00:00+00:00"}
    assert funnel_report(user=marketer, params=_params(**last))["leads"] == 1  # G, not H


@pytest.mark.parametrize(
    "filters, leads, iql",
    [
        ({"source": "paid_search"}, 3, 3),  # A B F (H and I outside the period)
        ({"source": ["social", "referral"]}, 3, 2),  # C D J; J has no IQL row
        ({"utm_campaign": "spring"}, 2, 2),  # A B
        ({"utm_campaign": "sprin"}, 0, 0),  # exact, not contains
        ({"source": "paid_search", "utm_campaign": "summer"}, 1, 1),  # F
    ],
)
def test_filters_narrow_the_cohort(marketer, history, filters, leads, iql):
    report = funnel_report(user=marketer, params=_params(**filters))

    assert (report["leads"], report["stages"][0]["reached"]) == (leads, iql)


def test_owner_filter(marketer, rep, history):
    report = funnel_report(user=marketer, params=_params(owner=rep.pk))

    assert report["leads"] == 1  # F
    assert [row["reached"] for row in report["stages"]] == [1, 1, 0, 0, 0, 0]


def test_managers_and_admins_read_it_and_reps_do_not(manager, admin_user, rep, history):
    assert funnel_report(user=manager, params=_params())["leads"] == 8
    assert funnel_report(user=admin_user, params=_params())["leads"] == 8
    with pytest.raises(Forbidden):
        funnel_report(user=rep, params=_params())


def test_stays_are_the_same_through_either_path(marketer, history):
    """An unfiltered cohort's stays are read from the history rows themselves (their copy of the
    lead's created_at, leads.journey); a filtered cohort's through its journeys. A filter that
    keeps every lead gives the same figures."""
    from leads.models import SourceChannel

    plain = funnel_report(user=marketer, params=_params())
    filtered = funnel_report(user=marketer, params=_params(source=list(SourceChannel.values)))
    assert plain["leads"] == filtered["leads"] == 8
    keys = ("median_days_in_stage", "p90_days_in_stage", "stays_measured", "in_stage_now")
    assert [{k: row[k] for k in keys} for row in plain["stages"]] == [
        {k: row[k] for k in keys} for row in filtered["stages"]
    ]
    assert sum(row["stays_measured"] for row in plain["stages"]) > 0
