"""POST /api/v1/leads/{id}/reject/ and handoff.services.decisions.lead_reject."""

from datetime import UTC, datetime

import pytest

from handoff.models import Assignment, AssignmentStatus, Merge, Rejection, RejectReason
from handoff.services import decisions
from handoff.tasks import ROUTE_POOL
from leads.models import Lead, SourceChannel, Stage
from nurturing import services as nurture_services
from nurturing.models import Enrollment, EnrollmentStatus
from playbook.nurturing import playbook_load
from tests.factories import AssignmentFactory, LeadFactory
from tests.handoff.decisions_helpers import promoted, snapshot, url
from tests.support import assert_error

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MQL_RULE = "scoring: MQL threshold 50"


@pytest.fixture
def pending(rep):
    lead = promoted(LeadFactory(source=SourceChannel.PAID_SEARCH), Stage.MQL, MQL_RULE)
    return AssignmentFactory(rep=rep, lead=lead)


def reject(client, lead_id: int, **body):
    return client.post(url(lead_id, "reject"), body, format="json")


@pytest.mark.parametrize(
    "reason", [RejectReason.BAD_TIMING, RejectReason.NO_BUDGET, RejectReason.NO_RESPONSE]
)
def test_rejecting_for_timing_budget_or_silence_returns_the_lead_to_nurture(
    rep_client, rep, pending, published, reason, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = reject(rep_client, pending.lead_id, reason=reason, note="call in Q3")

    assert response.status_code == 200, response.content
    lead = Lead.objects.get(pk=pending.lead_id)
    assert (lead.stage, lead.owner_id, lead.recycle_count) == (Stage.MQL, None, 1)
    last = lead.stage_changes.order_by("-id").first()
    label = RejectReason(reason).label
    assert (last.from_stage, last.to_stage, last.changed_by_id, last.reason) == (
        "MQL",
        "MQL",
        rep.pk,
        f"Rejected: {label} (call in Q3)",
    )
    pending.refresh_from_db()
    assert pending.status == AssignmentStatus.REJECTED
    assert pending.decided_at == pending.ended_at is not None
    assert (ROUTE_POOL, ()) in published


def test_the_rejection_records_what_made_the_lead_mql(rep, pending):
    decisions.lead_reject(
        lead_id=pending.lead_id, actor=rep, reason="no_budget", note=" tight year ", now=NOW
    )

    row = Rejection.objects.get()
    assert (row.lead_id, row.rep_id, row.assignment_id) == (pending.lead_id, rep.pk, pending.pk)
    assert (row.reason, row.note, row.duplicate_of_id) == ("no_budget", "tight year", None)
    assert (row.source, row.stage, row.qualified_by) == ("paid_search", "MQL", MQL_RULE)
    assert row.rejected_at == NOW


def test_a_pql_lead_rejected_is_recycled_to_mql_and_names_the_pql_condition(rep):
    lead = promoted(LeadFactory(), Stage.PQL, "scoring: 20 x Task Created within 14 days")
    AssignmentFactory(rep=rep, lead=lead)

    decisions.lead_reject(lead_id=lead.pk, actor=rep, reason="bad_timing")

    lead.refresh_from_db()
    assert (lead.stage, lead.owner_id, lead.recycle_count) == (Stage.MQL, None, 1)
    assert lead.stage_changes.order_by("-id").values_list("from_stage", "to_stage")[0] == (
        "PQL",
        "MQL",
    )
    row = Rejection.objects.get()
    assert (row.stage, row.qualified_by) == ("PQL", "scoring: 20 x Task Created within 14 days")


def test_a_lead_moved_by_hand_is_qualified_by_hand(rep, marketer):
    lead = LeadFactory()
    from leads.services import lead_transition

    lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=marketer)
    AssignmentFactory(rep=rep, lead=lead)

    decisions.lead_reject(lead_id=lead.pk, actor=rep, reason="no_response")

    assert Rejection.objects.get().qualified_by == "by hand"


def test_a_rejected_lead_starts_the_re_engagement_sequence(rep, pending):
    playbook_load()
    nurture_services.leads_stage_entered(lead_ids=[pending.lead_id])
    Enrollment.objects.update(status=EnrollmentStatus.EXITED)  # the MQL offer series, done

    decisions.lead_reject(lead_id=pending.lead_id, actor=rep, reason="bad_timing")
    nurture_services.leads_stage_entered(lead_ids=[pending.lead_id])

    active = Enrollment.objects.filter(lead_id=pending.lead_id, status=EnrollmentStatus.ACTIVE)
    assert list(active.values_list("sequence__key", flat=True)) == ["recycled-reengagement"]


