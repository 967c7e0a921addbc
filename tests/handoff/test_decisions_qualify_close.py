"""Qualify (SAL -> SQL with the discovery checklist), the discovery answers, and close (won or
lost): POST /api/v1/leads/{id}/qualify/, GET .../discovery/, POST .../close/."""

from datetime import UTC, datetime

import pytest

from handoff.models import Assignment, AssignmentStatus, Discovery
from handoff.services import decisions
from handoff.tasks import ROUTE_POOL
from leads import services as lead_services
from leads.models import Lead, Stage
from tests.factories import AssignmentFactory, LeadFactory
from tests.handoff.decisions_helpers import snapshot, url
from tests.support import assert_error

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

ANSWERS = {
    "product_fit": True,
    "decision_makers": "The CTO and the CFO",
    "decision_process": "Trial, then a security review",
    "timeframe": "This quarter",
    "current_solution": "Spreadsheets",
    "budget": "20k a year",
}


@pytest.fixture
def accepted(rep):
    """A lead the rep has accepted (SAL), with its accepted assignment."""
    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL))
    decisions.lead_accept(lead_id=assignment.lead_id, actor=rep)
    return Lead.objects.get(pk=assignment.lead_id)


@pytest.fixture
def qualified(rep, accepted):
    decisions.lead_qualify(lead_id=accepted.pk, actor=rep, answers=ANSWERS)
    return Lead.objects.get(pk=accepted.pk)


def test_qualify_moves_to_sql_and_keeps_the_answers(rep_client, rep, accepted):
    response = rep_client.post(url(accepted.pk, "qualify"), ANSWERS, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["stage"] == "SQL"
    row = Discovery.objects.get(lead=accepted)
    assert {name: getattr(row, name) for name in ANSWERS} == ANSWERS
    assert row.answered_by_id == rep.pk
    history = accepted.stage_changes.order_by("-id").first()
    assert (history.from_stage, history.to_stage, history.reason) == (
        "SAL",
        "SQL",
        "Discovery checklist answered",
    )


def test_the_answers_are_shown_on_the_lead(rep_client, rep, accepted):
    decisions.lead_qualify(lead_id=accepted.pk, actor=rep, answers=ANSWERS, now=NOW)

    response = rep_client.get(url(accepted.pk, "discovery"))

    assert response.status_code == 200
    assert response.json() == {
        "lead": accepted.pk,
        "answers": {**ANSWERS, "answered_by": rep.pk, "answered_at": "2026-03-02T10:00:00Z"},
    }


def test_a_lead_without_answers_shows_none(rep_client, accepted):
    assert rep_client.get(url(accepted.pk, "discovery")).json() == {
        "lead": accepted.pk,
        "answers": None,
    }


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [("other_rep_client", 404, "not_found"), ("anonymous", 401, "not_authenticated")],
)
def test_discovery_is_read_by_those_who_see_the_lead(request, accepted, who, status, code):
    assert_error(request.getfixturevalue(who).get(url(accepted.pk, "discovery")), status, code)


def test_every_missing_or_empty_item_is_named_and_nothing_changes(rep_client, accepted):
    before = snapshot(accepted.pk)
    answers = {**ANSWERS, "budget": "  ", "timeframe": ""}
    del answers["decision_makers"]
    del answers["product_fit"]

    response = rep_client.post(url(accepted.pk, "qualify"), answers, format="json")

    body = assert_error(
        response,
        400,
        "discovery_incomplete",
        fields={"budget", "timeframe", "decision_makers", "product_fit"},
    )
    assert "budget" in body["message"] and "decision_makers" in body["message"]
    assert snapshot(accepted.pk) == before


def test_the_product_must_fit(rep_client, accepted):
    before = snapshot(accepted.pk)

    response = rep_client.post(
        url(accepted.pk, "qualify"), {**ANSWERS, "product_fit": False}, format="json"
    )

    assert_error(response, 400, "discovery_incomplete", fields={"product_fit"})
    assert snapshot(accepted.pk) == before


