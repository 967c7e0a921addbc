"""GET /api/v1/reports/funnel/: the funnel as JSON, who may read it, and its 400s."""

import pytest

from tests.reports.history import PERIOD, build
from tests.support import assert_error

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/funnel/"


@pytest.fixture
def history(rep):
    return build(rep)


def test_one_object_per_stage(marketer_client, history):
    response = marketer_client.get(URL, PERIOD)

    assert response.status_code == 200
    body = response.json()
    assert body["from"] == "2026-03-01T00:00:00Z" and body["to"] == "2026-05-01T00:00:00Z"
    assert body["leads"] == 8
    assert [
        (
            row["stage"],
            row["reached"],
            row["conversion_to_next"],
            row["median_days_in_stage"],
            row["p90_days_in_stage"],
        )
        for row in body["stages"]
    ] == [
        ("IQL", 7, 0.7143, 2.0, 18.0),
        ("MQL", 6, 0.6667, 2.0, 2.7),
        ("PQL", 2, 1.0, 1.5, 1.9),
        ("SAL", 4, 0.5, 2.0, 3.6),
        ("SQL", 2, 0.5, 7.0, 9.4),
        ("CUSTOMER", 1, None, None, None),
    ]
    assert body["velocity"]["iql_to_sql"] == {"leads": 2, "median_days": 7.0}
    assert body["recycled"] == {"leads": 2, "rate": 0.3333}
    assert body["rejected"] == {"leads": 1, "rate": 0.1667}
    assert [(row["month"], row["leads"]) for row in body["cohorts"]] == [
        ("2026-03-01", 5),
        ("2026-04-01", 3),
    ]


def test_filters_in_the_query(marketer_client, rep, history):
    query = {**PERIOD, "source": ["paid_search", "social"], "utm_campaign": "spring"}
    assert marketer_client.get(URL, query).json()["leads"] == 2  # A B
    assert marketer_client.get(URL, {**PERIOD, "owner": rep.pk}).json()["leads"] == 1  # F


def test_managers_and_admins_read_it(manager_client, admin_client_api, history):
    assert manager_client.get(URL, PERIOD).status_code == 200
    assert admin_client_api.get(URL, PERIOD).status_code == 200


def test_anonymous_is_refused(anonymous, history):
    response = anonymous.get(URL, PERIOD)

    assert_error(response, 401, "not_authenticated")


def test_a_rep_is_refused(rep_client, history):
    assert_error(rep_client.get(URL, PERIOD), 403, "permission_denied")


@pytest.mark.parametrize(
    "query, field",
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "2026-04-01", "to": "2026-03-31"}, "from"),
        ({"from": "2026-04-01", "to": "2026-03-31T23:00:00Z"}, "from"),
        ({"source": "billboard"}, "source"),
        ({"owner": "me"}, "owner"),
        ({"owner": "-1"}, "owner"),
    ],
)
def test_bad_input_is_a_400(marketer_client, query, field):
    assert_error(marketer_client.get(URL, query), 400, "invalid", {field})


def test_a_one_day_period_is_fine(marketer_client, history):
    # from == to: that whole day (from's own value is allowed).
    response = marketer_client.get(URL, {"from": "2026-03-01", "to": "2026-03-01"})

    assert response.status_code == 200
    assert response.json()["leads"] == 1  # A


def test_default_period_is_six_monthly_cohorts(marketer_client, history):
    body = marketer_client.get(URL).json()

    assert len(body["cohorts"]) == 6
    assert body["cohorts"][0]["month"].endswith("-01")


def test_query_count_does_not_grow_with_the_leads(
    marketer_client, rep, django_assert_max_num_queries
):
    build(rep)
    # The report is one statement (with its SET LOCAL and savepoint around it).
    with django_assert_max_num_queries(4):
        assert marketer_client.get(URL, PERIOD).status_code == 200


def test_the_schema_documents_it(marketer_client):
    schema = marketer_client.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/reports/funnel/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {
        "from",
        "to",
        "source",
        "utm_campaign",
        "owner",
    }
