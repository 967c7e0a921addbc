"""Leads in the Django admin: every save and delete goes through leads.services."""

import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Role, User
from leads.models import Lead, Stage, StageChange
from tests.factories import LeadFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

# The fields the admin's lead form edits (stage, score and temperature are read-only there).
FIELDS = (
    "email",
    "first_name",
    "last_name",
    "title",
    "phone",
    "country",
    "company_name",
    "company_domain",
    "company_size",
    "source",
    "direction",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "external_id",
    "traits",
    "owner",
    "do_not_contact",
    "do_not_contact_reason",
)
NEW_LEAD = {
    "email": "new@example.com",
    "source": "other",
    "direction": "inbound",
    "traits": "{}",
    "stage_changes-TOTAL_FORMS": 0,
    "stage_changes-INITIAL_FORMS": 0,
}


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", "root@example.com", "pw-for-tests")


@pytest.fixture
def root_client(client, root):
    client.force_login(root)
    return client


@pytest.fixture
def staff_rep(db):
    perms = [f"leads.{verb}_lead" for verb in ("view", "add", "change", "delete")]
    perms.append("leads.delete_stagechange")  # a lead's history goes with it
    return StaffFactory(username="staff-rep", role=Role.REP, perms=perms)


@pytest.fixture
def staff_rep_client(client, staff_rep):
    client.force_login(staff_rep)
    return client


def lead_form(lead: Lead, **changes) -> dict:
    """The admin's change form as a browser posts it (with the read-only history inline)."""
    values = {name: getattr(lead, name) for name in FIELDS} | changes
    data = {}
    for name, value in values.items():
        if name == "owner":
            value = value.pk if isinstance(value, User) else value
        if name == "traits":
            value = json.dumps(value)
        if isinstance(value, bool):
            value = "on" if value else ""
        if value not in ("", None):
            data[name] = value
    history = list(lead.stage_changes.order_by("id"))
    data |= {"stage_changes-TOTAL_FORMS": len(history), "stage_changes-INITIAL_FORMS": len(history)}
    for index, row in enumerate(history):
        data |= {f"stage_changes-{index}-id": row.pk, f"stage_changes-{index}-lead": lead.pk}
    return data


def form_errors(response):
    return response.context["adminform"].form.errors if response.context else None


def snapshot(lead_id: int) -> dict:
    lead = Lead.objects.filter(pk=lead_id).values().first()
    history = list(StageChange.objects.filter(lead_id=lead_id).values_list("id", flat=True))
    return {"lead": lead, "history": history}


def change_url(lead: Lead) -> str:
    return reverse("admin:leads_lead_change", args=[lead.pk])


def test_lead_added_in_the_admin_starts_at_iql_with_its_history_row(root_client, root):
    response = root_client.post(reverse("admin:leads_lead_add"), NEW_LEAD)

    assert response.status_code == 302, form_errors(response)
    lead = Lead.objects.get()
    assert (lead.email, lead.stage) == ("new@example.com", Stage.IQL)
    history = list(lead.stage_changes.values_list("from_stage", "to_stage", "changed_by", "reason"))
    assert history == [("", Stage.IQL, root.pk, "created")]


def test_lead_edited_in_the_admin_is_saved_by_the_service(root_client):
    lead = LeadFactory(email="ada@example.com")

    response = root_client.post(change_url(lead), lead_form(lead, email="  ADA@Example.org "))

    assert response.status_code == 302, form_errors(response)
    lead.refresh_from_db()
    assert lead.email == "ada@example.org"  # normalised by leads.services


def test_a_marketer_as_owner_is_refused_in_the_admin_and_changes_nothing(root_client):
    lead = LeadFactory(stage=Stage.MQL)
    marketer = UserFactory(username="mia", role=Role.MARKETER)
    before = snapshot(lead.pk)

    response = root_client.post(change_url(lead), lead_form(lead, owner=marketer))

    assert response.status_code == 200
    assert "A lead&#x27;s owner must be a sales rep or an admin." in response.content.decode()
    assert snapshot(lead.pk) == before


def test_staff_rep_cannot_add_a_lead_in_the_admin(staff_rep_client):
    response = staff_rep_client.post(reverse("admin:leads_lead_add"), NEW_LEAD)

    assert response.status_code == 200
    assert "A sales rep may not create leads." in response.content.decode()
    assert Lead.objects.count() == 0


def test_staff_rep_cannot_edit_a_lead_they_do_not_own_in_the_admin(staff_rep_client):
    lead = LeadFactory(stage=Stage.MQL)
    before = snapshot(lead.pk)

    response = staff_rep_client.post(change_url(lead), lead_form(lead, title="Mine now"))

    assert response.status_code == 200
    assert (
        "A sales rep may only edit leads they own; accept the lead first."
        in response.content.decode()
    )
    assert snapshot(lead.pk) == before


def test_staff_rep_edits_contact_fields_of_their_own_lead_in_the_admin(staff_rep_client, staff_rep):
    lead = LeadFactory(stage=Stage.SAL, owner=staff_rep)

    response = staff_rep_client.post(change_url(lead), lead_form(lead, phone="+1 555 0100"))

    assert response.status_code == 302, form_errors(response)
    lead.refresh_from_db()
    assert lead.phone == "+1 555 0100"


def test_staff_rep_cannot_delete_a_lead_in_the_admin(staff_rep_client, staff_rep):
    lead = LeadFactory(stage=Stage.SAL, owner=staff_rep)
    before = snapshot(lead.pk)

    response = staff_rep_client.post(
        reverse("admin:leads_lead_delete", args=[lead.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "A sales rep may not delete leads."
    ]
    assert snapshot(lead.pk) == before


def test_staff_rep_cannot_bulk_delete_leads_in_the_admin(staff_rep_client, staff_rep):
    leads = [LeadFactory(stage=Stage.SAL, owner=staff_rep) for _ in range(2)]
    before = [snapshot(lead.pk) for lead in leads]

    response = staff_rep_client.post(
        reverse("admin:leads_lead_changelist"),
        {
            "action": "delete_selected",
            "post": "yes",
            "_selected_action": [lead.pk for lead in leads],
        },
    )

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "A sales rep may not delete leads."
    ]
    assert [snapshot(lead.pk) for lead in leads] == before


def test_marketer_deletes_a_lead_in_the_admin(client):
    perms = [f"leads.{verb}_lead" for verb in ("view", "delete")] + ["leads.delete_stagechange"]
    client.force_login(StaffFactory(username="staff-marketer", perms=perms))
    lead = LeadFactory()

    response = client.post(reverse("admin:leads_lead_delete", args=[lead.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert Lead.objects.count() == 0