def test_only_an_accepted_lead_is_qualified(rep_client, rep):
    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL))
    before = snapshot(assignment.lead_id)

    response = rep_client.post(url(assignment.lead_id, "qualify"), ANSWERS, format="json")

    assert_error(response, 409, "illegal_transition")
    assert snapshot(assignment.lead_id) == before


def test_qualifying_again_after_a_recycle_replaces_the_answers(rep, qualified):
    lead_services.lead_transition(lead_id=qualified.pk, to=Stage.MQL, actor=rep, reason="later")
    decisions.assignments_sync(lead_ids=[qualified.pk])  # what the stage hook's receiver does
    AssignmentFactory(rep=rep, lead=qualified)
    decisions.lead_accept(lead_id=qualified.pk, actor=rep)

    decisions.lead_qualify(lead_id=qualified.pk, actor=rep, answers={**ANSWERS, "budget": "50k"})

    assert list(Discovery.objects.values_list("lead_id", "budget")) == [(qualified.pk, "50k")]


def test_a_manager_qualifies_any_reps_lead(manager_client, accepted):
    response = manager_client.post(url(accepted.pk, "qualify"), ANSWERS, format="json")

    assert response.json()["stage"] == "SQL"


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("other_rep_client", 404, "not_found"),
        ("marketer_client", 403, "permission_denied"),
        ("anonymous", 401, "not_authenticated"),
    ],
)
def test_only_the_owner_qualifies(request, accepted, who, status, code):
    before = snapshot(accepted.pk)

    response = request.getfixturevalue(who).post(url(accepted.pk, "qualify"), ANSWERS, "json")

    assert_error(response, status, code)
    assert snapshot(accepted.pk) == before


# --- close ------------------------------------------------------------------------------------


def test_won_makes_a_customer_and_frees_the_rep(
    rep_client, qualified, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.post(
            url(qualified.pk, "close"), {"outcome": "won", "reason": "signed"}, format="json"
        )

    assert response.status_code == 200, response.content
    assert response.json()["stage"] == "CUSTOMER"
    assignment = Assignment.objects.get(lead=qualified)
    assert assignment.status == AssignmentStatus.RELEASED and assignment.ended_at is not None
    assert qualified.stage_changes.order_by("-id").first().reason == "Won: signed"
    assert (ROUTE_POOL, ()) in published


def test_lost_disqualifies_with_the_loss_reason(rep_client, qualified):
    response = rep_client.post(
        url(qualified.pk, "close"), {"outcome": "lost", "reason": "chose Acme"}, format="json"
    )

    assert response.json()["stage"] == "DISQUALIFIED"
    assert qualified.stage_changes.order_by("-id").first().reason == "Lost: chose Acme"
    assert Assignment.objects.get(lead=qualified).status == AssignmentStatus.RELEASED


def test_lost_needs_a_reason(rep_client, qualified):
    before = snapshot(qualified.pk)

    response = rep_client.post(url(qualified.pk, "close"), {"outcome": "lost"}, format="json")

    assert_error(response, 400, "reason_required", fields={"reason"})
    assert snapshot(qualified.pk) == before


def test_an_unknown_outcome_is_refused(rep_client, qualified):
    response = rep_client.post(url(qualified.pk, "close"), {"outcome": "maybe"}, format="json")

    assert_error(response, 400, "invalid", fields={"outcome"})


def test_only_a_qualified_lead_is_closed(rep_client, accepted):
    before = snapshot(accepted.pk)

    response = rep_client.post(url(accepted.pk, "close"), {"outcome": "won"}, format="json")

    assert_error(response, 409, "illegal_transition")
    assert snapshot(accepted.pk) == before


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("other_rep_client", 404, "not_found"),
        ("marketer_client", 403, "permission_denied"),
        ("anonymous", 401, "not_authenticated"),
    ],
)
def test_only_the_owner_closes(request, qualified, who, status, code):
    before = snapshot(qualified.pk)

    response = request.getfixturevalue(who).post(
        url(qualified.pk, "close"), {"outcome": "won"}, format="json"
    )

    assert_error(response, status, code)
    assert snapshot(qualified.pk) == before
