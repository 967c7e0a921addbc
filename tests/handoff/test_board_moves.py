"""Moves on the pipeline board (POST /board/leads/<id>/move/): each legal and illegal move per
role, the ones that need a reason or the checklist, the JSON a drop gets and the redirect the
"Move to…" form gets."""

import pytest
from django.test import Client

from handoff.models import Assignment, AssignmentStatus, Discovery, Rejection
from leads.models import Lead, Stage
from tests.factories import AssignmentFactory, LeadFactory
from tests.handoff.decisions_helpers import snapshot

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}

ANSWERS = {
    "product_fit": "on",
    "decision_makers": "The CTO",
    "decision_process": "A trial",
    "timeframe": "This quarter",
    "current_solution": "Spreadsheets",
    "budget": "20k",
}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def drop(user, lead, to, **data):
    """A card dropped on the column `to`, as static/js/board.js sends it."""
    return logged_in(user).post(f"/board/leads/{lead.pk}/move/", {"to": to, **data}, **JSON)


def stage_of(lead) -> str:
    return Lead.objects.get(pk=lead.pk).stage


# --- marketers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, to, data",
    [
        (Stage.IQL, Stage.MQL, {}),
        (Stage.IQL, Stage.PQL, {}),
        (Stage.MQL, Stage.PQL, {}),
        (Stage.PQL, Stage.MQL, {"reason": "Went quiet"}),
        (Stage.IQL, Stage.DISQUALIFIED, {"reason": "Spam"}),
        (Stage.SAL, Stage.MQL, {"reason": "Needs more nurture"}),
        (Stage.SQL, Stage.DISQUALIFIED, {"reason": "Company closed"}),
        (Stage.DISQUALIFIED, Stage.IQL, {"reason": "Came back"}),
    ],
)
def test_marketer_legal_moves_land(marketer, rep, start, to, data):
    lead = LeadFactory(stage=start, owner=rep if start in (Stage.SAL, Stage.SQL) else None)

    response = drop(marketer, lead, to, **data)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["lead"], body["stage"]) == (lead.pk, to)
    assert stage_of(lead) == to
    row = lead.stage_changes.order_by("-id").first()
    assert (row.from_stage, row.to_stage, row.changed_by_id, row.reason) == (
        start,
        to,
        marketer.pk,
        data.get("reason", ""),
    )


FORBIDDEN = (403, "transition_forbidden", "A marketer cannot move a lead from {} to {}.")
ILLEGAL = (409, "illegal_transition", "A lead cannot move from {} to {}.")


@pytest.mark.parametrize(
    "start, to, refusal",
    [
        (Stage.MQL, Stage.SAL, FORBIDDEN),
        (Stage.PQL, Stage.SAL, FORBIDDEN),
        (Stage.SAL, Stage.SQL, FORBIDDEN),
        (Stage.SQL, Stage.CUSTOMER, FORBIDDEN),
        (Stage.IQL, Stage.SAL, ILLEGAL),
        (Stage.MQL, Stage.IQL, ILLEGAL),
        (Stage.CUSTOMER, Stage.MQL, ILLEGAL),
        (Stage.IQL, Stage.IQL, ILLEGAL),
        (Stage.IQL, "NOPE", ILLEGAL),
    ],
)
def test_marketer_illegal_moves_are_refused_with_why(marketer, rep, start, to, refusal):
    status, code, message = refusal[0], refusal[1], refusal[2].format(start, to)
    lead = LeadFactory(stage=start, owner=rep if start != Stage.IQL else None)
    before = snapshot(lead.pk)

    response = drop(marketer, lead, to)

    assert response.status_code == status
    assert (response.json()["code"], response.json()["message"]) == (code, message)
    assert snapshot(lead.pk) == before


def test_marketer_may_not_accept_for_a_rep(marketer, rep):
    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL))
    before = snapshot(assignment.lead_id)

    response = drop(marketer, assignment.lead, Stage.SAL)

    assert response.status_code == 403
    assert snapshot(assignment.lead_id) == before


@pytest.mark.parametrize(
    "start, to",
    [
        (Stage.IQL, Stage.DISQUALIFIED),
        (Stage.PQL, Stage.MQL),
        (Stage.DISQUALIFIED, Stage.IQL),
    ],
)
@pytest.mark.parametrize("reason", ["", "   "])
def test_a_move_that_needs_a_reason_is_refused_without_one(marketer, start, to, reason):
    lead = LeadFactory(stage=start)
    before = snapshot(lead.pk)

    response = drop(marketer, lead, to, reason=reason)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "reason_required"
    assert body["fields"] == {"reason": ["This field is required."]}
    assert snapshot(lead.pk) == before


