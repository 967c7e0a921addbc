"""The real Segment and RudderStack Python SDKs against a live server on the test database."""

import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics import Client as SegmentClient
from segment.analytics.request import APIError

from events.models import Event
from leads.models import Lead, Stage

pytestmark = pytest.mark.django_db(transaction=True)


def send_session(client, *, flush: bool) -> None:
    """What a product would send: an anonymous visit, sign-up, identify, activity."""
    client.page(anonymous_id="anon-1", name="Pricing", properties={"path": "/pricing"})
    client.identify(
        user_id="user-1",
        anonymous_id="anon-1",
        traits={
            "email": "Ada@Example.com",
            "firstName": "Ada",
            "title": "Head of Ops",
            "company": {"name": "Acme", "employee_count": 250},
            "plan": "trial",
        },
    )
    client.track(user_id="user-1", event="Project Created", properties={"n": 1})
    client.screen(user_id="user-1", name="Dashboard")
    client.group(user_id="user-1", group_id="acme", traits={"name": "Acme"})
    client.alias(previous_id="anon-2", user_id="user-1")
    if flush:
        client.flush()
        client.join()


def assert_session_stored() -> None:
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.title) == ("ada@example.com", "Ada", "Head of Ops")
    assert (lead.company_name, lead.company_size, lead.external_id) == ("Acme", 250, "user-1")
    assert lead.traits == {"plan": "trial"}
    assert lead.stage == Stage.IQL
    events = Event.objects.order_by("type")
    assert [(e.type, e.name) for e in events] == [
        ("alias", ""),
        ("group", ""),
        ("identify", ""),
        ("page", "Pricing"),
        ("screen", "Dashboard"),
        ("track", "Project Created"),
    ]
    # The anonymous page view joined the lead when identify linked anon-1.
    assert {e.lead_id for e in events} == {lead.pk}
    assert Event.objects.get(type="page").properties == {"path": "/pricing"}


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("sync_mode", [True, False], ids=["sync", "async"])
def test_segment_sdk(ingest_server, write_key, sync_mode, gzip):
    errors = []
    client = SegmentClient(
        write_key,
        host=ingest_server.url,
        sync_mode=sync_mode,
        gzip=gzip,
        max_retries=1,
        on_error=lambda exc, batch: errors.append(exc),
    )

    send_session(client, flush=not sync_mode)

    assert errors == []
    assert_session_stored()


def test_segment_sdk_sees_401_with_code_and_message(ingest_server, write_key):
    client = SegmentClient("wk_wrong", host=ingest_server.url, sync_mode=True)

    with pytest.raises(APIError) as raised:
        client.track(user_id="u", event="E")

    assert (raised.value.status, raised.value.code) == (401, "invalid_write_key")
    assert raised.value.message == "The write key is missing, wrong or disabled."
    assert Event.objects.count() == 0


def test_segment_sdk_resend_of_the_same_message_id_is_stored_once(ingest_server, write_key):
    client = SegmentClient(write_key, host=ingest_server.url, sync_mode=True)

    for _ in range(3):
        client.track(user_id="u", event="E", message_id="fixed-id")

    assert Event.objects.count() == 1


@pytest.mark.parametrize("sync_mode", [True, False], ids=["sync", "async"])
def test_rudderstack_sdk_gzip_by_default(ingest_server, write_key, sync_mode):
    errors = []
    client = RudderClient(
        write_key,
        host=ingest_server.url,
        sync_mode=sync_mode,
        max_retries=1,
        on_error=lambda exc, batch: errors.append(exc),
    )
    assert client.gzip is True

    send_session(client, flush=not sync_mode)

    assert errors == []
    # RudderStack sends identify traits in context.traits, not at the top level.
    identify = Event.objects.get(type="identify")
    assert identify.context["traits"]["email"] == "Ada@Example.com"
    assert identify.traits["email"] == "Ada@Example.com"
    assert_session_stored()


def test_rudderstack_module_api(ingest_server, write_key, monkeypatch):
    import rudderstack.analytics as rudder

    monkeypatch.setattr(rudder, "write_key", write_key)
    monkeypatch.setattr(rudder, "dataPlaneUrl", ingest_server.url)
    monkeypatch.setattr(rudder, "sync_mode", True)
    monkeypatch.setattr(rudder, "default_client", None)

    rudder.track("user-9", "Task Created", {"n": 2})

    event = Event.objects.get()
    assert (event.type, event.name, event.user_id, event.properties) == (
        "track",
        "Task Created",
        "user-9",
        {"n": 2},
    )
    assert event.context["library"]["name"] == "analytics-python"
