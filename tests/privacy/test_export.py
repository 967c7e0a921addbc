"""GDPR export: GET /api/v1/leads/{id}/export/ (admins), and its button on the lead page."""

import pytest
from django.test import Client

from audit.models import AuditEntry
from tests.factories import LeadFactory
from tests.privacy.person import PERSON, person_everywhere
from tests.support import assert_error

pytestmark = pytest.mark.django_db


def export_url(lead_id: int) -> str:
    return f"/api/v1/leads/{lead_id}/export/"


def test_export_holds_everything_about_the_lead(admin_client_api, admin_user, rep):
    lead = person_everywhere(admin=admin_user, rep=rep)

    response = admin_client_api.get(export_url(lead.pk))

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="lead-{lead.pk}.json"'
    doc = response.json()
    assert sorted(doc) == [
        "activities",
        "assignments",
        "consent",
        "discovery",
        "emails",
        "enrollments",
        "events",
        "exported_at",
        "form_submissions",
        "format",
        "identities",
        "lead",
        "merges",
        "rejections",
        "score",
        "score_ledger",
        "stage_history",
        "tasks",
    ]
    assert doc["format"] == "leadcrm.lead-export/1"
    profile = doc["lead"]
    assert (profile["email"], profile["first_name"], profile["last_name"]) == (
        PERSON.email,
        PERSON.first_name,
        PERSON.last_name,
    )
    assert (profile["phone"], profile["title"], profile["owner"]) == (
        PERSON.phone,
        PERSON.title,
        "rep",
    )
    assert profile["traits"] == {"favourite_colour": "teal"}
    assert [(c["state"], c["ip"]) for c in doc["consent"]] == [("given", PERSON.ip)]
    assert [(e["type"], e["name"]) for e in doc["events"]] == [
        ("identify", ""),
        ("page", "Home"),
        ("track", "Pricing Viewed"),
    ]
    assert doc["events"][2]["properties"] == {"plan": "team", "contact": PERSON.email}
    assert sorted((i["kind"], i["value"]) for i in doc["identities"]) == [
        ("anonymous", PERSON.anonymous_id),
        ("user", PERSON.user_id),
    ]
    assert [(r["rule"], r["points"]) for r in doc["score_ledger"]] == [("Pricing", 10)]
    assert [(m["to_email"], m["subject"]) for m in doc["emails"]] == [
        (PERSON.email, f"Hi {PERSON.first_name}")
    ]
    assert [e["sequence"] for e in doc["enrollments"]] == ["Welcome"]
    assert [a["body"] for a in doc["activities"]] == [f"Called {PERSON.first_name}"]
    assert [t["title"] for t in doc["tasks"]] == [f"Call {PERSON.last_name}"]
    assert [s["to"] for s in doc["stage_history"]] == ["IQL"]
    assert doc["discovery"]["decision_makers"] == f"{PERSON.first_name} {PERSON.last_name}"
    assert [(s["form"], s["ip"]) for s in doc["form_submissions"]] == [("demo", PERSON.ip)]


def test_export_is_audited(admin_client_api, admin_user):
    lead = LeadFactory(email="doc@example.com")

    admin_client_api.get(export_url(lead.pk))

    entry = AuditEntry.objects.get(action="lead.export")
    assert (entry.actor, entry.object_type, entry.object_id, entry.object_label) == (
        admin_user,
        "lead",
        str(lead.pk),
        "doc@example.com",
    )


def test_export_anonymous_is_401(anonymous):
    lead = LeadFactory()
    assert_error(anonymous.get(export_url(lead.pk)), 401, "not_authenticated")


@pytest.mark.parametrize("who", ["marketer_client", "manager_client", "rep_client"])
def test_export_is_admins_only(who, request):
    lead = LeadFactory()
    client = request.getfixturevalue(who)
    assert_error(client.get(export_url(lead.pk)), 403, "permission_denied")
    assert_error(client.get(export_url(999999)), 403, "permission_denied")
    assert AuditEntry.objects.count() == 0


def test_export_unknown_lead_is_404(admin_client_api):
    assert_error(admin_client_api.get(export_url(999999)), 404, "not_found")


def test_export_query_count_does_not_grow_with_rows(
    admin_client_api, admin_user, rep, django_assert_max_num_queries
):
    lead = person_everywhere(admin=admin_user, rep=rep)
    with django_assert_max_num_queries(24):
        assert admin_client_api.get(export_url(lead.pk)).status_code == 200


def test_lead_page_shows_the_privacy_actions_to_admins_only(admin_user, marketer):
    lead = LeadFactory()
    admin = Client()
    admin.force_login(admin_user)
    other = Client()
    other.force_login(marketer)

    html = admin.get(f"/leads/{lead.pk}/").content.decode()
    assert f'href="/api/v1/leads/{lead.pk}/export/"' in html
    assert f'href="/leads/{lead.pk}/erase/"' in html
    assert "/export/" not in other.get(f"/leads/{lead.pk}/").content.decode()


def test_erase_page_asks_for_a_reason_then_erases(admin_user):
    lead = LeadFactory(email="page-erase@example.com")
    client = Client()
    client.force_login(admin_user)

    assert "Erase page-erase@example.com" in client.get(f"/leads/{lead.pk}/erase/").content.decode()
    refused = client.post(f"/leads/{lead.pk}/erase/", {"reason": " "})
    assert refused.status_code == 400 and 'role="alert"' in refused.content.decode()
    lead.refresh_from_db()
    assert lead.erased_at is None

    done = client.post(f"/leads/{lead.pk}/erase/", {"reason": "Art. 17"})

    assert (done.status_code, done["Location"]) == (302, f"/leads/{lead.pk}/")
    lead.refresh_from_db()
    assert lead.email == f"erased-{lead.pk}@invalid"


def test_erase_page_anonymous_goes_to_log_in():
    lead = LeadFactory()
    response = Client().get(f"/leads/{lead.pk}/erase/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("role", ["marketer", "manager", "rep"])
def test_erase_page_is_admins_only(role):
    from tests.factories import UserFactory

    lead = LeadFactory(email="safe@example.com")
    client = Client()
    client.force_login(UserFactory(username=f"x-{role}", role=role))

    assert client.post(f"/leads/{lead.pk}/erase/", {"reason": "x"}).status_code == 403
    lead.refresh_from_db()
    assert lead.erased_at is None
