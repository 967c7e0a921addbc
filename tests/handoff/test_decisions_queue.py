"""GET /api/v1/handoff/queue/: the rep's assigned-but-not-accepted leads, nearest accept
deadline first, and in pool mode the pool (marked) after them, oldest first."""

from datetime import UTC, datetime, timedelta

import pytest

from handoff.models import AssignmentStatus
from leads import services as lead_services
from leads.models import Lead, Stage
from tests.factories import AssignmentFactory, LeadFactory
from tests.support import assert_error

pytestmark = pytest.mark.django_db

QUEUE = "/api/v1/handoff/queue/"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def assigned(rep, *, due_in_minutes: int, stage=Stage.MQL, **kw):
    return AssignmentFactory(
        rep=rep,
        lead=LeadFactory(stage=stage),
        assigned_at=T0,
        accept_due_at=T0 + timedelta(minutes=due_in_minutes),
        reassign_due_at=T0 + timedelta(minutes=due_in_minutes + 120),
        **kw,
    )


def lead_ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["lead"]["id"] for item in response.json()["results"]]


def test_a_rep_sees_their_pending_leads_nearest_deadline_first(rep, other_rep, rep_client):
    later = assigned(rep, due_in_minutes=90)
    sooner = assigned(rep, due_in_minutes=30, stage=Stage.PQL)
    assigned(other_rep, due_in_minutes=10)
    assigned(rep, due_in_minutes=5, status=AssignmentStatus.ACCEPTED)

    response = rep_client.get(QUEUE)

    assert lead_ids(response) == [sooner.lead_id, later.lead_id]
    first = response.json()["results"][0]
    assert first == {
        "lead": {
            "id": sooner.lead_id,
            "email": sooner.lead.email,
            "first_name": sooner.lead.first_name,
            "last_name": "Lead",
            "title": "",
            "company_name": "Example Inc",
            "country": "",
            "source": "other",
            "stage": "PQL",
            "stage_entered_at": sooner.lead.stage_entered_at.isoformat().replace("+00:00", "Z"),
            "score": 0,
            "temperature": "cold",
            "owner": rep.pk,
        },
        "in_pool": False,
        "assignment": sooner.pk,
        "rep": rep.pk,
        "assigned_at": "2026-03-02T09:00:00Z",
        "accept_due_at": "2026-03-02T09:30:00Z",
        "reassign_due_at": "2026-03-02T11:30:00Z",
    }


def test_in_pool_mode_the_pool_follows_oldest_first_and_marked(pool_mode, rep, rep_client):
    mine = assigned(rep, due_in_minutes=30)
    young = LeadFactory(stage=Stage.MQL, stage_entered_at=T0)
    old = LeadFactory(stage=Stage.PQL, stage_entered_at=T0 - timedelta(days=2))
    LeadFactory(stage=Stage.SAL)  # not in the pool
    handed_back = LeadFactory(stage=Stage.SAL, owner=rep)
    lead_services.lead_return_to_nurture(lead_id=handed_back.pk, actor=rep, reason="later")

    response = rep_client.get(QUEUE)

    assert lead_ids(response) == [mine.lead_id, old.pk, young.pk]
    pool = response.json()["results"][1]
    assert (pool["in_pool"], pool["assignment"], pool["accept_due_at"]) == (True, None, None)


def test_in_assign_mode_there_is_no_pool(rep, rep_client):
    LeadFactory(stage=Stage.MQL)

    assert lead_ids(rep_client.get(QUEUE)) == []


def test_a_manager_reads_a_reps_queue_or_everyones(manager_client, rep, other_rep):
    mine = assigned(rep, due_in_minutes=30)
    theirs = assigned(other_rep, due_in_minutes=20)

    assert lead_ids(manager_client.get(QUEUE, {"rep": rep.pk})) == [mine.lead_id]
    assert lead_ids(manager_client.get(QUEUE)) == [theirs.lead_id, mine.lead_id]


def test_an_admin_reads_a_reps_queue(admin_client_api, rep):
    mine = assigned(rep, due_in_minutes=30)

    assert lead_ids(admin_client_api.get(QUEUE, {"rep": rep.pk})) == [mine.lead_id]


def test_a_rep_may_name_only_themselves(rep, other_rep, rep_client):
    mine = assigned(rep, due_in_minutes=30)

    assert lead_ids(rep_client.get(QUEUE, {"rep": rep.pk})) == [mine.lead_id]
    assert_error(rep_client.get(QUEUE, {"rep": other_rep.pk}), 403, "permission_denied")


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [("marketer_client", 403, "permission_denied"), ("anonymous", 401, "not_authenticated")],
)
def test_the_queue_is_for_sales(request, who, status, code):
    assert_error(request.getfixturevalue(who).get(QUEUE), status, code)


def test_a_rep_param_that_is_not_a_number_is_a_400(manager_client):
    assert_error(manager_client.get(QUEUE, {"rep": "x"}), 400, "invalid", {"rep"})


def test_the_queue_takes_a_bounded_number_of_queries(
    pool_mode, rep, rep_client, django_assert_max_num_queries
):
    for minutes in range(30):
        assigned(rep, due_in_minutes=minutes)
    LeadFactory.create_batch(20, stage=Stage.MQL)

    # session/user lookups do not apply (forced auth): settings, count, page
    with django_assert_max_num_queries(4):
        response = rep_client.get(QUEUE)

    assert response.json()["count"] == 50
    assert len(response.json()["results"]) == 50
    assert Lead.objects.count() == 50
