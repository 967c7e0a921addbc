"""Events show on the lead's timeline."""

import pytest

from events import services
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_lead_timeline_shows_its_events(marketer_client, source):
    lead = LeadFactory(external_id="u1")
    services.events_ingest(
        source=source,
        messages=[
            {
                "type": "track",
                "userId": "u1",
                "event": "Demo Requested",
                "messageId": "m1",
                "timestamp": "2026-01-02T10:00:00Z",
                "properties": {"plan": "pro"},
            },
            {
                "type": "page",
                "userId": "u1",
                "name": "Pricing",
                "messageId": "m2",
                "timestamp": "2026-01-03T10:00:00Z",
            },
            {"type": "track", "userId": "someone-else", "event": "Other", "messageId": "m3"},
        ],
    )

    response = marketer_client.get(f"/api/v1/leads/{lead.pk}/timeline/")

    assert response.status_code == 200
    events = [item for item in response.json() if item["kind"] == "event"]
    assert [item["title"] for item in events] == ["Viewed page Pricing", "Demo Requested"]
    assert events[1]["detail"]["properties"] == {"plan": "pro"}
    assert events[1]["detail"]["source"] == "website"


def test_other_rep_does_not_see_the_events_of_a_lead_they_cannot_see(other_rep_client, rep, source):
    lead = LeadFactory(external_id="u1", owner=rep)
    services.events_ingest(
        source=source, messages=[{"type": "track", "userId": "u1", "event": "E", "messageId": "m1"}]
    )

    response = other_rep_client.get(f"/api/v1/leads/{lead.pk}/timeline/")

    assert response.status_code == 404


def test_lead_page_lists_events(client, marketer, source):
    lead = LeadFactory(external_id="u1")
    services.events_ingest(
        source=source,
        messages=[{"type": "track", "userId": "u1", "event": "Webinar Attended", "messageId": "m"}],
    )
    client.force_login(marketer)

    response = client.get(f"/leads/{lead.pk}/")

    assert response.status_code == 200
    assert "Webinar Attended" in response.content.decode()
