"""Concurrent decisions on PostgreSQL (real row locks, real transactions): two reps claiming the
same pool lead, and an accept racing a reject."""

import pytest
from rest_framework.test import APIClient

from handoff.models import Assignment, AssignmentStatus, HandoffSettings, Mode, Rejection
from leads.models import Lead, Stage, StageChange
from tests.factories import AssignmentFactory, LeadFactory, UserFactory
from tests.handoff.decisions_helpers import url
from tests.support import race


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db(transaction=True)
def test_two_reps_claiming_a_pool_lead_at_once_exactly_one_gets_it():
    HandoffSettings.objects.update_or_create(pk=1, defaults={"mode": Mode.POOL})
    reps = [UserFactory(username=f"racer{i}", role="rep") for i in range(2)]
    clients = [_client(rep) for rep in reps]
    leads = [LeadFactory(stage=Stage.MQL) for _ in range(5)]

    for lead in leads:
        responses = race(lambda i, lead=lead: clients[i].post(url(lead.pk, "accept")))

        codes = sorted(response.status_code for response in responses)
        assert codes == [200, 409], [r.content for r in responses]
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.json()["code"] == "already_accepted"
        winner = reps[[r.status_code for r in responses].index(200)]
        lead.refresh_from_db()
        assert (lead.stage, lead.owner_id) == (Stage.SAL, winner.pk)
        claims = Assignment.objects.filter(lead=lead)
        assert list(claims.values_list("rep_id", "status")) == [(winner.pk, "accepted")]
        assert StageChange.objects.filter(lead=lead, to_stage=Stage.SAL).count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_accept_racing_a_reject_one_decision_wins():
    rep = UserFactory(username="racer", role="rep")
    manager = UserFactory(username="boss", role="manager")
    clients = [_client(rep), _client(manager)]

    for _ in range(3):
        assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL))
        lead_id = assignment.lead_id

        responses = race(
            lambda i, lead_id=lead_id: (
                clients[0].post(url(lead_id, "accept"))
                if i == 0
                else clients[1].post(url(lead_id, "reject"), {"reason": "not_a_fit"}, "json")
            )
        )

        codes = [response.status_code for response in responses]
        assert sorted(codes) == [200, 409], [r.content for r in responses]
        assignment.refresh_from_db()
        lead = Lead.objects.get(pk=lead_id)
        if codes[0] == 200:  # the accept won: the reject finds it accepted
            assert responses[1].json()["code"] == "already_accepted"
            assert (lead.stage, assignment.status) == (Stage.SAL, AssignmentStatus.ACCEPTED)
            assert not Rejection.objects.filter(lead_id=lead_id).exists()
        else:  # the reject won: the lead is disqualified, nothing left to accept
            assert responses[0].json()["code"] == "illegal_transition"
            assert (lead.stage, assignment.status) == (
                Stage.DISQUALIFIED,
                AssignmentStatus.REJECTED,
            )
            assert Rejection.objects.filter(lead_id=lead_id).count() == 1
