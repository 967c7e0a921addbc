"""POST /api/v1/leads/{id}/consent/: consent given or withdrawn by hand, with its evidence
(marketers and admins)."""

from datetime import UTC, datetime, timedelta

import pytest

from leads.models import Consent, ConsentState, Lead, Stage
from tests.factories import LeadFactory
from tests.support import assert_error

pytestmark = pytest.mark.django_db

WORDING = "Yes, email me the lead-scoring newsletter (signed at booth 12)."


def url(lead_id: int) -> str:
    return f"/api/v1/leads/{lead_id}/consent/"


def rows(lead) -> list[tuple]:
    return list(
        Consent.objects.filter(lead=lead)
        .order_by("id")
        .values_list("state", "wording", "source", "ip")
    )


def state(lead) -> str:
    return Lead.objects.get(pk=lead.pk).consent


def test_a_marketer_records_consent_given_with_its_evidence(marketer_client, marketer):
    lead = LeadFactory()
    at = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)

    response = marketer_client.post(
        url(lead.pk),
        {"state": "given", "wording": WORDING, "source": "Trade show badge scan", "at": at},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json() == {
        "consent": "given",
        "changed": True,
        "evidence": {
            "lead": lead.pk,
            "state": "given",
            "wording": WORDING,
            "source": "Trade show badge scan (recorded by marketer)",
            "at": "2026-10-01T09:30:00Z",
        },
    }
    assert state(lead) == ConsentState.GIVEN
    assert rows(lead) == [("given", WORDING, "Trade show badge scan (recorded by marketer)", None)]


def test_an_admin_records_a_withdrawal_without_wording_and_a_second_one_changes_nothing(
    admin_client_api,
):
    lead = LeadFactory(consent=ConsentState.GIVEN)
    body = {"state": "withdrawn", "source": "Phone call"}

    first = admin_client_api.post(url(lead.pk), body, format="json")
    second = admin_client_api.post(url(lead.pk), body, format="json")

    assert (first.status_code, first.json()["changed"]) == (201, True)
    assert (second.status_code, second.json()["changed"]) == (201, False)
    assert state(lead) == ConsentState.WITHDRAWN
    assert [r[0] for r in rows(lead)] == ["withdrawn", "withdrawn"]  # both are evidence


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"state": "given", "source": "Call"}, {"wording"}),
        ({"state": "given", "wording": "   ", "source": "Call"}, {"wording"}),
        ({"state": "unknown", "wording": WORDING, "source": "Call"}, {"state"}),
        ({"state": "maybe", "wording": WORDING, "source": "Call"}, {"state"}),
        ({"wording": WORDING, "source": "Call"}, {"state"}),
        ({"state": "given", "wording": WORDING}, {"source"}),
        ({"state": "given", "wording": WORDING, "source": ""}, {"source"}),
        ({"state": "given", "wording": WORDING, "source": "x" * 151}, {"source"}),
        ({"state": "given", "wording": WORDING, "source": "Call", "at": "yesterday"}, {"at"}),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_written(marketer_client, body, fields):
    lead = LeadFactory()

    response = marketer_client.post(url(lead.pk), body, format="json")

    assert_error(response, 400, "invalid", fields)
    assert (state(lead), rows(lead)) == (ConsentState.UNKNOWN, [])


def test_a_time_still_to_come_is_refused(marketer_client):
    lead = LeadFactory()
    later = datetime.now(UTC) + timedelta(minutes=5)
    body = {"state": "given", "wording": WORDING, "source": "Call", "at": later.isoformat()}

    assert_error(marketer_client.post(url(lead.pk), body, format="json"), 400, "invalid", {"at"})
    assert rows(lead) == []


def test_a_source_of_150_characters_is_taken(marketer_client):
    lead = LeadFactory()
    body = {"state": "given", "wording": WORDING, "source": "x" * 150}

    assert marketer_client.post(url(lead.pk), body, format="json").status_code == 201


def test_an_unknown_lead_is_404(marketer_client):
    body = {"state": "given", "wording": WORDING, "source": "Call"}

    assert_error(marketer_client.post(url(999_999), body, format="json"), 404, "not_found")


def test_anonymous_gets_401_and_nothing_is_written(anonymous):
    lead = LeadFactory()
    body = {"state": "given", "wording": WORDING, "source": "Call"}

    assert_error(anonymous.post(url(lead.pk), body, format="json"), 401, "not_authenticated")
    assert rows(lead) == []


@pytest.mark.parametrize("who", ["rep_client", "manager_client"])
def test_reps_and_managers_get_403_even_on_their_own_lead(request, rep, who):
    client = request.getfixturevalue(who)
    lead = LeadFactory(owner=rep, stage=Stage.SAL)
    body = {"state": "withdrawn", "source": "Call"}

    assert_error(client.post(url(lead.pk), body, format="json"), 403, "permission_denied")
    assert (state(lead), rows(lead)) == (ConsentState.UNKNOWN, [])


def test_only_post(marketer_client):
    lead = LeadFactory()

    assert_error(marketer_client.get(url(lead.pk)), 405, "method_not_allowed")