# --- reps --------------------------------------------------------------------------------------


@pytest.fixture
def pending(rep):
    return AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL, score=55))


def test_rep_accepts_by_dropping_on_sal(rep, pending):
    response = drop(rep, pending.lead, Stage.SAL)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stage"] == "SAL"
    assert body["totals"] == {
        "MQL": {"count": 0, "score_sum": 0, "score_avg": None},
        "SAL": {"count": 1, "score_sum": 55, "score_avg": 55.0},
    }
    assert f'id="card-{pending.lead_id}"' in body["card"]
    assert 'data-stage="SAL"' in body["card"]
    assert body["message"] == f"Moved {pending.lead.full_name} to SAL."
    pending.refresh_from_db()
    assert pending.status == AssignmentStatus.ACCEPTED


def test_rep_claims_from_the_pool(rep, pool_mode):
    lead = LeadFactory(stage=Stage.PQL)

    response = drop(rep, lead, Stage.SAL)

    assert response.status_code == 200, response.content
    lead.refresh_from_db()
    assert (lead.stage, lead.owner_id) == (Stage.SAL, rep.pk)
    assert Assignment.objects.get(lead=lead).status == AssignmentStatus.ACCEPTED


def test_rep_reject_asks_for_a_reject_reason_first(rep, pending):
    before = snapshot(pending.lead_id)

    response = drop(rep, pending.lead, Stage.DISQUALIFIED, reason="free text is not a code")

    assert response.status_code == 400
    assert response.json()["code"] == "move_needs_input"
    assert snapshot(pending.lead_id) == before


def test_rep_rejects_onto_disqualified(rep, pending):
    response = drop(rep, pending.lead, Stage.DISQUALIFIED, reject_reason="not_a_fit", note="B2C")

    assert response.status_code == 200, response.content
    assert stage_of(pending.lead) == Stage.DISQUALIFIED
    rejection = Rejection.objects.get(lead_id=pending.lead_id)
    assert (rejection.reason, rejection.note, rejection.rep_id) == ("not_a_fit", "B2C", rep.pk)
    pending.refresh_from_db()
    assert pending.status == AssignmentStatus.REJECTED
    # Disqualified, the lead stays the rep's: its card lands there, with no move left to them.
    assert 'data-stage="DISQUALIFIED" data-moves=""' in response.json()["card"]


def test_rep_rejects_a_pql_back_to_nurture(rep):
    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.PQL))

    response = drop(rep, assignment.lead, Stage.MQL, reject_reason="bad_timing")

    assert response.status_code == 200, response.content
    lead = Lead.objects.get(pk=assignment.lead_id)
    assert (lead.stage, lead.owner_id, lead.recycle_count) == (Stage.MQL, None, 1)
    assert Rejection.objects.get(lead=lead).reason == "bad_timing"
    # Back in nurture, the lead is no longer the rep's: its card leaves their board.
    assert (response.json()["stage"], response.json()["card"]) == ("MQL", "")


@pytest.mark.parametrize(
    "to, reject_reason",
    [
        (Stage.DISQUALIFIED, "bad_timing"),
        (Stage.MQL, "not_a_fit"),
        (Stage.DISQUALIFIED, "duplicate"),
    ],
)
def test_reject_reason_must_fit_the_column(rep, to, reject_reason):
    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.PQL))
    before = snapshot(assignment.lead_id)

    response = drop(rep, assignment.lead, to, reject_reason=reject_reason)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_reason"
    assert snapshot(assignment.lead_id) == before


def test_reject_other_needs_a_note(rep):
    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.PQL))
    before = snapshot(assignment.lead_id)

    response = drop(rep, assignment.lead, Stage.MQL, reject_reason="other")

    assert (response.status_code, response.json()["code"]) == (400, "note_required")
    assert snapshot(assignment.lead_id) == before


@pytest.fixture
def accepted(rep):
    from handoff.services import decisions

    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL))
    decisions.lead_accept(lead_id=assignment.lead_id, actor=rep)
    return Lead.objects.get(pk=assignment.lead_id)


def test_rep_qualify_needs_the_checklist(rep, accepted):
    before = snapshot(accepted.pk)

    response = drop(rep, accepted, Stage.SQL)

    assert (response.status_code, response.json()["code"]) == (400, "move_needs_input")
    assert snapshot(accepted.pk) == before


