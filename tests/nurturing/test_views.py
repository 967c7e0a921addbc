"""The public links inside an email: unsubscribe (GET asks, POST acts), open pixel, click."""

import pytest
from django.test import Client
from django.utils import timezone

from leads.models import Lead
from nurturing import emails
from nurturing.models import Enrollment, EnrollmentStatus, Message, MessageStatus, Suppression
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(settings):
    """A sent step-1 email of a two-step sequence, the enrollment still active."""
    settings.SITE_URL = "http://testserver"
    lead = LeadFactory(email="reader@example.com")
    sequence = make_sequence(key="views", delays=[0, 60])
    now = timezone.now()
    enrollment = Enrollment.objects.create(
        lead=lead, sequence=sequence, trigger="manual", enrolled_at=now, next_due_at=now
    )
    return Message.objects.create(
        enrollment=enrollment,
        step=sequence.steps.get(position=1),
        lead=lead,
        status=MessageStatus.SENT,
        to_email=lead.email,
        subject="Hello",
        due_at=now,
        created_at=now,
        sent_at=now,
    )


def path(url: str) -> str:
    return url.removeprefix("http://testserver")


def state(message):
    lead = Lead.objects.get(pk=message.lead_id)
    message.refresh_from_db()
    return (
        lead.do_not_contact,
        lead.consent,
        lead.consents.count(),
        Enrollment.objects.get().status,
        Suppression.objects.count(),
        message.opened_at,
        message.clicked_at,
    )


def test_unsubscribe_get_asks_and_changes_nothing(sent):
    before = state(sent)

    response = Client().get(path(emails.unsubscribe_url(sent.pk)))

    assert response.status_code == 200
    assert b'<form method="post"' in response.content
    assert state(sent) == before


def test_one_click_post_unsubscribes_at_once_without_csrf(sent):
    client = Client(enforce_csrf_checks=True)

    response = client.post(path(emails.unsubscribe_url(sent.pk)), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    lead = Lead.objects.get()
    assert (lead.do_not_contact, lead.do_not_contact_reason) == (True, "unsubscribed")
    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.exit_reason) == (EnrollmentStatus.EXITED, "unsubscribed")
    assert Suppression.objects.get().email == "reader@example.com"


def test_unsubscribing_twice_is_harmless(sent):
    url = path(emails.unsubscribe_url(sent.pk))

    first, second = Client().post(url), Client().post(url)

    assert (first.status_code, second.status_code) == (200, 200)
    assert Suppression.objects.count() == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_unsubscribe_token_is_400_and_changes_nothing(sent, method):
    token = emails.unsubscribe_url(sent.pk).rstrip("/").rsplit("/", 1)[1]
    forged = token.replace(token.split(":")[0], "OTk5", 1)  # another message id, old signature
    before = state(sent)

    response = getattr(Client(), method)(f"/e/unsubscribe/{forged}/")

    assert response.status_code == 400
    assert state(sent) == before


def test_open_pixel_records_the_open_once(sent):
    url = path(emails.open_url(sent.pk))

    first, second = Client().get(url), Client().get(url)

    assert (first.status_code, first["Content-Type"]) == (200, "image/gif")
    assert second.status_code == 200
    sent.refresh_from_db()
    assert sent.opened_at is not None


def test_open_with_bad_token_is_400_and_changes_nothing(sent):
    before = state(sent)

    response = Client().get(path(emails.open_url(sent.pk)).replace(":", ":x", 1))

    assert response.status_code == 400
    assert state(sent) == before


def test_click_redirects_to_the_signed_url_and_records_it(sent):
    response = Client().get(path(emails.click_url(sent.pk, "https://example.com/guide?a=1")))

    assert response.status_code == 302
    assert response["Location"] == "https://example.com/guide?a=1"
    sent.refresh_from_db()
    assert sent.clicked_at is not None


def test_click_with_a_tampered_token_is_400_and_changes_nothing(sent):
    url = path(emails.click_url(sent.pk, "https://example.com/guide"))
    before = state(sent)

    response = Client().get(url[:-6] + "AAAAA/")

    assert response.status_code == 400
    assert state(sent) == before


def test_click_never_redirects_outside_the_web(sent):
    before = state(sent)

    response = Client().get(path(emails.click_url(sent.pk, "javascript:alert(1)")))

    assert response.status_code == 400
    assert state(sent) == before


def test_click_on_an_email_in_review_settles_it_as_sent(sent):
    Message.objects.filter(pk=sent.pk).update(status=MessageStatus.UNKNOWN)

    Client().get(path(emails.click_url(sent.pk, "https://example.com/")))

    sent.refresh_from_db()
    assert sent.status == MessageStatus.SENT
