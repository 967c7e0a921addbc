"""Returning a lead to nurture (lifecycle.recycle_move, leads.services.lead_return_to_nurture)
and the reads built on it (lead_returned_to_nurture_q, lead_stage_entry)."""

import pytest

from leads import lifecycle, services
from leads.lifecycle import Actor, MoveKind
from leads.models import Lead, Stage, StageChange
from leads.selectors import lead_returned_to_nurture_q, lead_stage_entry
from tests.factories import LeadFactory

RECYCLABLE = [Stage.MQL, Stage.PQL, Stage.SAL, Stage.SQL]


@pytest.mark.parametrize("stage", Stage.values)
def test_recycle_move_exists_from_the_handoff_and_sales_stages_only(stage):
    move = lifecycle.recycle_move(stage)

    if stage in RECYCLABLE:
        assert move is not None and move.kind is MoveKind.RECYCLE and move.needs_reason
    else:
        assert move is None


def test_returning_an_mql_lead_is_for_sales_only():
    assert lifecycle.recycle_move(Stage.MQL).actors == {Actor.REP, Actor.MANAGER, Actor.ADMIN}
    with pytest.raises(lifecycle.MoveNotAllowed):
        lifecycle.check_recycle(from_stage=Stage.MQL, actor=Actor.MARKETER, reason="x")
    with pytest.raises(lifecycle.MoveNeedsReason):
        lifecycle.check_recycle(from_stage=Stage.MQL, actor=Actor.REP, reason=" ")
    with pytest.raises(lifecycle.IllegalMove):
        lifecycle.check_recycle(from_stage=Stage.IQL, actor=Actor.ADMIN, reason="x")


def test_the_generic_transition_still_has_no_move_to_the_same_stage():
    with pytest.raises(lifecycle.IllegalMove):
        lifecycle.check_move(from_stage="MQL", to_stage="MQL", actor=Actor.ADMIN, reason="x")


@pytest.mark.parametrize(
    ("frm", "to", "expected"),
    [
        ("MQL", "MQL", True),
        ("PQL", "MQL", True),
        ("SAL", "MQL", True),
        ("SQL", "MQL", True),
        ("IQL", "MQL", False),
        ("", "MQL", False),
        ("MQL", "PQL", False),
        ("SAL", "DISQUALIFIED", False),
    ],
)
def test_is_recycle_tells_history_rows_that_returned_a_lead(frm, to, expected):
    assert lifecycle.is_recycle(frm, to) is expected


@pytest.mark.django_db
@pytest.mark.parametrize("frm", RECYCLABLE)
def test_return_to_nurture_clears_the_owner_counts_and_records_a_recycle(
    rep, frm, django_capture_on_commit_callbacks
):
    lead = LeadFactory(stage=frm, owner=rep, recycle_count=2)

    with django_capture_on_commit_callbacks() as callbacks:
        services.lead_return_to_nurture(lead_id=lead.pk, actor=rep, reason=" not this year ")

    lead.refresh_from_db()
    assert (lead.stage, lead.owner_id, lead.recycle_count) == (Stage.MQL, None, 3)
    row = lead.stage_changes.order_by("-id").first()
    assert (row.from_stage, row.to_stage, row.changed_by_id, row.reason) == (
        frm,
        "MQL",
        rep.pk,
        "not this year",
    )
    assert row.changed_at == lead.stage_entered_at
    assert len(callbacks) >= 1  # the lead_stage_entered hook, after the commit


@pytest.mark.django_db
def test_a_rep_returns_only_leads_assigned_to_them(rep, other_rep):
    lead = LeadFactory(stage=Stage.MQL, owner=other_rep)

    with pytest.raises(services.TransitionForbidden):
        services.lead_return_to_nurture(lead_id=lead.pk, actor=rep, reason="x")

    lead.refresh_from_db()
    assert (lead.owner_id, lead.recycle_count, lead.stage_changes.count()) == (other_rep.pk, 0, 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stage", "reason", "error"),
    [
        (Stage.IQL, "x", services.IllegalTransition),
        (Stage.CUSTOMER, "x", services.IllegalTransition),
        (Stage.DISQUALIFIED, "x", services.IllegalTransition),
        (Stage.SAL, "  ", services.ReasonRequired),
    ],
)
def test_return_to_nurture_refusals_change_nothing(admin_user, stage, reason, error):
    lead = LeadFactory(stage=stage)

    with pytest.raises(error):
        services.lead_return_to_nurture(lead_id=lead.pk, actor=admin_user, reason=reason)

    assert (Lead.objects.get(pk=lead.pk).stage, lead.stage_changes.count()) == (stage, 1)


@pytest.mark.django_db
def test_returned_to_nurture_q_finds_leads_still_where_sales_put_them(rep, marketer):
    returned = LeadFactory(stage=Stage.SAL, owner=rep)
    services.lead_return_to_nurture(lead_id=returned.pk, actor=rep, reason="later")
    requalified = LeadFactory(stage=Stage.SAL, owner=rep)
    services.lead_return_to_nurture(lead_id=requalified.pk, actor=rep, reason="later")
    services.lead_promote(lead_id=requalified.pk, to=Stage.PQL, rule="scoring: PQL")
    fresh = LeadFactory(stage=Stage.IQL)
    services.lead_promote(lead_id=fresh.pk, to=Stage.MQL, rule="scoring: MQL")

    found = Lead.objects.filter(lead_returned_to_nurture_q())

    assert list(found.values_list("pk", flat=True)) == [returned.pk]


@pytest.mark.django_db
def test_stage_entry_is_the_row_of_the_latest_entry_into_the_current_stage(marketer):
    lead = LeadFactory(stage=Stage.IQL)
    services.lead_promote(lead_id=lead.pk, to=Stage.MQL, rule="scoring: MQL threshold 50")
    services.lead_transition(lead_id=lead.pk, to=Stage.PQL, actor=marketer)
    lead.refresh_from_db()

    entry = lead_stage_entry(lead=lead)

    assert (entry.from_stage, entry.to_stage, entry.rule, entry.changed_by) == (
        "MQL",
        "PQL",
        "",
        marketer,
    )
    assert lead_stage_entry(lead=Lead(pk=0, stage=Stage.IQL)) is None


# --- merging -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stage_changes_move_to_the_kept_lead_saying_where_they_came_from():
    keep, other = LeadFactory(), LeadFactory()
    StageChange.objects.filter(lead=other).update(reason="created")

    moved = services.stage_changes_move_to_lead(from_lead_id=other.pk, to_lead_id=keep.pk)

    assert moved == 1
    assert sorted(keep.stage_changes.values_list("reason", flat=True)) == [
        f"(merged from lead {other.pk}) created",
        "created",
    ]


@pytest.mark.django_db
def test_absorb_fills_blanks_from_the_other_lead_and_deletes_it(rep):
    keep = LeadFactory(first_name="", phone="", external_id=None, traits={"plan": "pro"})
    other = LeadFactory(
        first_name="Ada",
        last_name="Other",
        phone="+49 30 1234567",
        external_id="u-7",
        company_size=40,
        traits={"plan": "free", "seats": 3},
    )

    filled = services.lead_absorb(lead_id=keep.pk, other_id=other.pk)

    assert filled == ["first_name", "phone", "company_size", "external_id", "traits"]
    keep.refresh_from_db()
    assert (keep.first_name, keep.last_name, keep.phone, keep.external_id) == (
        "Ada",
        "Lead",
        "+49 30 1234567",
        "u-7",
    )
    assert (keep.company_size, keep.traits) == (40, {"plan": "pro", "seats": 3})
    assert not Lead.objects.filter(pk=other.pk).exists()
