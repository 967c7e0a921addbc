"""Opens, clicks and unsubscribes become events of the lead, and points through scoring."""

import pytest
from django.test import Client
from django.utils import timezone

from events.models import Event, Identity
from leads.models import Lead
from nurturing import emails
from nurturing.models import Enrollment, Message, MessageStatus
from playbook import scoring as scoring_playbook
from scoring.services import backlog_score
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence

pytestmark = pytest.mark.django_db


def sent_to(lead) -> Message:
    sequence = make_sequence(key=f"track{lead.pk}")
    now = timezone.now()
    enrollment = Enrollment.objects.create(
        lead=lead, sequence=sequence, trigger="manual", enrolled_at=now, next_due_at=now
    )
    return Message.objects.create(
        enrollment=enrollment,
        step=sequence.steps.get(),
        lead=lead,
        status=MessageStatus.SENT,
        to_email=lead.email,
        subject="Hello",
        due_at=now,
        created_at=now,
        sent_at=now,
    )


@pytest.fixture
def scored(settings):
    """The default scoring playbook, and a way to run what the scoring worker runs."""
    settings.SITE_URL = "http://testserver"
    scoring_playbook.playbook_load()

    def score_of(lead) -> int:
        backlog_score(lead_ids=[lead.pk])
        return Lead.objects.get(pk=lead.pk).score

    return score_of


def get(url: str):
    return Client().get(url.removeprefix("http://testserver"))


def test_open_becomes_an_email_opened_event_worth_two_points(scored):
    lead = LeadFactory()  # no external_id: the event is the lead's all the same
    message = sent_to(lead)
    before = scored(lead)

    get(emails.open_url(message.pk))
    get(emails.open_url(message.pk))

    event = Event.objects.get()
    assert (event.lead_id, event.type, event.name) == (lead.pk, "track", "Email Opened")
    assert (event.source.name, event.user_id, event.anonymous_id) == ("nurturing", "", "")
    # Recorded directly: no synthetic identify, no identity for ingestion to resolve back.
    assert Identity.objects.count() == 0
    assert event.properties["message_id"] == message.pk
    assert scored(lead) == before + 2


def test_click_becomes_a_link_clicked_event_worth_five_points_per_link(scored):
    lead = LeadFactory(external_id="user-77")
    message = sent_to(lead)
    before = scored(lead)

    get(emails.click_url(message.pk, "https://example.com/a"))
    get(emails.click_url(message.pk, "https://example.com/a"))
    get(emails.click_url(message.pk, "https://example.com/b"))

    events = Event.objects.filter(name="Email Link Clicked").order_by("id")
    assert [(e.user_id, e.lead_id, e.properties["url"]) for e in events] == [
        ("user-77", lead.pk, "https://example.com/a"),
        ("user-77", lead.pk, "https://example.com/b"),
    ]
    assert scored(lead) == before + 10


def test_unsubscribe_becomes_an_unsubscribed_event_minus_twenty(scored):
    lead = LeadFactory()
    message = sent_to(lead)
    before = scored(lead)

    Client().post(emails.unsubscribe_url(message.pk).removeprefix("http://testserver"))

    assert Event.objects.get(name="Unsubscribed").lead_id == lead.pk
    assert scored(lead) == before - 20


def test_bad_tokens_create_no_events_and_no_points(scored):
    lead = LeadFactory()
    message = sent_to(lead)
    before = scored(lead)
    events_before = Event.objects.count()

    open_bad = get(emails.open_url(message.pk)[:-3] + "xx/")
    click_bad = get(emails.click_url(message.pk, "https://example.com/a")[:-3] + "xx/")
    unsub_bad = Client().post(
        emails.unsubscribe_url(message.pk).removeprefix("http://testserver")[:-3] + "xx/"
    )

    assert (open_bad.status_code, click_bad.status_code, unsub_bad.status_code) == (400, 400, 400)
    assert Event.objects.count() == events_before
    assert scored(lead) == before
    message.refresh_from_db()
    assert (message.opened_at, message.clicked_at) == (None, None)
    assert Lead.objects.get(pk=lead.pk).do_not_contact is False


def test_an_email_not_sent_yet_records_no_open(scored):
    message = sent_to(LeadFactory())
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.QUEUED)

    get(emails.open_url(message.pk))

    assert Event.objects.filter(name="Email Opened").count() == 0
