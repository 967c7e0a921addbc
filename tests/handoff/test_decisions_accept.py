"""POST /api/v1/leads/{id}/accept/ and handoff.services.decisions.lead_accept."""

from datetime import UTC, datetime, timedelta

import pytest
from django.http import Http404

from handoff import clock
from handoff.models import Assignment, AssignmentStatus, HandoffSettings
from handoff.services import decisions
from leads import services as lead_services
from leads.models import Lead, Stage
from tests.factories import AssignmentFactory, LeadFactory
from tests.handoff.decisions_helpers import snapshot, url
from tests.support import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(rep):
    return AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL))


def test_rep_accepts_their_pending_lead(rep_client, rep, pending):
    response = rep_client.post(url(pending.lead_id, "accept"))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["stage"], body["owner"]) == (pending.lead_id, "SAL", rep.pk)
    pending.refresh_from_db()
    assert pending.status == AssignmentStatus.ACCEPTED
    assert pending.decided_at is not None and pending.ended_at is None
    # the default settings: 240 minutes around the clock
    assert pending.first_touch_due_at == pending.decided_at + timedelta(minutes=240)
    history = list(pending.lead.stage_changes.values_list("from_stage", "to_stage", "changed_by"))
    assert history[-1] == ("MQL", "SAL", rep.pk)


def test_accept_from_pql(rep_client, rep):
    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.PQL))

    response = rep_client.post(url(assignment.lead_id, "accept"))

    assert response.json()["stage"] == "SAL"


def test_first_touch_deadline_counts_business_hours_only(rep, pending):
    hours = {
        "time_zone": "Europe/Berlin",
        "days": [0, 1, 2, 3, 4],
        "start": "09:00",
        "end": "17:00",
    }
    HandoffSettings.objects.update_or_create(
        pk=1, defaults={"business_hours": hours, "first_touch_within_minutes": 60}
    )
    # Friday 16:30 in Berlin (CET): 30 minutes left on Friday, 30 more on Monday from 09:00
    friday = datetime(2026, 1, 16, 15, 30, tzinfo=UTC)

    decisions.lead_accept(lead_id=pending.lead_id, actor=rep, now=friday)

    pending.refresh_from_db()
    assert pending.decided_at == friday
    assert pending.first_touch_due_at == datetime(2026, 1, 19, 8, 30, tzinfo=UTC)
    assert pending.first_touch_due_at == clock.deadline(friday, 60, clock.hours_parse(hours))


def test_manager_accepts_for_the_assigned_rep(manager_client, rep, pending):
    response = manager_client.post(url(pending.lead_id, "accept"))

    assert response.status_code == 200, response.content
    assert (response.json()["stage"], response.json()["owner"]) == ("SAL", rep.pk)
    pending.refresh_from_db()
    assert (pending.status, pending.rep_id) == (AssignmentStatus.ACCEPTED, rep.pk)


def test_another_rep_cannot_accept_and_nothing_changes(other_rep_client, pending):
    before = snapshot(pending.lead_id)

    response = other_rep_client.post(url(pending.lead_id, "accept"))

    assert_error(response, 404, "not_found")
    assert snapshot(pending.lead_id) == before


def test_marketer_cannot_accept(marketer_client, pending):
    before = snapshot(pending.lead_id)

    assert_error(marketer_client.post(url(pending.lead_id, "accept")), 403, "permission_denied")
    assert snapshot(pending.lead_id) == before


def test_anonymous_cannot_accept(anonymous, pending):
    before = snapshot(pending.lead_id)

    assert_error(anonymous.post(url(pending.lead_id, "accept")), 401, "not_authenticated")
    assert snapshot(pending.lead_id) == before


def test_unknown_lead_is_404(rep_client):
    assert_error(rep_client.post(url(999999, "accept")), 404, "not_found")


def test_accepting_twice_is_already_accepted(rep_client, pending):
    rep_client.post(url(pending.lead_id, "accept"))
    before = snapshot(pending.lead_id)

    response = rep_client.post(url(pending.lead_id, "accept"))

    assert_error(response, 409, "already_accepted")
    assert snapshot(pending.lead_id) == before


def test_in_assign_mode_a_rep_cannot_claim_an_unassigned_lead(rep_client):
    lead = LeadFactory(stage=Stage.MQL)
    before = snapshot(lead.pk)

    assert_error(rep_client.post(url(lead.pk, "accept")), 404, "not_found")
    assert snapshot(lead.pk) == before


def test_manager_cannot_accept_a_lead_nobody_is_assigned(manager_client):
    lead = LeadFactory(stage=Stage.MQL)
    before = snapshot(lead.pk)

    assert_error(manager_client.post(url(lead.pk, "accept")), 409, "no_rep")
    assert snapshot(lead.pk) == before


def test_in_pool_mode_a_rep_claims_an_unowned_lead(pool_mode, rep_client, rep):
    lead = LeadFactory(stage=Stage.PQL)

    response = rep_client.post(url(lead.pk, "accept"))

    assert response.status_code == 200, response.content
    assert (response.json()["stage"], response.json()["owner"]) == ("SAL", rep.pk)
    claim = Assignment.objects.get(lead=lead)
    assert (claim.rep_id, claim.status, claim.assigned_by) == (rep.pk, "accepted", None)
    assert claim.assigned_at == claim.accept_due_at == claim.decided_at
    assert claim.first_touch_due_at == claim.decided_at + timedelta(minutes=240)


def test_in_pool_mode_a_claimed_lead_is_already_accepted_for_the_others(
    pool_mode, rep_client, other_rep_client
):
    lead = LeadFactory(stage=Stage.MQL)
    rep_client.post(url(lead.pk, "accept"))
    before = snapshot(lead.pk)

    assert_error(other_rep_client.post(url(lead.pk, "accept")), 409, "already_accepted")
    assert snapshot(lead.pk) == before


def test_in_pool_mode_a_lead_handed_back_to_nurture_cannot_be_claimed(pool_mode, rep, rep_client):
    lead = LeadFactory(stage=Stage.SAL, owner=rep)
    lead_services.lead_return_to_nurture(lead_id=lead.pk, actor=rep, reason="not now")
    before = snapshot(lead.pk)

    assert_error(rep_client.post(url(lead.pk, "accept")), 404, "not_found")
    assert snapshot(lead.pk) == before


def test_a_lead_outside_the_handoff_stages_cannot_be_accepted(rep_client, rep):
    lead = LeadFactory(stage=Stage.IQL, owner=rep)
    before = snapshot(lead.pk)

    assert_error(rep_client.post(url(lead.pk, "accept")), 409, "illegal_transition")
    assert snapshot(lead.pk) == before


def test_a_rep_accepts_an_unrouted_lead_they_already_own(rep_client, rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = rep_client.post(url(lead.pk, "accept"))

    assert response.json()["stage"] == "SAL"
    assert Assignment.objects.get(lead=lead).status == "accepted"


def test_accept_is_refused_after_the_sla_job_took_the_lead_back(rep, pending):
    Assignment.objects.filter(pk=pending.pk).update(status=AssignmentStatus.REASSIGNED)
    Lead.objects.filter(pk=pending.lead_id).update(owner=None)

    with pytest.raises(Http404):
        decisions.lead_accept(lead_id=pending.lead_id, actor=rep)

    assert Assignment.objects.get(pk=pending.pk).status == AssignmentStatus.REASSIGNED
