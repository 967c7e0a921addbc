"""Sending over real SMTP (aiosmtpd on 127.0.0.1) from this process: phases, bounces, outages."""

import time

import pytest
from django.core.mail import EmailMessage
from django.utils import timezone

from leads.models import Lead
from nurturing import services, transport
from nurturing.models import Enrollment, EnrollmentStatus, Message, MessageStatus, Suppression
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence
from tests.support import SmtpServer, free_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.NURTURE_SEND_RATE_PER_MINUTE = 0
    settings.SITE_URL = "https://crm.example.com"


def smtp_settings(settings, port: int) -> None:
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 2},
        }
    }


def queue_one(lead=None, key="t") -> Message:
    lead = lead or LeadFactory()
    now = timezone.now()
    Enrollment.objects.create(
        lead=lead,
        sequence=make_sequence(key=key),
        trigger="manual",
        next_due_at=now,
        enrolled_at=now,
    )
    services.due_dispatch()
    return Message.objects.get(lead=lead)


def test_email_arrives_with_one_click_unsubscribe_headers(smtp_mailer):
    message = queue_one(LeadFactory(first_name="Grace", email="grace@example.com"))

    left = services.messages_send(message_ids=[message.pk])

    assert left == []
    [got] = smtp_mailer.sink.snapshot()
    assert got.rcpt == "grace@example.com"
    assert str(got.message["Subject"]) == "t step 1 for Grace"
    unsubscribe = str(got.message["List-Unsubscribe"])
    assert unsubscribe.startswith("<https://crm.example.com/e/unsubscribe/")
    assert unsubscribe.endswith("/>")
    # On the wire as one plain line: an encoded word there would break one-click unsubscribe.
    assert f"\r\nList-Unsubscribe: {unsubscribe}\r\n".encode() in got.raw
    assert str(got.message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert str(got.message["Message-ID"]) == f"<nurture-{message.pk}@crm.example.com>"
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.subject == "t step 1 for Grace"


def test_permanent_refusal_bounces_the_address_and_stops_the_lead(smtp_mailer):
    lead = LeadFactory(email="gone@example.com")
    smtp_mailer.sink.refuse.add("gone@example.com")
    message = queue_one(lead)

    left = services.messages_send(message_ids=[message.pk])

    assert left == []
    assert smtp_mailer.sink.snapshot() == []
    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED
    assert message.detail.startswith("550 ")
    lead.refresh_from_db()
    assert (lead.do_not_contact, lead.do_not_contact_reason) == (True, "bounced")
    assert Suppression.objects.get().email == "gone@example.com"
    assert Enrollment.objects.get().status in (EnrollmentStatus.COMPLETED, EnrollmentStatus.EXITED)


def test_bounce_exits_the_leads_active_enrollments(smtp_mailer):
    lead = LeadFactory(email="gone2@example.com")
    smtp_mailer.sink.refuse.add("gone2@example.com")
    now = timezone.now()
    longer = make_sequence(key="long", delays=[0, 60])
    enrollment = Enrollment.objects.create(
        lead=lead, sequence=longer, trigger="manual", next_due_at=now, enrolled_at=now
    )
    services.due_dispatch()

    services.messages_send(message_ids=list(Message.objects.values_list("pk", flat=True)))

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == (EnrollmentStatus.EXITED, "bounced")


def test_server_down_keeps_the_email_queued_for_a_retry(settings):
    port = free_port()  # nothing listens here yet
    smtp_settings(settings, port)
    message = queue_one()

    left = services.messages_send(message_ids=[message.pk])

    assert left == [message.pk]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.QUEUED, 1)
    assert message.detail != ""

    server = SmtpServer(port).start()
    try:
        assert services.messages_send(message_ids=[message.pk]) == []
    finally:
        server.stop()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert len(server.sink.snapshot()) == 1


def test_temporary_refusal_is_retried_not_bounced(settings):
    class Greylist:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "451 4.7.1 Try again later"

    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(Greylist(), hostname="127.0.0.1", port=port)
    controller.start()
    smtp_settings(settings, port)
    message = queue_one()
    try:
        left = services.messages_send(message_ids=[message.pk])
    finally:
        controller.stop()

    assert left == [message.pk]
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.detail.startswith("451")
    assert Lead.objects.get().do_not_contact is False


def test_nothing_is_delivered_when_the_commit_is_refused(smtp_mailer):
    refused = EmailMessage("Refused", "body", "from@example.com", ["to@example.com"])
    following = EmailMessage("Next", "body", "from@example.com", ["to@example.com"])

    with transport.Mailer() as mailer:
        with pytest.raises(transport.NotCommitted):
            mailer.send(refused, commit=lambda: False)
        mailer.send(following, commit=lambda: True)  # on a new connection
    time.sleep(0.2)

    assert [str(r.message["Subject"]) for r in smtp_mailer.sink.snapshot()] == ["Next"]


def test_commit_is_asked_after_the_body_and_before_acceptance(smtp_mailer):
    email = EmailMessage("Hi", "line\n.leading dot\n", "from@example.com", ["to@example.com"])
    seen_at_commit = []

    def commit() -> bool:
        seen_at_commit.append(len(smtp_mailer.sink.snapshot()))
        return True

    with transport.Mailer() as mailer:
        answer = mailer.send(email, commit=commit)

    assert seen_at_commit == [0]
    assert answer.endswith("Accepted")
    [got] = smtp_mailer.sink.snapshot()
    # Dot-stuffed on the wire, un-stuffed by the server: the leading dot survives as one.
    assert got.message.get_content().replace("\r\n", "\n") == "line\n.leading dot\n"


def test_one_connection_carries_a_batch(smtp_mailer):
    lead_a, lead_b = LeadFactory(), LeadFactory()
    sequence = make_sequence(key="batch")
    now = timezone.now()
    for lead in (lead_a, lead_b):
        Enrollment.objects.create(
            lead=lead, sequence=sequence, trigger="manual", next_due_at=now, enrolled_at=now
        )
    services.due_dispatch()

    services.messages_send(message_ids=list(Message.objects.values_list("pk", flat=True)))

    assert sorted(r.rcpt for r in smtp_mailer.sink.snapshot()) == sorted(
        [lead_a.email, lead_b.email]
    )
