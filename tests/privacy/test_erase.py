"""GDPR erasure: POST /api/v1/leads/{id}/erase/ and leads.privacy.lead_erase."""

import pytest
from django.test import Client

from audit.models import AuditEntry
from events import services as event_services
from events.models import Event, Identity
from handoff.models import Activity, Discovery, Merge, Rejection, Task
from leads import privacy
from leads import services as lead_services
from leads.models import Consent, ErasedAddress, Lead, StageChange
from nurturing.models import Enrollment, Message, Suppression
from nurturing.services.dispatch import stop_reason
from scoring.models import LedgerEntry
from tests.factories import LeadFactory, SourceFactory
from tests.privacy.person import (
    PERSON,
    identify_message,
    person_everywhere,
    personal_data_left,
)
from tests.support import assert_error
from web.models import Submission

pytestmark = pytest.mark.django_db


def erase_url(lead_id: int) -> str:
    return f"/api/v1/leads/{lead_id}/erase/"


@pytest.fixture
def person_lead(admin_user, rep):
    return person_everywhere(admin=admin_user, rep=rep)


def test_the_person_is_everywhere_before_the_erasure(person_lead):
    left = personal_data_left()
    # The scan finds them: it is able to fail.
    assert set(left) == set(PERSON.needles())
    assert "events_event.properties" in left[PERSON.email]
    assert "web_submission.ip" in left[PERSON.ip]


