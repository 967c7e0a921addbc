"""Duplicates (GET /api/v1/leads/{id}/duplicates/) and merging (POST /api/v1/leads/{id}/merge/)."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from events.models import Event, Identity, IdentityKind, PendingEvent
from handoff.models import (
    Activity,
    Assignment,
    AssignmentStatus,
    Discovery,
    Merge,
    Rejection,
    Task,
)
from handoff.selectors.duplicates import names_similar
from handoff.services import merge
from handoff.tasks import ROUTE_POOL
from leads.models import Consent, Journey, Lead, Stage, StageChange
from nurturing.models import Enrollment, Message
from playbook import scoring as scoring_playbook
from scoring.models import LedgerEntry
from scoring.services import events_score_batch, leads_fit_refresh
from tests.factories import AssignmentFactory, EventFactory, LeadFactory
from tests.handoff.decisions_helpers import snapshot, url
from tests.leads.test_journey import actual, expected
from tests.nurturing.conftest import make_sequence
from tests.support import assert_error
from web.models import Form, Submission

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def merge_call(client, lead_id: int, other: int):
    return client.post(url(lead_id, "merge"), {"other": other}, format="json")


# --- duplicates --------------------------------------------------------------------------------


def test_candidates_match_on_email_phone_or_domain_with_a_similar_name(marketer_client):
    lead = LeadFactory(
        email="ada+crm@acme.com",
        phone="+1 (555) 010-0100",
        company_domain="www.Acme.com",
        company_name="Acme, Inc.",
    )
    by_email = LeadFactory(email="ADA@acme.com")
    by_phone = LeadFactory(phone="1.555.010.0100")
    by_company = LeadFactory(company_domain="acme.com", company_name="ACME")
    LeadFactory(company_domain="acme.com", company_name="Globex")  # same domain, other name
    LeadFactory(phone="010-0100")  # too few digits to count, and different anyway

    response = marketer_client.get(url(lead.pk, "duplicates"))

    assert response.status_code == 200, response.content
    found = {row["lead"]["id"]: row["reasons"] for row in response.json()}
    assert found == {
        by_email.pk: [
            {"field": "email", "detail": "Same email ignoring case and +tags: ADA@acme.com"}
        ],
        by_phone.pk: [
            {"field": "phone", "detail": "Same phone number: 1.555.010.0100 (15550100100)"}
        ],
        by_company.pk: [
            {
                "field": "company",
                "detail": "Same company domain acme.com and a similar name: 'ACME' ~ 'Acme, Inc.'",
            }
        ],
    }


def test_a_candidate_matching_twice_says_both(marketer_client):
    lead = LeadFactory(email="bo@x.io", phone="+44 20 7946 0000")
    twin = LeadFactory(email="Bo+news@x.io", phone="442079460000")

    [row] = marketer_client.get(url(lead.pk, "duplicates")).json()

    assert row["lead"]["id"] == twin.pk
    assert [reason["field"] for reason in row["reasons"]] == ["email", "phone"]


def test_a_rep_sees_only_candidates_they_may_see(rep, rep_client, other_rep):
    lead = LeadFactory(owner=rep, phone="555 123 4567")
    mine = LeadFactory(owner=rep, phone="5551234567")
    LeadFactory(owner=other_rep, phone="555-123-4567")

    found = [row["lead"]["id"] for row in rep_client.get(url(lead.pk, "duplicates")).json()]

    assert found == [mine.pk]


@pytest.mark.parametrize(
    ("first", "second", "similar"),
    [
        ("Acme, Inc.", "ACME", True),
        ("Acme Corporation", "acme corp", True),
        ("Initech GmbH", "Initec", True),
        ("Globex", "Acme", False),
        ("", "Acme", False),
        ("Inc", "Inc.", False),
    ],
)
def test_company_names_similar(first, second, similar):
    assert names_similar(first, second) is similar


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [("other_rep_client", 404, "not_found"), ("anonymous", 401, "not_authenticated")],
)
def test_duplicates_of_a_lead_one_may_not_see(request, rep, who, status, code):
    lead = LeadFactory(owner=rep)

    assert_error(request.getfixturevalue(who).get(url(lead.pk, "duplicates")), status, code)


def test_duplicates_take_a_bounded_number_of_queries(
    marketer_client, django_assert_max_num_queries
):
    lead = LeadFactory(company_domain="acme.com", company_name="Acme")
    LeadFactory.create_batch(10, company_domain="acme.com", company_name="Acme")

    with django_assert_max_num_queries(2):
        response = marketer_client.get(url(lead.pk, "duplicates"))

    assert len(response.json()) == 10


# --- merge -------------------------------------------------------------------------------------


@pytest.fixture
def pair(rep):
    """Two leads of the rep: the one kept (SAL, scored) and the other with one of everything."""
    scoring_playbook.playbook_load()
    keep = LeadFactory(stage=Stage.SAL, owner=rep, phone="", title="Engineer")
    other = LeadFactory(
        stage=Stage.MQL, owner=rep, phone="+1 555 0100", title="VP Sales", external_id="u-9"
    )
    EventFactory(lead=keep, name="Webinar Attended")
    EventFactory(lead=other, name="Demo Requested")
    events_score_batch()
    leads_fit_refresh(lead_ids=[keep.pk, other.pk])  # "VP Sales": the senior-title fit rule
    EventFactory(lead=other, name="Demo Requested")  # not yet scored: in scoring's queue
    Identity.objects.create(kind=IdentityKind.USER, value="u-9", lead=other)
    sequence = make_sequence(key="offer")
    enrollment = Enrollment.objects.create(
        lead=other, sequence=sequence, trigger="manual", enrolled_at=NOW
    )
    Message.objects.create(
        enrollment=enrollment,
        step=sequence.steps.get(),
        lead=other,
        to_email=other.email,
        due_at=NOW,
        created_at=NOW,
    )
    Activity.objects.create(lead=other, user=rep, kind="call", occurred_at=NOW)
    Task.objects.create(lead=other, assignee=rep, title="follow up", due_at=NOW)
    AssignmentFactory(lead=other, rep=rep)  # pending: released by the merge
    Rejection.objects.create(
        lead=other, rep=rep, reason="no_budget", source="other", stage="MQL", rejected_at=NOW
    )
    Discovery.objects.create(
        lead=other,
        product_fit=True,
        decision_makers="a",
        decision_process="b",
        timeframe="c",
        current_solution="d",
        budget="e",
        answered_at=NOW,
    )
    Merge.objects.create(
        lead=other, merged_lead_id=424242, merged_email="old@example.com", merged_at=NOW
    )
    return keep, other


def test_a_merge_moves_everything_of_the_other_lead_and_rescores(
    rep, rep_client, pair, published, django_capture_on_commit_callbacks
):
    keep, other = pair
    other_events = set(Event.objects.filter(lead=other).values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = merge_call(rep_client, keep.pk, other.pk)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["lead"], body["merged_lead_id"], body["merged_email"], body["merged_by"]) == (
        keep.pk,
        other.pk,
        other.email,
        rep.pk,
    )
    assert body["moved"] == {
        "stage_changes": 1,
        "events": 2,
        "identities": 1,
        "ledger": 2,  # the scored demo request, the senior-title fit row
        "enrollments": 1,
        "messages": 1,
        "submissions": 0,
        "activities": 1,
        "tasks": 1,
        "assignments": 1,
        "rejections": 1,
        "merges": 1,
        "discovery": 1,
        "fields_filled": ["phone", "external_id"],
    }
    assert not Lead.objects.filter(pk=other.pk).exists()
    # The moved history row counts in the kept lead's journey (leads.journey's triggers).
    assert StageChange.objects.filter(lead=keep).count() == 2
    assert actual(keep) == expected(keep)
    assert not Journey.objects.filter(lead_id=other.pk).exists()
    assert other_events <= set(Event.objects.filter(lead=keep).values_list("pk", flat=True))
    assert not PendingEvent.objects.exists()  # the re-score counted the queued event
    keep.refresh_from_db()
    live = LedgerEntry.objects.filter(lead=keep, is_live=True)
    # webinar + two demos; the moved fit row is gone: the kept lead's title is not senior
    assert keep.score == sum(live.values_list("points", flat=True)) == 15 + 30 + 30
    assert not live.filter(event__isnull=True).exists()
    assert (keep.stage, keep.owner_id, keep.phone, keep.external_id) == (
        Stage.SAL,
        rep.pk,
        "+1 555 0100",
        "u-9",
    )
    assignment = Assignment.objects.get(lead=keep)
    assert assignment.status == AssignmentStatus.RELEASED
    assert (ROUTE_POOL, ()) in published
    assert Merge.objects.filter(lead=keep).count() == 2
    assert Discovery.objects.get().lead_id == keep.pk


def test_every_relation_to_a_lead_is_moved_by_a_merge():
    """A new table pointing at leads must be moved by merges (or consciously left out here)."""
    moved = {
        "leads.StageChange",
        "leads.Journey",  # its triggers recompute it from the moved history (leads.journey)
        "leads.Consent",  # by leads.services.lead_absorb, which settles the state with them
        "web.Submission",
        "events.Event",
        "events.Identity",
        "scoring.LedgerEntry",
        "nurturing.Enrollment",
        "nurturing.Message",
        "handoff.Assignment",
        "handoff.Rejection",
        "handoff.Discovery",
        "handoff.Activity",
        "handoff.Task",
        "handoff.Merge",
    }
    relations = {
        field.related_model._meta.label
        for field in Lead._meta.get_fields(include_hidden=True)
        if field.is_relation and field.auto_created and not field.concrete
    }

    assert relations == moved


def test_the_kept_leads_discovery_stays_when_both_have_one(rep, marketer):
    keep, other = LeadFactory(owner=rep), LeadFactory(owner=rep)
    for lead, budget in ((keep, "kept"), (other, "other")):
        Discovery.objects.create(
            lead=lead,
            product_fit=True,
            decision_makers="a",
            decision_process="b",
            timeframe="c",
            current_solution="d",
            budget=budget,
            answered_at=NOW,
        )

    row = merge.lead_merge(lead_id=keep.pk, other_id=other.pk, actor=marketer)

    assert row.moved["discovery"] == 0
    assert list(Discovery.objects.values_list("lead_id", "budget")) == [(keep.pk, "kept")]


def test_rejections_naming_the_other_as_the_duplicate_now_name_the_kept_lead(rep, marketer):
    keep, other, third = LeadFactory(), LeadFactory(), LeadFactory()
    rejection = Rejection.objects.create(
        lead=third, rep=rep, reason="duplicate", duplicate_of=other, source="other",
        stage="MQL", rejected_at=NOW,
    )  # fmt: skip

    merge.lead_merge(lead_id=keep.pk, other_id=other.pk, actor=marketer)

    rejection.refresh_from_db()
    assert rejection.duplicate_of_id == keep.pk


def test_a_lead_is_not_merged_into_itself(rep_client, rep):
    lead = LeadFactory(owner=rep)
    before = snapshot(lead.pk)

    assert_error(merge_call(rep_client, lead.pk, lead.pk), 400, "merge_into_itself")
    assert snapshot(lead.pk) == before


def test_a_rep_may_not_merge_across_owners(pool_mode, rep, rep_client):
    mine = LeadFactory(owner=rep)
    pooled = LeadFactory(stage=Stage.MQL)  # visible to the rep in pool mode, but not theirs
    before = (snapshot(mine.pk), snapshot(pooled.pk))

    assert_error(merge_call(rep_client, mine.pk, pooled.pk), 403, "merge_across_owners")
    assert (snapshot(mine.pk), snapshot(pooled.pk)) == before


def test_a_rep_may_not_merge_another_reps_lead(rep, other_rep, rep_client):
    mine, theirs = LeadFactory(owner=rep), LeadFactory(owner=other_rep)
    before = (snapshot(mine.pk), snapshot(theirs.pk))

    assert_error(merge_call(rep_client, mine.pk, theirs.pk), 404, "not_found")
    assert_error(merge_call(rep_client, theirs.pk, mine.pk), 404, "not_found")
    assert (snapshot(mine.pk), snapshot(theirs.pk)) == before


@pytest.mark.parametrize("who", ["marketer_client", "manager_client", "admin_client_api"])
def test_marketers_managers_and_admins_merge_any_two_leads(request, rep, other_rep, who):
    keep, other = LeadFactory(owner=rep), LeadFactory(owner=other_rep)

    response = merge_call(request.getfixturevalue(who), keep.pk, other.pk)

    assert response.status_code == 201, response.content
    assert list(Lead.objects.values_list("pk", "owner")) == [(keep.pk, rep.pk)]


def test_merging_an_unknown_lead_is_a_404(marketer_client):
    lead = LeadFactory()

    assert_error(merge_call(marketer_client, lead.pk, 999999), 404, "not_found")
    assert_error(merge_call(marketer_client, 999999, lead.pk), 404, "not_found")


def test_anonymous_cannot_merge():
    from rest_framework.test import APIClient

    keep, other = LeadFactory(), LeadFactory()

    assert_error(merge_call(APIClient(), keep.pk, other.pk), 401, "not_authenticated")
    assert Lead.objects.count() == 2


def test_a_merge_keeps_history_with_its_origin(marketer):
    keep, other = LeadFactory(), LeadFactory()

    merge.lead_merge(lead_id=keep.pk, other_id=other.pk, actor=marketer, now=timezone.now())

    reasons = sorted(StageChange.objects.filter(lead=keep).values_list("reason", flat=True))
    assert reasons == [f"(merged from lead {other.pk}) created", "created"]


def test_a_merge_moves_the_consent_evidence_and_the_form_submissions(marketer):
    keep, other = LeadFactory(), LeadFactory()
    now = timezone.now()
    Consent.objects.create(lead=other, state="given", wording="Yes, email me", source="f", at=now)
    form = Form.objects.create(slug="ebook", name="Ebook", title="Ebook", consent_text="Yes")
    Submission.objects.create(form=form, lead=other, email=other.email, submitted_at=now)

    row = merge.lead_merge(lead_id=keep.pk, other_id=other.pk, actor=marketer)

    assert list(Consent.objects.values_list("lead_id", "wording")) == [(keep.pk, "Yes, email me")]
    assert list(Submission.objects.values_list("lead_id", flat=True)) == [keep.pk]
    assert row.moved["submissions"] == 1
