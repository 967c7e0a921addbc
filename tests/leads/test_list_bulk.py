"""The lead list's bulk actions: assign (sales managers and admins, through the hand-off's
`lead_assign`), enroll in a sequence (marketers and admins), on a selection in the request or
on a whole filter in a Celery task that walks the leads by id in batches."""

import re

import pytest
from django.test import Client

from handoff import tasks as handoff_tasks
from handoff.models import Assignment
from handoff.services.bulk import BULK_ASSIGN
from leads import listing
from leads.models import Lead, Stage
from nurturing import tasks as nurture_tasks
from nurturing.models import Enrollment
from nurturing.services.bulk import BULK_ENROLL
from nurturing.services.dispatch import NURTURE_DISPATCH_LEADS
from tests.factories import AssignmentFactory, LeadFactory
from tests.nurturing.conftest import make_sequence

pytestmark = pytest.mark.django_db

ASSIGN = "/leads/bulk/assign/"
ENROLL = "/e/leads/bulk/enroll/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def flash(client) -> list[str]:
    return re.findall(r'role="status">([^<]+)<', client.get("/leads/").content.decode())


# --- Assign ---------------------------------------------------------------------------------------


def test_manager_assigns_the_selected_leads_of_the_filter(manager, rep, published):
    mql = LeadFactory(email="mql@x.test", stage=Stage.MQL)
    pql = LeadFactory(email="pql@x.test", stage=Stage.PQL)
    iql = LeadFactory(email="iql@x.test", stage=Stage.IQL)
    client = client_for(manager)

    response = client.post(
        ASSIGN,
        {"scope": "selected", "id": [mql.pk, pql.pk, iql.pk], "assign_to": rep.pk, "stage": "MQL"},
    )

    assert response["Location"] == "/leads/?stage=MQL"
    assert flash(client) == ["Assigned 1 lead."]
    rows = Assignment.objects.order_by("lead_id").values_list("lead_id", "rep", "assigned_by")
    assert list(rows) == [(mql.pk, rep.pk, manager.pk)]
    assert list(Lead.objects.filter(owner=rep).values_list("pk", flat=True)) == [mql.pk]


def test_leads_outside_the_handoff_or_already_theirs_are_skipped_with_the_reason(manager, rep):
    mql = LeadFactory(stage=Stage.MQL)
    iql = LeadFactory(stage=Stage.IQL)
    theirs = AssignmentFactory(rep=rep).lead
    client = client_for(manager)

    client.post(ASSIGN, {"id": [mql.pk, iql.pk, theirs.pk], "assign_to": rep.pk})

    assert flash(client) == ["Assigned 1 lead; skipped 2 (already theirs: 1, not MQL or PQL: 1)."]
    assert sorted(Assignment.objects.values_list("lead_id", flat=True)) == sorted(
        [mql.pk, theirs.pk]
    )
    iql.refresh_from_db()
    assert iql.owner is None


def test_the_selection_is_cut_by_the_filters_it_came_with(manager, rep):
    mql = LeadFactory(stage=Stage.MQL)
    pql = LeadFactory(stage=Stage.PQL)
    client = client_for(manager)

    client.post(ASSIGN, {"id": [mql.pk, pql.pk], "assign_to": rep.pk, "stage": "PQL"})

    assert list(Assignment.objects.values_list("lead_id", flat=True)) == [pql.pk]
    assert flash(client) == ["Assigned 1 lead."]


def test_a_full_rep_stops_the_assignment(manager, rep):
    rep.capacity = 1
    rep.save()
    leads = [LeadFactory(stage=Stage.MQL) for _ in range(3)]
    client = client_for(manager)

    client.post(ASSIGN, {"id": [lead.pk for lead in leads], "assign_to": rep.pk})

    assert Assignment.objects.count() == 1
    assert flash(client) == ["Assigned 1 lead; stopped: rep is full (1 of 1 open leads)."]


@pytest.mark.parametrize("who", ["rep", "marketer"])
def test_only_managers_and_admins_assign(request, who, other_rep):
    user = request.getfixturevalue(who)
    lead = LeadFactory(stage=Stage.MQL, owner=user if who == "rep" else None)

    response = client_for(user).post(
        ASSIGN, {"scope": "filter", "id": [lead.pk], "assign_to": other_rep.pk}
    )

    assert response.status_code == 403
    assert not Assignment.objects.exists()
    lead.refresh_from_db()
    assert lead.owner == (user if who == "rep" else None)


def test_assign_needs_a_rep_and_a_selection(manager, rep):
    lead = LeadFactory(stage=Stage.MQL)
    client = client_for(manager)

    client.post(ASSIGN, {"id": [lead.pk], "assign_to": ""})
    assert flash(client) == ["Choose the rep to assign the leads to."]
    client.post(ASSIGN, {"scope": "selected", "assign_to": rep.pk})
    assert flash(client) == ["Select some leads first, or choose every lead matching the filter."]
    assert not Assignment.objects.exists()


def test_assign_anonymous_goes_to_log_in(client, rep):
    response = client.post(ASSIGN, {"scope": "filter", "assign_to": rep.pk})

    assert response["Location"].startswith("/accounts/login/")


