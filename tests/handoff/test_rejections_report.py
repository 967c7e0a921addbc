"""GET /api/v1/reports/rejections/?from=&to=: rejections by reason, by source and by what made
the lead MQL/PQL, on hand-built rows, every number checked."""

from datetime import UTC, datetime, timedelta

import pytest

from handoff.models import Rejection
from handoff.selectors.reports_rejections import rejections_report
from tests.factories import LeadFactory
from tests.support import assert_error

pytestmark = pytest.mark.django_db

REPORT = "/api/v1/reports/rejections/"
MQL = "scoring: MQL threshold 50"
PQL = "scoring: 20 x Task Created within 14 days"
START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
END = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def rows(rep):
    lead = LeadFactory()

    def add(at, reason, source, qualified_by, stage="MQL"):
        Rejection.objects.create(
            lead=lead,
            rep=rep,
            reason=reason,
            source=source,
            stage=stage,
            qualified_by=qualified_by,
            rejected_at=at,
        )

    day = START + timedelta(days=3)
    add(START, "no_budget", "paid_search", MQL)  # the period's first instant: in
    add(day, "no_budget", "paid_search", MQL)
    add(day, "no_budget", "social", MQL)
    add(day, "not_a_fit", "paid_search", PQL, stage="PQL")
    add(day, "not_a_fit", "event", "by hand")
    add(day, "competitor", "paid_search", PQL, stage="PQL")
    add(END - timedelta(microseconds=1), "bad_timing", "social", MQL)  # the last instant: in
    add(END, "no_budget", "social", MQL)  # the next period: out
    add(START - timedelta(microseconds=1), "other", "social", MQL)  # before: out


EXPECTED = {
    "total": 7,
    "by_reason": [
        {"reason": "no_budget", "label": "No budget", "count": 3},
        {"reason": "not_a_fit", "label": "Not a fit", "count": 2},
        {"reason": "bad_timing", "label": "Bad timing", "count": 1},
        {"reason": "competitor", "label": "Went with a competitor", "count": 1},
    ],
    "by_source": [
        {
            "source": "paid_search",
            "label": "Paid search",
            "count": 4,
            "by_reason": {"no_budget": 2, "not_a_fit": 1, "competitor": 1},
        },
        {
            "source": "social",
            "label": "Social",
            "count": 2,
            "by_reason": {"no_budget": 1, "bad_timing": 1},
        },
        {"source": "event", "label": "Event", "count": 1, "by_reason": {"not_a_fit": 1}},
    ],
    "by_qualified_by": [
        {
            "qualified_by": MQL,
            "count": 4,
            "by_reason": {"no_budget": 3, "bad_timing": 1},
        },
        {
            "qualified_by": PQL,
            "count": 2,
            "by_reason": {"not_a_fit": 1, "competitor": 1},
        },
        {"qualified_by": "by hand", "count": 1, "by_reason": {"not_a_fit": 1}},
    ],
}


def test_every_number_of_the_report(manager, rows):
    assert rejections_report(user=manager, start=START, end=END) == EXPECTED


def test_the_api_takes_inclusive_dates(manager_client, rows):
    response = manager_client.get(REPORT, {"from": "2026-03-01", "to": "2026-03-31"})

    assert response.status_code == 200, response.content
    assert response.json() == {
        "from": "2026-03-01T00:00:00Z",
        "to": "2026-04-01T00:00:00Z",
        **EXPECTED,
    }


def test_the_api_takes_datetimes(manager_client, rows):
    response = manager_client.get(
        REPORT, {"from": "2026-03-04T00:00:00Z", "to": "2026-03-05T00:00:00Z"}
    )

    body = response.json()
    assert body["total"] == 5
    assert [(row["reason"], row["count"]) for row in body["by_reason"]] == [
        ("no_budget", 2),
        ("not_a_fit", 2),
        ("competitor", 1),
    ]


def test_an_empty_period(marketer_client):
    body = marketer_client.get(REPORT, {"from": "2020-01-01", "to": "2020-01-31"}).json()

    assert (body["total"], body["by_reason"], body["by_source"], body["by_qualified_by"]) == (
        0,
        [],
        [],
        [],
    )


def test_without_dates_the_last_30_days(admin_client_api):
    body = admin_client_api.get(REPORT).json()

    start = datetime.fromisoformat(body["from"])
    end = datetime.fromisoformat(body["to"])
    assert end - start == timedelta(days=30)
    assert (end.hour, end.minute) == (0, 0)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026-04-01", "to": "2026-03-01"}, "from"),
    ],
)
def test_bad_dates_are_a_400(manager_client, params, field):
    assert_error(manager_client.get(REPORT, params), 400, "invalid", {field})


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [("rep_client", 403, "permission_denied"), ("anonymous", 401, "not_authenticated")],
)
def test_the_report_is_for_managers_admins_and_marketers(request, who, status, code):
    assert_error(request.getfixturevalue(who).get(REPORT), status, code)


def test_the_report_is_one_query(manager_client, rows, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        response = manager_client.get(REPORT, {"from": "2026-03-01", "to": "2026-03-31"})

    assert response.json()["total"] == 7