def test_the_rejected_lead_leaves_the_pool_in_pool_mode(pool_mode, rep, other_rep_client, pending):
    decisions.lead_reject(lead_id=pending.lead_id, actor=rep, reason="bad_timing")

    response = other_rep_client.get("/api/v1/leads/")
    assert pending.lead_id not in [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize("reason", [RejectReason.NOT_A_FIT, RejectReason.COMPETITOR])
def test_not_a_fit_or_competitor_disqualifies(rep_client, rep, pending, reason):
    response = reject(rep_client, pending.lead_id, reason=reason)

    assert response.status_code == 200, response.content
    lead = Lead.objects.get(pk=pending.lead_id)
    assert (lead.stage, lead.recycle_count) == (Stage.DISQUALIFIED, 0)
    assert lead.stage_changes.order_by("-id").first().reason == (
        f"Rejected: {RejectReason(reason).label}"
    )
    assert Assignment.objects.get(pk=pending.pk).status == AssignmentStatus.REJECTED


def test_other_needs_a_note_and_then_returns_to_nurture(rep_client, pending):
    before = snapshot(pending.lead_id)

    refused = reject(rep_client, pending.lead_id, reason="other", note="   ")

    assert_error(refused, 400, "note_required", fields={"note"})
    assert snapshot(pending.lead_id) == before
    accepted = reject(rep_client, pending.lead_id, reason="other", note="reorganising")
    assert accepted.json()["stage"] == "MQL"
    assert Rejection.objects.get().note == "reorganising"


def test_an_unknown_reason_lists_the_valid_ones_and_changes_nothing(rep_client, pending):
    before = snapshot(pending.lead_id)

    body = assert_error(
        reject(rep_client, pending.lead_id, reason="too_small"), 400, "invalid_reason", {"reason"}
    )

    for code in RejectReason.values:
        assert code in body["message"]
    assert snapshot(pending.lead_id) == before


def test_a_duplicate_is_merged_into_the_lead_it_duplicates(rep_client, rep, pending):
    kept = LeadFactory(stage=Stage.SAL, owner=rep, phone="")
    Lead.objects.filter(pk=pending.lead_id).update(phone="+1 555 0100")

    response = reject(rep_client, pending.lead_id, reason="duplicate", duplicate_of=kept.pk)

    assert response.status_code == 200, response.content
    assert response.json()["id"] == kept.pk
    assert not Lead.objects.filter(pk=pending.lead_id).exists()
    row = Rejection.objects.get()
    assert (row.lead_id, row.duplicate_of_id, row.reason) == (kept.pk, kept.pk, "duplicate")
    assignment = Assignment.objects.get(pk=pending.pk)
    assert (assignment.lead_id, assignment.status) == (kept.pk, AssignmentStatus.REJECTED)
    merge = Merge.objects.get()
    assert (merge.lead_id, merge.merged_lead_id) == (kept.pk, pending.lead_id)
    kept.refresh_from_db()
    assert (kept.stage, kept.owner_id, kept.phone) == (Stage.SAL, rep.pk, "+1 555 0100")


@pytest.mark.parametrize("duplicate_of", [None, "self", "others", 999999])
def test_a_duplicate_needs_another_lead_the_rep_sees(rep_client, other_rep, pending, duplicate_of):
    others = LeadFactory(owner=other_rep)
    target = {"self": pending.lead_id, "others": others.pk}.get(duplicate_of, duplicate_of)
    before = snapshot(pending.lead_id)

    response = reject(rep_client, pending.lead_id, reason="duplicate", duplicate_of=target)

    assert_error(response, 400, "invalid", fields={"duplicate_of"})
    assert snapshot(pending.lead_id) == before
    assert Lead.objects.filter(pk=others.pk).exists()


def test_an_accepted_lead_is_not_rejected(rep_client, pending):
    rep_client.post(url(pending.lead_id, "accept"))
    before = snapshot(pending.lead_id)

    assert_error(reject(rep_client, pending.lead_id, reason="no_budget"), 409, "already_accepted")
    assert snapshot(pending.lead_id) == before


def test_a_pool_lead_is_claimed_before_it_is_rejected(pool_mode, rep_client):
    lead = LeadFactory(stage=Stage.MQL)
    before = snapshot(lead.pk)

    assert_error(reject(rep_client, lead.pk, reason="no_budget"), 403, "not_assigned")
    assert snapshot(lead.pk) == before


def test_a_manager_rejects_for_the_assigned_rep(manager_client, rep, pending):
    response = reject(manager_client, pending.lead_id, reason="not_a_fit")

    assert response.json()["stage"] == "DISQUALIFIED"
    assert Rejection.objects.get().rep_id == rep.pk


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("other_rep_client", 404, "not_found"),
        ("marketer_client", 403, "permission_denied"),
        ("anonymous", 401, "not_authenticated"),
    ],
)
def test_only_the_assigned_rep_rejects(request, pending, who, status, code):
    before = snapshot(pending.lead_id)

    response = reject(request.getfixturevalue(who), pending.lead_id, reason="no_budget")

    assert_error(response, status, code)
    assert snapshot(pending.lead_id) == before


def test_reason_is_required(rep_client, pending):
    assert_error(rep_client.post(url(pending.lead_id, "reject"), {}), 400, "invalid", {"reason"})