def test_rep_qualify_with_a_missing_answer_is_refused(rep, accepted):
    before = snapshot(accepted.pk)

    response = drop(rep, accepted, Stage.SQL, **{**ANSWERS, "budget": ""})

    assert (response.status_code, response.json()["code"]) == (400, "discovery_incomplete")
    assert response.json()["fields"] == {"budget": ["Answer this item."]}
    assert snapshot(accepted.pk) == before


def test_rep_qualifies_with_the_checklist(rep, accepted):
    response = drop(rep, accepted, Stage.SQL, **ANSWERS)

    assert response.status_code == 200, response.content
    assert stage_of(accepted) == Stage.SQL
    assert Discovery.objects.get(lead=accepted).budget == "20k"


def test_rep_wins_a_deal(rep, accepted):
    drop(rep, accepted, Stage.SQL, **ANSWERS)

    response = drop(rep, accepted, Stage.CUSTOMER)

    assert response.status_code == 200, response.content
    assert stage_of(accepted) == Stage.CUSTOMER
    assert Assignment.objects.get(lead=accepted).status == AssignmentStatus.RELEASED


def test_rep_loses_a_deal_only_with_a_reason(rep, accepted):
    drop(rep, accepted, Stage.SQL, **ANSWERS)
    before = snapshot(accepted.pk)

    refused = drop(rep, accepted, Stage.DISQUALIFIED)
    assert (refused.status_code, refused.json()["code"]) == (400, "reason_required")
    assert snapshot(accepted.pk) == before

    response = drop(rep, accepted, Stage.DISQUALIFIED, reason="Chose a cheaper tool")

    assert response.status_code == 200, response.content
    row = accepted.stage_changes.order_by("-id").first()
    assert (row.to_stage, row.reason) == (Stage.DISQUALIFIED, "Lost: Chose a cheaper tool")


@pytest.mark.parametrize(
    "start, to, status",
    [
        (Stage.SAL, Stage.CUSTOMER, 409),  # the lifecycle has no such move
        (Stage.SQL, Stage.SAL, 409),
        (Stage.IQL, Stage.MQL, 403),  # marketing's move
        (Stage.MQL, Stage.PQL, 403),
    ],
)
def test_rep_illegal_moves_on_own_leads_are_refused(rep, start, to, status):
    lead = LeadFactory(stage=start, owner=rep)
    before = snapshot(lead.pk)

    response = drop(rep, lead, to)

    assert response.status_code == status
    assert response.json()["message"]
    assert snapshot(lead.pk) == before


@pytest.mark.parametrize("to", [Stage.SQL, Stage.MQL, Stage.DISQUALIFIED])
def test_rep_cannot_move_another_reps_lead(rep, other_rep, to):
    lead = LeadFactory(stage=Stage.SAL, owner=other_rep)
    before = snapshot(lead.pk)

    response = drop(rep, lead, to, reason="mine now")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert snapshot(lead.pk) == before


def test_rep_cannot_disqualify_a_pool_lead(rep, pool_mode):
    lead = LeadFactory(stage=Stage.MQL)
    before = snapshot(lead.pk)

    response = drop(rep, lead, Stage.DISQUALIFIED, reason="Not for us")

    assert response.status_code == 403
    assert "accept the lead first" in response.json()["message"]
    assert snapshot(lead.pk) == before


# --- managers ----------------------------------------------------------------------------------


def test_manager_accepts_for_the_assigned_rep(manager, rep, pending):
    response = drop(manager, pending.lead, Stage.SAL)

    assert response.status_code == 200, response.content
    lead = Lead.objects.get(pk=pending.lead_id)
    assert (lead.stage, lead.owner_id) == (Stage.SAL, rep.pk)


def test_manager_rejects_for_the_assigned_rep(manager, pending):
    response = drop(manager, pending.lead, Stage.DISQUALIFIED, reject_reason="competitor")

    assert response.status_code == 200, response.content
    assert Rejection.objects.get(lead_id=pending.lead_id).reason == "competitor"


def test_manager_may_not_make_marketings_moves(manager):
    lead = LeadFactory(stage=Stage.IQL)

    response = drop(manager, lead, Stage.MQL)

    assert response.status_code == 403
    assert stage_of(lead) == Stage.IQL


# --- the dialog's form (GET ?to=) --------------------------------------------------------------


