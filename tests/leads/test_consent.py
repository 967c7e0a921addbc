"""A lead's consent to email: its state and append-only evidence (leads.services), shown on the
lead's API, timeline and page, and kept when duplicates merge."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from leads import services
from leads.models import Consent, ConsentState, Lead
from tests.factories import LeadFactory, UserFactory
from tests.support import assert_error, race

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
WORDING = "Yes, email me the checklist and related content. I can unsubscribe at any time."


def evidence(lead) -> list[tuple]:
    return list(
        Consent.objects.filter(lead=lead)
        .order_by("at", "id")
        .values_list("state", "wording", "source", "ip", "at")
    )


def consent_of(lead) -> str:
    return Lead.objects.get(pk=lead.pk).consent


# --- The services -------------------------------------------------------------------------------


def test_giving_consent_sets_the_state_and_records_its_evidence():
    lead = LeadFactory()

    changed = services.lead_consent_give(
        lead_id=lead.pk, wording=WORDING, source="ebook", ip="203.0.113.9", at=AT
    )

    assert changed is True
    assert consent_of(lead) == ConsentState.GIVEN
    assert evidence(lead) == [("given", WORDING, "ebook", "203.0.113.9", AT)]


def test_giving_again_records_new_evidence_but_changes_nothing_else():
    lead = LeadFactory()
    services.lead_consent_give(lead_id=lead.pk, wording=WORDING, source="ebook", at=AT)
    later = AT.replace(hour=10)

    changed = services.lead_consent_give(
        lead_id=lead.pk, wording="Send me the webinar.", source="webinar", at=later
    )

    assert changed is False
    assert consent_of(lead) == ConsentState.GIVEN
    assert evidence(lead) == [
        ("given", WORDING, "ebook", None, AT),
        ("given", "Send me the webinar.", "webinar", None, later),
    ]


def test_withdrawing_sets_the_state_and_records_its_evidence():
    lead = LeadFactory()
    services.lead_consent_give(lead_id=lead.pk, wording=WORDING, source="ebook", at=AT)

    changed = services.lead_consent_withdraw(
        lead_id=lead.pk, source="unsubscribe", ip="2001:db8::1", at=AT.replace(hour=11)
    )
    again = services.lead_consent_withdraw(lead_id=lead.pk, source="phone call")

    assert (changed, again) == (True, False)
    assert consent_of(lead) == ConsentState.WITHDRAWN
    assert [row[:4] for row in evidence(lead)] == [
        ("given", WORDING, "ebook", None),
        ("withdrawn", "", "unsubscribe", "2001:db8::1"),
        ("withdrawn", "", "phone call", None),
    ]


def test_withdrawing_a_lead_that_never_consented_is_a_change():
    lead = LeadFactory()

    assert services.lead_consent_withdraw(lead_id=lead.pk, source="unsubscribe") is True
    assert consent_of(lead) == ConsentState.WITHDRAWN


def test_giving_after_withdrawing_gives_it_again():
    lead = LeadFactory()
    services.lead_consent_withdraw(lead_id=lead.pk, source="unsubscribe", at=AT)

    changed = services.lead_consent_give(
        lead_id=lead.pk, wording=WORDING, source="ebook", at=AT.replace(hour=12)
    )

    assert changed is True
    assert consent_of(lead) == ConsentState.GIVEN


def test_evidence_defaults_to_now():
    lead = LeadFactory()
    before = datetime.now(UTC)

    services.lead_consent_give(lead_id=lead.pk, wording=WORDING, source="ebook")

    assert Consent.objects.get(lead=lead).at >= before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"wording": "", "source": "ebook"},
        {"wording": "   ", "source": "ebook"},
        {"wording": WORDING, "source": ""},
        {"wording": WORDING, "source": "x" * 201},
        {"wording": WORDING, "source": "ebook", "ip": "not-an-ip"},
        {"wording": WORDING, "source": "ebook", "at": datetime(2026, 3, 1, 9, 30)},
    ],
)
def test_consent_without_its_evidence_is_refused_and_nothing_is_written(kwargs):
    lead = LeadFactory()

    with pytest.raises(ValueError):
        services.lead_consent_give(lead_id=lead.pk, **kwargs)

    assert consent_of(lead) == ConsentState.UNKNOWN
    assert evidence(lead) == []


def test_a_withdrawal_needs_a_source():
    lead = LeadFactory()

    with pytest.raises(ValueError):
        services.lead_consent_withdraw(lead_id=lead.pk, source=" ")

    assert (consent_of(lead), evidence(lead)) == (ConsentState.UNKNOWN, [])


def test_the_state_and_its_evidence_are_one_transaction(monkeypatch):
    lead = LeadFactory()

    def broken_insert(obj):
        raise RuntimeError("the database went away")

    # The state is set first; its evidence row fails: the state goes back too.
    monkeypatch.setattr("core.inserts.insert", broken_insert)
    with pytest.raises(RuntimeError):
        services.lead_consent_give(lead_id=lead.pk, wording=WORDING, source="ebook")
    monkeypatch.undo()

    assert (consent_of(lead), evidence(lead)) == (ConsentState.UNKNOWN, [])


@pytest.mark.django_db(transaction=True)
def test_two_gives_at_once_change_the_state_once_and_both_leave_evidence():
    for _ in range(3):
        lead = LeadFactory()

        results = race(
            lambda i, lead=lead: services.lead_consent_give(
                lead_id=lead.pk, wording=WORDING, source=f"form-{i}"
            )
        )

        assert sorted(results) == [False, True], results
        assert consent_of(lead) == ConsentState.GIVEN
        assert Consent.objects.filter(lead=lead).count() == 2


# --- Created with the policy it came through ----------------------------------------------------


def test_a_lead_created_through_the_api_does_not_need_consent_unless_asked(marketer_client):
    plain = marketer_client.post("/api/v1/leads/", {"email": "a@example.com"}, format="json")
    asked = marketer_client.post(
        "/api/v1/leads/", {"email": "b@example.com", "consent_required": True}, format="json"
    )

    assert (plain.status_code, asked.status_code) == (201, 201)
    assert (plain.json()["consent"], plain.json()["consent_required"]) == ("unknown", False)
    assert (asked.json()["consent"], asked.json()["consent_required"]) == ("unknown", True)
    assert Lead.objects.get(email="b@example.com").consent_required is True


# --- The API ------------------------------------------------------------------------------------


def test_the_lead_api_shows_consent_and_whether_it_is_needed(marketer_client):
    lead = LeadFactory(consent_required=True)
    services.lead_consent_give(lead_id=lead.pk, wording=WORDING, source="ebook", at=AT)

    body = marketer_client.get(f"/api/v1/leads/{lead.pk}/").json()
    listed = marketer_client.get("/api/v1/leads/").json()["results"][0]

    assert (body["consent"], body["consent_required"]) == ("given", True)
    assert (listed["consent"], listed["consent_required"]) == ("given", True)


def test_consent_cannot_be_set_through_the_lead_api(marketer_client):
    lead = LeadFactory()

    response = marketer_client.patch(
        f"/api/v1/leads/{lead.pk}/", {"consent": "given"}, format="json"
    )

    assert_error(response, 400, "invalid", {"consent"})
    assert (consent_of(lead), evidence(lead)) == (ConsentState.UNKNOWN, [])


def test_echoing_the_consent_back_is_fine(marketer_client):
    lead = LeadFactory()

    response = marketer_client.patch(
        f"/api/v1/leads/{lead.pk}/", {"consent": "unknown", "title": "CTO"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["title"] == "CTO"


def test_a_lead_that_needs_consent_keeps_needing_it(marketer_client):
    lead = LeadFactory(consent_required=True)

    response = marketer_client.patch(
        f"/api/v1/leads/{lead.pk}/", {"consent_required": False}, format="json"
    )

    assert_error(response, 400, "invalid", {"consent_required"})
    assert Lead.objects.get(pk=lead.pk).consent_required is True


def test_a_marketer_may_make_a_lead_need_consent(marketer_client):
    lead = LeadFactory()

    response = marketer_client.patch(
        f"/api/v1/leads/{lead.pk}/", {"consent_required": True}, format="json"
    )

    assert response.status_code == 200
    assert Lead.objects.get(pk=lead.pk).consent_required is True


def test_a_rep_may_not_change_whether_their_lead_needs_consent(rep, rep_client):
    lead = LeadFactory(owner=rep)

    response = rep_client.patch(
        f"/api/v1/leads/{lead.pk}/", {"consent_required": True}, format="json"
    )

    assert_error(response, 403, "permission_denied", {"consent_required"})
    assert Lead.objects.get(pk=lead.pk).consent_required is False


def test_the_timeline_lists_the_consent_evidence(marketer_client):
    lead = LeadFactory()
    services.lead_consent_give(
        lead_id=lead.pk, wording=WORDING, source="ebook", ip="203.0.113.9", at=AT
    )
    services.lead_consent_withdraw(lead_id=lead.pk, source="unsubscribe", at=AT.replace(hour=10))

    items = marketer_client.get(f"/api/v1/leads/{lead.pk}/timeline/").json()
    consents = [item for item in items if item["kind"] == "consent"]

    assert consents == [
        {
            "kind": "consent",
            "at": "2026-03-01T10:30:00Z",
            "title": "Consent withdrawn",
            "detail": {"state": "withdrawn", "wording": "", "source": "unsubscribe", "ip": None},
        },
        {
            "kind": "consent",
            "at": "2026-03-01T09:30:00Z",
            "title": "Consent given",
            "detail": {
                "state": "given",
                "wording": WORDING,
                "source": "ebook",
                "ip": "203.0.113.9",
            },
        },
    ]


# --- The lead page ------------------------------------------------------------------------------


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_lead_page_shows_consent_with_its_latest_evidence(marketer):
    lead = LeadFactory(consent_required=True)
    services.lead_consent_give(
        lead_id=lead.pk, wording="Old wording", source="newsletter", at=AT.replace(hour=8)
    )
    services.lead_consent_give(
        lead_id=lead.pk, wording=WORDING, source="ebook", ip="203.0.113.9", at=AT
    )

    html = logged_in(marketer).get(f"/leads/{lead.pk}/").content.decode()

    assert '<dd class="consent">Given · needed before any email</dd>' in html
    assert (
        '<dd class="consent-evidence">Given <time datetime="2026-03-01T09:30:00+00:00">'
        "2026-03-01 09:30</time> via ebook from 203.0.113.9: <q>Yes, email me the checklist"
    ) in html
    assert "Old wording" not in html.split('class="timeline"')[0]


def test_the_lead_page_of_a_lead_from_a_trusted_source(marketer):
    lead = LeadFactory()

    html = logged_in(marketer).get(f"/leads/{lead.pk}/").content.decode()

    assert '<dd class="consent">Unknown · not needed (its source collects it)</dd>' in html
    assert "consent-evidence" not in html


def test_the_lead_page_shows_a_withdrawal(marketer):
    lead = LeadFactory()
    services.lead_consent_withdraw(lead_id=lead.pk, source="unsubscribe", at=AT)

    html = logged_in(marketer).get(f"/leads/{lead.pk}/").content.decode()

    assert '<dd class="consent">Withdrawn · not needed' in html
    assert "Withdrawn <time" in html and "via unsubscribe</dd>" in html


def test_the_lead_page_is_not_for_anonymous_or_another_reps_lead(client, rep):
    lead = LeadFactory(owner=UserFactory(username="someone", role="rep"))

    anonymous = client.get(f"/leads/{lead.pk}/")
    other = logged_in(rep).get(f"/leads/{lead.pk}/")

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    assert other.status_code == 404


# --- Merging duplicates -------------------------------------------------------------------------


def test_a_merge_keeps_the_other_leads_evidence_and_its_latest_act_decides():
    keep = LeadFactory()
    other = LeadFactory(consent_required=True)
    services.lead_consent_give(lead_id=keep.pk, wording=WORDING, source="ebook", at=AT)
    services.lead_consent_withdraw(lead_id=other.pk, source="unsubscribe", at=AT.replace(hour=10))

    filled = services.lead_absorb(lead_id=keep.pk, other_id=other.pk)

    keep.refresh_from_db()
    assert (keep.consent, keep.consent_required) == (ConsentState.WITHDRAWN, True)
    assert {"consent", "consent_required"} <= set(filled)
    assert [row[0] for row in evidence(keep)] == ["given", "withdrawn"]


def test_a_merge_keeps_a_later_consent_over_an_earlier_withdrawal():
    keep = LeadFactory()
    other = LeadFactory()
    services.lead_consent_withdraw(lead_id=other.pk, source="unsubscribe", at=AT)
    services.lead_consent_give(
        lead_id=keep.pk, wording=WORDING, source="ebook", at=AT.replace(hour=10)
    )

    filled = services.lead_absorb(lead_id=keep.pk, other_id=other.pk)

    keep.refresh_from_db()
    assert (keep.consent, keep.consent_required) == (ConsentState.GIVEN, False)
    assert "consent" not in filled
    assert Consent.objects.filter(lead=keep).count() == 2
