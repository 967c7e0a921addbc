"""GET /api/v1/reports/sla/: a hand-built history with every number checked, who may read it,
and the period's validation."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from handoff.models import AssignmentStatus
from handoff.selectors.reports_sla import InvalidPeriod, sla_period
from tests.factories import AssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/sla/"
T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H, M = timedelta(hours=1), timedelta(minutes=1)


def assign(rep, source, *, at=T, status=AssignmentStatus.PENDING, **fields):
    return AssignmentFactory(
        rep=rep,
        lead__source=source,
        assigned_at=at,
        accept_due_at=fields.pop("accept_due_at", at + H),
        reassign_due_at=at + 3 * H,
        status=status,
        owned=False,
        **fields,
    )


def accepted(rep, source, *, decided, touch_due, at=T, **fields):
    return assign(
        rep,
        source,
        at=at,
        status=fields.pop("status", AssignmentStatus.ACCEPTED),
        decided_at=decided,
        first_touch_due_at=touch_due,
        **fields,
    )


@pytest.fixture
def history():
    """March 2026, two reps, two sources (see each line), and two rows outside the period."""
    ana = UserFactory(username="ana", role=Role.REP, first_name="Ana", last_name="Alves")
    ben = UserFactory(username="ben", role=Role.REP)
    # Ana: accepted in 10 min, touched 50 min later (both met).
    accepted(ana, "referral", decided=T + 10 * M, touch_due=T + 4 * H, first_touched_at=T + H)
    # Ana: accepted in 20 min (met), touched after 4 h 40 min (missed).
    accepted(ana, "referral", decided=T + 20 * M, touch_due=T + 4 * H, first_touched_at=T + 5 * H)
    # Ana: rejected in 50 min (met; no first touch to measure).
    assign(ana, "event", status=AssignmentStatus.REJECTED, decided_at=T + 50 * M)
    # Ana: never answered, taken back after 3 h (missed).
    assign(ana, "event", status=AssignmentStatus.REASSIGNED, ended_at=T + 3 * H)
    # Ana, the period's first instant: accepted at the deadline's own instant (missed), touched
    # 30 min later (met).
    first = datetime(2026, 3, 1, tzinfo=UTC)
    accepted(
        ana,
        "referral",
        at=first,
        decided=first + H,
        touch_due=first + 5 * H,
        first_touched_at=first + 90 * M,
    )
    # Ben: accepted after 90 min (missed), never touched, deadline passed (missed).
    accepted(ben, "event", decided=T + 90 * M, touch_due=T + 330 * M)
    # Ben: still waiting, time left: not measured.
    assign(ben, "referral", accept_due_at=timezone.now() + timedelta(days=1))
    # Ben: a manager took it back before the deadline: not measured.
    assign(ben, "referral", status=AssignmentStatus.REASSIGNED, ended_at=T + 30 * M)
    # Ben: accepted in 5 min (met); closed after an hour, before the touch deadline: not measured.
    accepted(
        ben,
        "referral",
        decided=T + 5 * M,
        touch_due=T + 4 * H,
        status=AssignmentStatus.RELEASED,
        ended_at=T + H,
    )
    # Outside the period: the instant before it and the instant after it.
    assign(ben, "event", at=first - timedelta(microseconds=1))
    assign(ben, "event", at=datetime(2026, 4, 1, tzinfo=UTC))
    return ana, ben


def clock(measured, met, share, median, p90):
    return {
        "measured": measured,
        "within_sla": met,
        "share": share,
        "median_seconds": median,
        "p90_seconds": p90,
    }


def test_every_number_of_a_hand_built_history(history, manager_client):
    ana, ben = history

    response = manager_client.get(URL, {"from": "2026-03-01", "to": "2026-03-31"})

    assert response.status_code == 200
    assert response.json() == {
        "from": "2026-03-01",
        "to": "2026-03-31",
        "units": (
            "seconds of elapsed (wall-clock) time; the within-SLA shares compare with the "
            "stored deadlines, which count business hours"
        ),
        "total": {
            "assignments": 9,
            "accept": clock(7, 4, 0.5714, 1200.0, 4680.0),
            "first_touch": clock(4, 2, 0.5, 3000.0, 14040.0),
        },
        "reps": [
            {
                "rep": ana.pk,
                "username": "ana",
                "name": "Ana Alves",
                "assignments": 5,
                "accept": clock(5, 3, 0.6, 1200.0, 3120.0),
                "first_touch": clock(3, 2, 0.6667, 3000.0, 14040.0),
            },
            {
                "rep": ben.pk,
                "username": "ben",
                "name": "ben",
                "assignments": 4,
                "accept": clock(2, 1, 0.5, 2850.0, 4890.0),
                "first_touch": clock(1, 0, 0.0, None, None),
            },
        ],
        "sources": [
            {
                "source": "event",
                "assignments": 3,
                "accept": clock(3, 1, 0.3333, 5400.0, 5400.0),
                "first_touch": clock(1, 0, 0.0, None, None),
            },
            {
                "source": "referral",
                "assignments": 6,
                "accept": clock(4, 3, 0.75, 900.0, 2880.0),
                "first_touch": clock(3, 2, 0.6667, 3000.0, 14040.0),
            },
        ],
    }


def test_an_empty_period_has_zero_counts_and_no_shares(manager_client):
    response = manager_client.get(URL, {"from": "2020-01-01", "to": "2020-01-31"})

    assert response.status_code == 200
    body = response.json()
    assert (body["reps"], body["sources"]) == ([], [])
    assert body["total"] == {
        "assignments": 0,
        "accept": clock(0, 0, None, None, None),
        "first_touch": clock(0, 0, None, None, None),
    }


def test_the_default_period_is_the_last_30_days(manager_client):
    response = manager_client.get(URL)

    today = timezone.localdate()
    assert response.status_code == 200
    assert (response.json()["from"], response.json()["to"]) == (
        str(today - timedelta(days=29)),
        str(today),
    )


def test_the_query_count_does_not_grow_with_reps(manager_client, django_assert_max_num_queries):
    for n in range(12):
        rep = UserFactory(username=f"rep{n}", role=Role.REP)
        accepted(rep, "event", decided=T + M, touch_due=T + H, first_touched_at=T + 2 * M)

    with django_assert_max_num_queries(2):
        response = manager_client.get(URL, {"from": "2026-03-01", "to": "2026-03-31"})

    assert response.status_code == 200
    assert len(response.json()["reps"]) == 12


def test_admins_read_it(admin_client_api):
    assert admin_client_api.get(URL).status_code == 200


def test_anonymous_gets_401(anonymous):
    response = anonymous.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("client", ["rep_client", "marketer_client"])
def test_reps_and_marketers_get_403(client, request, history):
    response = request.getfixturevalue(client).get(URL)

    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "message": "Only sales managers and admins read the SLA report.",
    }


@pytest.mark.parametrize(
    ("query", "message", "fields"),
    [
        (
            {"from": "March"},
            "from must be a date (YYYY-MM-DD), got 'March'.",
            {"from": ["from must be a date (YYYY-MM-DD), got 'March'."]},
        ),
        (
            {"to": "2026-02-30"},
            "to must be a date (YYYY-MM-DD), got '2026-02-30'.",
            {"to": ["to must be a date (YYYY-MM-DD), got '2026-02-30'."]},
        ),
        (
            {"from": "2026-03-02", "to": "2026-03-01"},
            "from must not be after to.",
            {"from": ["After to."]},
        ),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "The period may be at most 366 days.", None),
    ],
)
def test_a_bad_period_is_a_400_saying_what_is_wrong(manager_client, query, message, fields):
    response = manager_client.get(URL, query)

    assert response.status_code == 400
    expected = {"code": "invalid_period", "message": message}
    assert response.json() == ({**expected, "fields": fields} if fields else expected)


def test_a_366_day_period_is_allowed_and_one_day_more_is_not():
    today = date(2026, 6, 1)

    assert sla_period(start="2024-01-01", end="2024-12-31", today=today) == (
        date(2024, 1, 1),
        date(2024, 12, 31),
    )
    with pytest.raises(InvalidPeriod):
        sla_period(start="2024-01-01", end="2025-01-01", today=today)


def test_one_end_of_the_period_alone():
    today = date(2026, 6, 1)

    assert sla_period(start="2026-05-20", end=None, today=today) == (date(2026, 5, 20), today)
    assert sla_period(start=None, end="2026-03-31", today=today) == (
        date(2026, 3, 2),
        date(2026, 3, 31),
    )