def test_move_form_for_a_reject_offers_the_columns_reasons(rep, pending):
    response = logged_in(rep).get(
        f"/board/leads/{pending.lead_id}/move/", {"to": "DISQUALIFIED"}, HTTP_X_BOARD_DIALOG="1"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert '<h2 id="board-dialog-title">' in html
    assert '<option value="not_a_fit">' in html and '<option value="competitor">' in html
    assert "bad_timing" not in html
    assert 'name="form"' not in html  # in the dialog: answered with JSON
    assert "<html" not in html


def test_move_form_for_qualify_is_the_checklist(rep, accepted):
    html = logged_in(rep).get(f"/board/leads/{accepted.pk}/move/", {"to": "SQL"}).content.decode()

    for name in ANSWERS:
        assert f'name="{name}"' in html
    assert '<input type="hidden" name="form" value="page">' in html  # a page of its own
    assert "<html" in html


def test_move_form_refuses_before_asking(marketer, rep, accepted):
    response = logged_in(marketer).get(
        f"/board/leads/{accepted.pk}/move/", {"to": "SQL"}, **JSON, HTTP_X_BOARD_DIALOG="1"
    )

    assert response.status_code == 403
    assert response.json()["message"] == "A marketer cannot move a lead from SAL to SQL."


def test_move_form_of_another_reps_lead_is_404(rep, other_rep):
    lead = LeadFactory(stage=Stage.SAL, owner=other_rep)

    response = logged_in(rep).get(f"/board/leads/{lead.pk}/move/", {"to": "MQL"}, **JSON)

    assert response.status_code == 404


# --- without JavaScript: the Move to… form -----------------------------------------------------


def test_move_to_form_redirects_back_to_the_board_with_a_message(marketer):
    lead = LeadFactory(stage=Stage.IQL, first_name="Ada", last_name="Lovelace")
    client = logged_in(marketer)

    response = client.post(f"/board/leads/{lead.pk}/move/?source=other", {"to": "MQL"})

    assert (response.status_code, response["Location"]) == (302, "/board/?source=other")
    assert "Moved Ada Lovelace to MQL." in client.get(response["Location"]).content.decode()
    assert stage_of(lead) == Stage.MQL


def test_move_to_form_refusal_is_shown_on_the_board(marketer):
    lead = LeadFactory(stage=Stage.IQL)
    client = logged_in(marketer)

    response = client.post(f"/board/leads/{lead.pk}/move/", {"to": "DISQUALIFIED"})

    assert (response.status_code, response["Location"]) == (302, "/board/")
    html = client.get("/board/").content.decode()
    assert 'class="flash error"' in html
    assert "Moving a lead to DISQUALIFIED (disqualify) needs a reason." in html
    assert stage_of(lead) == Stage.IQL


def test_move_to_form_sends_a_reject_to_its_form_page(rep, pending):
    client = logged_in(rep)

    response = client.post(f"/board/leads/{pending.lead_id}/move/", {"to": "DISQUALIFIED"})

    assert response.status_code == 302
    assert response["Location"] == f"/board/leads/{pending.lead_id}/move/?to=DISQUALIFIED"
    page = client.get(response["Location"]).content.decode()
    assert 'name="reject_reason"' in page
    assert stage_of(pending.lead) == Stage.MQL


def test_form_page_shows_a_refusal_and_keeps_what_was_typed(rep, pending):
    response = logged_in(rep).post(
        f"/board/leads/{pending.lead_id}/move/",
        {"to": "DISQUALIFIED", "form": "page", "reject_reason": "duplicate", "note": "kept"},
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "a rejection&#x27;s reason is one of: Not a fit, Went with a competitor" in html
    assert ">kept</textarea>" in html
    assert stage_of(pending.lead) == Stage.MQL


def test_form_page_post_moves_and_returns_to_the_board(rep, accepted):
    response = logged_in(rep).post(
        f"/board/leads/{accepted.pk}/move/", {"to": "SQL", "form": "page", **ANSWERS}
    )

    assert (response.status_code, response["Location"]) == (302, "/board/")
    assert stage_of(accepted) == Stage.SQL


def test_a_move_needs_a_csrf_token(marketer):
    lead = LeadFactory(stage=Stage.IQL)
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)

    response = client.post(f"/board/leads/{lead.pk}/move/", {"to": "MQL"}, **JSON)

    assert response.status_code == 403
    assert stage_of(lead) == Stage.IQL