def test_assigning_a_whole_filter_runs_in_a_task_by_batches(
    manager, rep, published, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(listing, "BATCH", 2)
    hits = [LeadFactory(stage=Stage.MQL, score=60) for _ in range(5)]
    LeadFactory(stage=Stage.MQL, score=10)
    client = client_for(manager)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            ASSIGN,
            {"scope": "filter", "id": [hits[0].pk], "assign_to": rep.pk, "score_min": "60"},
        )

    assert published == [(BULK_ASSIGN, (manager.pk, "score_min=60", rep.pk))]
    assert not Assignment.objects.exists()  # nothing in the request
    result = handoff_tasks.bulk_assign(*published[0][1])
    assert result == {"done": 5, "skipped": {}, "stopped": ""}
    assert sorted(Assignment.objects.values_list("lead_id", flat=True)) == [h.pk for h in hits]
    # Run twice (a redelivery): nothing more happens.
    assert handoff_tasks.bulk_assign(*published[0][1]) == {
        "done": 0,
        "skipped": {"already theirs": 5},
        "stopped": "",
    }


def test_the_task_acts_with_the_actors_rights_when_it_runs(manager, rep):
    LeadFactory(stage=Stage.MQL)
    manager.role = "rep"
    manager.save()

    with pytest.raises(Exception, match="Only sales managers"):
        handoff_tasks.bulk_assign(manager.pk, "", rep.pk)
    assert not Assignment.objects.exists()


# --- Enroll ---------------------------------------------------------------------------------------


def test_marketer_enrolls_the_selected_leads_that_may_be_mailed(
    marketer, published, django_capture_on_commit_callbacks
):
    sequence = make_sequence(key="welcome")
    fresh = LeadFactory(email="fresh@x.test")
    dnc = LeadFactory(email="dnc@x.test", do_not_contact=True, do_not_contact_reason="bounced")
    enrolled = LeadFactory(email="in@x.test")
    Enrollment.objects.create(
        lead=enrolled, sequence=sequence, trigger="manual", enrolled_at=sequence.activated_at
    )
    client = client_for(marketer)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            ENROLL, {"id": [fresh.pk, dnc.pk, enrolled.pk], "sequence": sequence.pk, "q": "x"}
        )

    new = Enrollment.objects.exclude(lead=enrolled).get()
    assert (new.lead, new.trigger, new.enrolled_by, new.status) == (
        fresh,
        "manual",
        marketer,
        "active",
    )
    assert published == [(NURTURE_DISPATCH_LEADS, ([fresh.pk],))]
    assert flash(client) == [
        "Enrolled 1 lead; skipped 2 (already enrolled: 1, must not be mailed: 1)."
    ]


def test_an_inactive_sequence_enrolls_nobody(marketer):
    sequence = make_sequence(key="old", is_active=False)
    lead = LeadFactory()
    client = client_for(marketer)

    client.post(ENROLL, {"id": [lead.pk], "sequence": sequence.pk})

    assert not Enrollment.objects.exists()
    assert flash(client) == ["The sequence is not active."]


@pytest.mark.parametrize("who", ["rep", "manager"])
def test_only_marketers_and_admins_enroll(request, who):
    user = request.getfixturevalue(who)
    sequence = make_sequence()
    lead = LeadFactory(owner=user if who == "rep" else None, stage=Stage.SAL)

    response = client_for(user).post(ENROLL, {"id": [lead.pk], "sequence": sequence.pk})

    assert response.status_code == 403
    assert not Enrollment.objects.exists()


def test_enrolling_a_whole_filter_runs_in_a_task_by_batches(
    marketer, published, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(listing, "BATCH", 2)
    sequence = make_sequence()
    hits = [LeadFactory(utm_campaign="spring") for _ in range(3)]
    LeadFactory(utm_campaign="autumn")
    client = client_for(marketer)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(ENROLL, {"scope": "filter", "sequence": sequence.pk, "utm_campaign": "spring"})

    assert published == [(BULK_ENROLL, (marketer.pk, "utm_campaign=spring", sequence.pk))]
    assert not Enrollment.objects.exists()
    result = nurture_tasks.bulk_enroll(*published[0][1])
    assert result == {"done": 3, "skipped": {}, "stopped": ""}
    assert sorted(Enrollment.objects.values_list("lead_id", flat=True)) == [h.pk for h in hits]


# --- The bulk bar offers each action to whom may take it ------------------------------------


@pytest.mark.parametrize(
    "who, offered",
    [
        ("marketer", ["Enroll", "Export"]),
        ("manager", ["Assign", "Export"]),
        ("rep", ["Export"]),
        ("admin_user", ["Enroll", "Assign", "Export"]),
    ],
)
def test_the_bulk_bar_offers_what_the_user_may_do(request, who, offered):
    user = request.getfixturevalue(who)
    make_sequence()

    html = client_for(user).get("/leads/").content.decode()

    assert re.findall(r'<button type="submit" formaction="[^"]+"[^>]*>([^<]+)</button>', html) == (
        offered
    )
