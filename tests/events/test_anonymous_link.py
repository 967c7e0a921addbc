"""events.services.lead_anonymous_id_link: an anonymousId the app learnt (a form carried it)."""

import pytest

from events.models import Event, Identity, PendingEvent
from events.services import events_ingest, lead_anonymous_id_link, source_internal
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def page_views(anonymous_id: str, count: int = 2) -> None:
    events_ingest(
        source=source_internal("site-test"),
        messages=[
            {
                "type": "page",
                "name": f"Page {i}",
                "anonymousId": anonymous_id,
                "messageId": f"{anonymous_id}-{i}",
            }
            for i in range(count)
        ],
    )


def test_the_waiting_page_views_join_the_lead_and_wait_for_scoring(
    django_capture_on_commit_callbacks,
):
    lead = LeadFactory()
    page_views("anon-1")
    page_views("anon-2", count=1)

    with django_capture_on_commit_callbacks() as callbacks:
        assert lead_anonymous_id_link(lead_id=lead.pk, anonymous_id=" anon-1 ") is True

    assert Identity.objects.get(kind="anonymous", value="anon-1").lead == lead
    assert sorted(Event.objects.filter(lead=lead).values_list("name", flat=True)) == [
        "Page 0",
        "Page 1",
    ]
    assert PendingEvent.objects.filter(event__lead=lead).count() == 2
    assert Event.objects.get(anonymous_id="anon-2").lead is None
    assert len(callbacks) == 1  # scoring is kicked once it commits


def test_the_first_link_of_an_id_wins(django_capture_on_commit_callbacks):
    first, second = LeadFactory(), LeadFactory()
    lead_anonymous_id_link(lead_id=first.pk, anonymous_id="anon-1")
    page_views("anon-1")  # linked to the first lead on arrival

    with django_capture_on_commit_callbacks() as callbacks:
        assert lead_anonymous_id_link(lead_id=second.pk, anonymous_id="anon-1") is False

    assert Identity.objects.get(value="anon-1").lead == first
    assert not Event.objects.filter(lead=second).exists()
    assert callbacks == []
    assert lead_anonymous_id_link(lead_id=first.pk, anonymous_id="anon-1") is True  # its own


def test_no_id_no_link():
    lead = LeadFactory()

    assert lead_anonymous_id_link(lead_id=lead.pk, anonymous_id="  ") is False
    assert not Identity.objects.exists()