def test_after_erasure_nothing_personal_is_left_in_any_table(admin_client_api, person_lead):
    response = admin_client_api.post(
        erase_url(person_lead.pk), {"reason": "Art. 17 request #12"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert personal_data_left() == {}


def test_erasure_keeps_the_anonymous_lead_and_what_reports_count(admin_client_api, person_lead):
    stages = list(StageChange.objects.filter(lead=person_lead).values_list("to_stage", flat=True))
    events = sorted(Event.objects.filter(lead=person_lead).values_list("type", "name"))
    ledger = list(LedgerEntry.objects.filter(lead=person_lead).values_list("points", "event_id"))

    body = admin_client_api.post(
        erase_url(person_lead.pk), {"reason": "request"}, format="json"
    ).json()

    lead = Lead.objects.get(pk=person_lead.pk)
    assert body == {
        "id": lead.pk,
        "email": f"erased-{lead.pk}@invalid",
        "erased_at": lead.erased_at.isoformat().replace("+00:00", "Z"),
    }
    assert (lead.email, lead.first_name, lead.last_name, lead.phone) == (
        f"erased-{lead.pk}@invalid",
        "",
        "",
        "",
    )
    assert (lead.title, lead.company_name, lead.external_id, lead.traits) == ("", "", None, {})
    assert (lead.do_not_contact, lead.do_not_contact_reason) == (True, "erased")
    assert (lead.stage, lead.source) == (person_lead.stage, person_lead.source)
    assert list(StageChange.objects.filter(lead=lead).values_list("to_stage", flat=True)) == stages
    assert sorted(Event.objects.filter(lead=lead).values_list("type", "name")) == events
    assert list(LedgerEntry.objects.filter(lead=lead).values_list("points", "event_id")) == ledger
    event = Event.objects.get(lead=lead, name="Pricing Viewed")
    assert (event.properties, event.context, event.user_id, event.anonymous_id) == ({}, {}, "", "")
    assert Identity.objects.filter(lead=lead).count() == 0
    consent = Consent.objects.get(lead=lead)
    assert (consent.state, consent.wording, consent.ip) == ("given", "Yes, email me.", None)
    assert Submission.objects.get().email == f"erased-{lead.pk}@invalid"
    message = Message.objects.get()
    assert (message.status, message.to_email, message.subject) == (
        "sent",
        f"erased-{lead.pk}@invalid",
        "",
    )
    assert Enrollment.objects.get().status == "exited"
    assert Suppression.objects.count() == 0
    assert Activity.objects.get().body == "" and Task.objects.get().title == "(erased)"
    assert Rejection.objects.get().note == "" and Discovery.objects.get().budget == "(erased)"
    assert Merge.objects.get().merged_email == f"erased-merge-{lead.pk}@invalid"


def test_erasure_is_audited_and_blanks_the_audit_rows_about_the_lead(
    admin_client_api, admin_user, person_lead
):
    admin_client_api.get(f"/api/v1/leads/{person_lead.pk}/export/")

    admin_client_api.post(erase_url(person_lead.pk), {"reason": "Art. 17"}, format="json")

    rows = AuditEntry.objects.filter(object_type="lead", object_id=str(person_lead.pk))
    assert list(rows.order_by("id").values_list("action", "object_label")) == [
        ("lead.update", f"erased lead #{person_lead.pk}"),
        ("lead.export", f"erased lead #{person_lead.pk}"),
        ("lead.erase", f"erased lead #{person_lead.pk}"),
    ]
    edit = rows.get(action="lead.update")
    assert edit.changes == {"owner": ["[erased]", "[erased]"], "title": ["[erased]", "[erased]"]}
    erase = rows.get(action="lead.erase")
    assert (erase.actor, erase.reason) == (admin_user, "Art. 17")
    assert erase.changes["rows"][1]["events"] == 3  # identify, track, the orphan page view


def test_a_repeated_erasure_is_a_no_op_with_the_same_answer(admin_client_api, person_lead):
    first = admin_client_api.post(erase_url(person_lead.pk), {"reason": "one"}, format="json")
    audit_rows = AuditEntry.objects.count()

    second = admin_client_api.post(erase_url(person_lead.pk), {"reason": "two"}, format="json")

    assert second.status_code == 200
    assert second.json() == first.json()
    assert AuditEntry.objects.count() == audit_rows


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_erasure_without_a_reason_is_400_and_changes_nothing(admin_client_api, body):
    lead = LeadFactory(email="keep@example.com")

    assert_error(
        admin_client_api.post(erase_url(lead.pk), body, format="json"),
        400,
        "reason_required",
        {"reason"},
    )
    lead.refresh_from_db()
    assert (lead.email, lead.erased_at, ErasedAddress.objects.count()) == (
        "keep@example.com",
        None,
        0,
    )


def test_erase_anonymous_is_401(anonymous):
    lead = LeadFactory()
    assert_error(anonymous.post(erase_url(lead.pk), {"reason": "x"}), 401, "not_authenticated")


@pytest.mark.parametrize("who", ["marketer_client", "manager_client", "rep_client"])
def test_erase_is_admins_only(who, request):
    lead = LeadFactory(email="stay@example.com")
    client = request.getfixturevalue(who)

    assert_error(
        client.post(erase_url(lead.pk), {"reason": "x"}, format="json"), 403, "permission_denied"
    )
    # Same answer for an id that does not exist: nothing leaks.
    assert_error(
        client.post(erase_url(999999), {"reason": "x"}, format="json"), 403, "permission_denied"
    )
    lead.refresh_from_db()
    assert (lead.email, lead.erased_at) == ("stay@example.com", None)


def test_erase_unknown_lead_is_404(admin_client_api):
    assert_error(
        admin_client_api.post(erase_url(999999), {"reason": "x"}, format="json"), 404, "not_found"
    )


# --- The erased address is never added again, nor mailed ---------------------------------------


@pytest.fixture
def erased(admin_user):
    lead = LeadFactory(email="gone@example.com")
    privacy.lead_erase(actor=admin_user, lead_id=lead.pk, reason="request")
    return lead


def test_the_address_is_kept_only_as_a_keyed_hash(erased):
    row = ErasedAddress.objects.get()
    assert row.digest == privacy.email_digest("gone@example.com")
    assert row.digest == privacy.email_digest("  GONE@Example.com ")
    assert len(row.digest) == 64 and "gone" not in row.digest


def test_the_digest_depends_on_the_pepper(settings):
    before = privacy.email_digest("a@example.com")
    settings.LEADCRM_ERASURE_PEPPER = "another pepper"
    assert privacy.email_digest("a@example.com") != before


def test_api_create_of_an_erased_address_is_409(erased, marketer_client):
    response = marketer_client.post("/api/v1/leads/", {"email": "Gone@Example.com"}, format="json")
    assert_error(response, 409, "address_erased", {"email"})
    assert Lead.objects.count() == 1


def test_changing_a_lead_to_an_erased_address_is_409(erased, marketer_client):
    other = LeadFactory(email="other@example.com")
    response = marketer_client.patch(
        f"/api/v1/leads/{other.pk}/", {"email": "gone@example.com"}, format="json"
    )
    assert_error(response, 409, "address_erased", {"email"})
    other.refresh_from_db()
    assert other.email == "other@example.com"


def test_identify_of_an_erased_address_stores_nothing(erased):
    source = SourceFactory(name="server")
    message = identify_message(email="GONE@example.com")

    result = event_services.events_ingest(source=source, messages=[message])

    assert (result.accepted, result.rejected, result.stored) == (1, 0, 0)
    assert Lead.objects.count() == 1
    assert Event.objects.count() == 0 and Identity.objects.count() == 0


def test_set_based_create_leaves_erased_addresses_out(erased):
    created = lead_services.leads_create_identified(
        rows=[{"email": "gone@example.com"}, {"email": "new@example.com"}]
    )
    assert list(created) == ["new@example.com"]


def test_form_submission_of_an_erased_address_is_refused(erased, client):
    from web import services as web_services
    from web.models import Form

    form = Form.objects.create(slug="f", name="F", title="F", consent_text="ok")
    with pytest.raises(privacy.AddressErased):
        web_services._lead_for_submission(
            form=form, specs=[], values={"email": "gone@example.com"}, utm={}, consent=None
        )
    assert Lead.objects.count() == 1


def test_an_erased_lead_is_never_mailed(erased):
    lead = Lead.objects.get(pk=erased.pk)
    assert stop_reason(lead, sequence=None) == "erased"


def test_an_erased_address_on_another_lead_is_not_mailed_by_dispatch(erased):
    # The address-level gate: dispatch checks the keyed hash of every due lead's address.
    assert privacy.emails_erased(["x@example.com", "GONE@example.com"]) == {"GONE@example.com"}


def test_ingestion_updates_skip_an_erased_lead(erased):
    lead_services.leads_update_identified(changes={erased.pk: {"first_name": "Back"}})
    lead = Lead.objects.get(pk=erased.pk)
    assert lead.first_name == ""
    assert lead_services.lead_fill_blanks(lead_id=erased.pk, fields={"phone": "123"}) == []


def test_the_admin_log_loses_the_address(admin_user):
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    lead = LeadFactory(email="logged@example.com")
    LogEntry.objects.create(
        user=admin_user,
        content_type=ContentType.objects.get_for_model(Lead),
        object_id=str(lead.pk),
        object_repr="logged@example.com",
        action_flag=CHANGE,
        change_message="[]",
    )

    privacy.lead_erase(actor=admin_user, lead_id=lead.pk, reason="r")

    assert LogEntry.objects.get().object_repr == f"erased lead #{lead.pk}"


def test_lead_page_has_no_erase_or_export_for_non_admins(marketer):
    lead = LeadFactory()
    client = Client()
    client.force_login(marketer)
    html = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "/export/" not in html
