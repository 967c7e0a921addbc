"""The generic transition endpoint on hand-off leads: a rep can no longer disqualify or recycle
a lead that is not assigned to them (which used to hide it from everyone else); and assignments
follow the moves made there (handoff.services.decisions.assignments_sync)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from handoff import tasks
from handoff.models import Assignment, AssignmentStatus
from handoff.services import decisions
from handoff.tasks import ROUTE_POOL
from leads import services as lead_services
from leads.models import Lead, Stage
from tests.factories import AssignmentFactory, LeadFactory
from tests.handoff.decisions_helpers import snapshot, url
from tests.support import assert_error

pytestmark = pytest.mark.django_db

MOVES = [
    (Stage.MQL, {"to": "DISQUALIFIED", "reason": "spam"}),
    (Stage.PQL, {"to": "DISQUALIFIED", "reason": "spam"}),
    (Stage.PQL, {"to": "MQL", "reason": "not now"}),
]


@pytest.mark.parametrize(("stage", "body"), MOVES)
def test_in_pool_mode_a_rep_cannot_disqualify_or_recycle_a_pool_lead(
    pool_mode, rep_client, stage, body
):
    lead = LeadFactory(stage=stage)
    before = snapshot(lead.pk)

    response = rep_client.post(url(lead.pk, "transition"), body, format="json")

    assert_error(response, 403, "transition_forbidden")
    assert snapshot(lead.pk) == before


@pytest.mark.parametrize(("stage", "body"), MOVES)
def test_in_assign_mode_a_rep_cannot_touch_an_unassigned_lead(rep_client, stage, body):
    lead = LeadFactory(stage=stage)
    before = snapshot(lead.pk)

    response = rep_client.post(url(lead.pk, "transition"), body, format="json")

    assert_error(response, 404, "not_found")
    assert snapshot(lead.pk) == before


@pytest.mark.parametrize(("stage", "body"), MOVES)
def test_a_rep_cannot_touch_a_lead_assigned_to_another_rep(
    pool_mode, other_rep, rep_client, stage, body
):
    assignment = AssignmentFactory(rep=other_rep, lead=LeadFactory(stage=stage))
    before = snapshot(assignment.lead_id)

    response = rep_client.post(url(assignment.lead_id, "transition"), body, format="json")

    assert_error(response, 404, "not_found")
    assert snapshot(assignment.lead_id) == before


def test_the_assigned_rep_may_still_disqualify_through_the_generic_endpoint(rep_client, rep):
    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL))

    response = rep_client.post(
        url(assignment.lead_id, "transition"), {"to": "DISQUALIFIED", "reason": "spam"}, "json"
    )

    assert response.json()["stage"] == "DISQUALIFIED"


# --- assignments follow moves made elsewhere ---------------------------------------------------


def test_a_recycle_elsewhere_releases_the_assignment_and_frees_the_rep(
    rep, published, django_capture_on_commit_callbacks
):
    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.SAL))
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.ACCEPTED)
    lead_services.lead_transition(lead_id=assignment.lead_id, to=Stage.MQL, actor=rep, reason="x")
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        result = decisions.assignments_sync(lead_ids=[assignment.lead_id], now=now)

    assert result == {"released": 1, "accepted": 0}
    assignment.refresh_from_db()
    assert (assignment.status, assignment.ended_at) == (AssignmentStatus.RELEASED, now)
    assert (ROUTE_POOL, ()) in published
    assert decisions.assignments_sync(lead_ids=[assignment.lead_id]) == {
        "released": 0,
        "accepted": 0,
    }


def test_a_disqualification_elsewhere_releases_a_pending_assignment(rep):
    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL))
    lead_services.lead_transition(
        lead_id=assignment.lead_id, to=Stage.DISQUALIFIED, actor=rep, reason="spam"
    )

    decisions.assignments_sync(lead_ids=[assignment.lead_id])

    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.RELEASED


def test_an_accept_through_the_generic_endpoint_accepts_the_assignment(rep, rep_client):
    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.PQL))
    rep_client.post(url(assignment.lead_id, "transition"), {"to": "SAL"}, format="json")

    assert decisions.assignments_sync(lead_ids=[assignment.lead_id]) == {
        "released": 0,
        "accepted": 1,
    }

    assignment.refresh_from_db()
    entered = Lead.objects.get(pk=assignment.lead_id).stage_entered_at
    assert (assignment.status, assignment.decided_at) == (AssignmentStatus.ACCEPTED, entered)
    assert assignment.first_touch_due_at == entered + timedelta(minutes=240)


def test_open_assignments_in_line_with_their_leads_are_left_alone(rep):
    pending = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL))
    before = snapshot(pending.lead_id)

    assert decisions.assignments_sync(lead_ids=[pending.lead_id]) == {
        "released": 0,
        "accepted": 0,
    }
    assert snapshot(pending.lead_id) == before


def test_the_stage_hooks_task_brings_the_assignment_in_line_before_routing(
    rep, django_capture_on_commit_callbacks, published
):
    # Given a pending assignment, when its rep accepts through the generic transition,
    assignment = AssignmentFactory(rep=rep)
    with django_capture_on_commit_callbacks(execute=True):
        lead_services.lead_transition(lead_id=assignment.lead_id, to=Stage.SAL, actor=rep)
    # then the stage hook queued route_leads for the lead, and that task syncs it:
    [(name, args)] = [(n, a) for n, a in published if n == "handoff.route_leads"]
    assert tasks.route_leads.run(*args) == 0

    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACCEPTED
    assert assignment.first_touch_due_at is not None
