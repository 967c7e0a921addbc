"""A lead created through a source whose policy needs consent needs it before any email; a
server source that collected consent itself keeps today's behaviour."""

import pytest

from events import services
from events.models import ConsentPolicy, Source, SourceKind
from leads.models import ConsentState, Lead
from tests.events.conftest import basic
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def identify(email: str, user_id: str = "") -> dict:
    message = {"type": "identify", "anonymousId": f"anon-{email}", "traits": {"email": email}}
    return {**message, "userId": user_id} if user_id else message


@pytest.fixture
def browser_source(db):
    source, _ = services.source_create(name="Marketing site")
    Source.objects.filter(pk=source.pk).update(
        kind=SourceKind.BROWSER,
        consent_policy=ConsentPolicy.NEEDED,
        allowed_origins=["https://www.example.com"],
    )
    return Source.objects.get(pk=source.pk)


def test_a_lead_created_through_a_source_that_needs_consent_needs_it(browser_source):
    services.events_ingest(source=browser_source, messages=[identify("ada@example.com")])

    lead = Lead.objects.get(email="ada@example.com")
    assert (lead.consent_required, lead.consent) == (True, ConsentState.UNKNOWN)


def test_a_lead_created_by_a_server_source_does_not(source):
    services.events_ingest(source=source, messages=[identify("ada@example.com", "u1")])

    lead = Lead.objects.get(email="ada@example.com")
    assert (lead.consent_required, lead.consent) == (False, ConsentState.UNKNOWN)


def test_the_policy_decides_not_the_kind(source):
    Source.objects.filter(pk=source.pk).update(consent_policy=ConsentPolicy.NEEDED)
    source.refresh_from_db()

    services.events_ingest(source=source, messages=[identify("ada@example.com", "u1")])

    assert Lead.objects.get(email="ada@example.com").consent_required is True


def test_every_lead_a_batch_creates_gets_the_policy(browser_source):
    emails = [f"lead{i}@example.com" for i in range(3)]

    services.events_ingest(source=browser_source, messages=[identify(e) for e in emails])

    created = Lead.objects.filter(email__in=emails).values_list("consent_required", flat=True)
    assert list(created) == [True, True, True]


def test_an_existing_lead_identified_through_such_a_source_keeps_its_policy(browser_source):
    lead = LeadFactory(email="ada@example.com")

    services.events_ingest(source=browser_source, messages=[identify("ada@example.com")])

    lead.refresh_from_db()
    assert lead.consent_required is False


def test_through_the_http_endpoint(client, browser_source):
    key = services.source_rotate_key(source=browser_source)
    response = client.post(
        "/v1/identify",
        data=identify("ada@example.com"),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(key),
        HTTP_ORIGIN="https://www.example.com",
    )

    assert response.status_code == 200
    assert Lead.objects.get(email="ada@example.com").consent_required is True
