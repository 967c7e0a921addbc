"""A real Celery worker subprocess on Redis, a real SMTP server (aiosmtpd), PostgreSQL.

This process plays the beat: where the behaviour under test is the worker's, it calls the
periodic job's functions directly instead of waiting for a minute to pass.
"""

import re
import time
from collections import Counter
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from events.services import events_ingest, source_internal
from leads.models import Lead
from nurturing import emails, services
from nurturing.models import Enrollment, EnrollmentStatus, Message, MessageStatus
from playbook.nurturing import playbook_load
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence
from tests.support import SmtpServer, free_port, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
FINAL = (MessageStatus.SENT, MessageStatus.UNKNOWN)


def beat() -> None:
    """What the every-minute periodic job does."""
    services.in_flight_recover()
    services.due_dispatch()


def enroll_all(sequence, leads) -> None:
    now = timezone.now()
    Enrollment.objects.bulk_create(
        Enrollment(lead=lead, sequence=sequence, trigger="manual", next_due_at=now, enrolled_at=now)
        for lead in leads
    )


def test_lead_identified_as_iql_receives_the_welcome_email(
    start_worker, smtp_server, worker_settings
):
    playbook_load()
    worker = start_worker(smtp_server.port)

    # The product identifies a new user: ingestion creates the lead at IQL.
    result = events_ingest(
        source=source_internal("product-test"),
        messages=[
            {
                "type": "identify",
                "userId": "u-1001",
                "traits": {"email": "new.lead@example.com", "firstName": "Nia"},
            }
        ],
    )
    assert result.accepted == 1
    lead = Lead.objects.get(external_id="u-1001")

    # No beat runs here: the email can only come from the stage-entered hook's task.
    assert wait_for(lambda: smtp_server.sink.snapshot(), timeout=45), worker.output()[-3000:]
    [got] = smtp_server.sink.snapshot()
    assert got.rcpt == "new.lead@example.com"
    assert str(got.message["Subject"]) == "Welcome, Nia: here is your download"
    assert re.fullmatch(
        r"<http://testserver/e/unsubscribe/[^/>]+/>", str(got.message["List-Unsubscribe"])
    )
    assert str(got.message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    enrollment = Enrollment.objects.get(lead=lead)
    assert (enrollment.sequence.key, enrollment.last_position) == ("welcome-iql", 1)
    assert Message.objects.get(lead=lead).status == MessageStatus.SENT


def test_every_due_email_is_delivered_exactly_once_across_kill9s(
    start_worker, smtp_server, worker_settings
):
    leads = [LeadFactory() for _ in range(150)]
    sequence = make_sequence(key="kill", delays=[0, 0])
    enroll_all(sequence, leads)
    expected = {
        (lead.email, f"kill step {n} for {lead.first_name}") for lead in leads for n in (1, 2)
    }
    worker = start_worker(smtp_server.port)
    beat()

    for kill in range(3):
        target = 40 * (kill + 1)
        assert wait_for(lambda t=target: len(smtp_server.sink.snapshot()) >= t, timeout=60)
        worker.kill9()
        beat()  # queues step 2 for the leads whose step 1 went out
        worker = start_worker(smtp_server.port)

    # Every email reaches a final state once the claims of the killed workers expire: sent, or
    # in review (its worker died between its commit mark and the server's answer).
    settled = wait_for(
        lambda: (
            Message.objects.count() == 300
            and not Message.objects.exclude(status__in=FINAL).exists()
        ),
        timeout=120,
        interval=1,
        on_tick=beat,
    )
    assert settled, Counter(Message.objects.values_list("status", flat=True))
    reviewed = review_like_an_operator(smtp_server.sink)
    assert sum(reviewed.values()) <= 6  # at most what each killed process was committing
    delivered = wait_for(
        lambda: set(smtp_server.sink.counts()) >= expected, timeout=60, interval=1, on_tick=beat
    )
    time.sleep(2)  # a duplicate, were there one, would arrive now

    counts = smtp_server.sink.counts()
    assert delivered, f"not delivered: {expected - set(counts)}"
    assert set(counts) == expected
    assert [key for key, n in counts.items() if n != 1] == []
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}


def review_like_an_operator(sink) -> Counter:
    """Settle each email in review as an operator would: look its Message-ID up in the mail
    server's log (here, what the test server received), then resolve it through the service."""
    logged = {str(r.message["Message-ID"]) for r in sink.snapshot()}
    outcome = Counter()
    for message in Message.objects.filter(status=MessageStatus.UNKNOWN):
        delivered = emails.message_id_header(message.pk) in logged
        services.message_review_resolve(message_id=message.pk, delivered=delivered, actor=None)
        outcome["delivered" if delivered else "not delivered"] += 1
    return outcome


def test_emails_queued_while_the_server_is_down_go_out_when_it_is_back(
    start_worker, worker_settings
):
    port = free_port()  # no server here yet
    leads = [LeadFactory() for _ in range(10)]
    enroll_all(make_sequence(key="down"), leads)
    start_worker(port)
    beat()

    # The worker has tried and retried (between tries, every email is back in the queue).
    retried_and_waiting = wait_for(
        lambda: (
            Message.objects.filter(attempts__gte=2).exists()
            and Message.objects.filter(status=MessageStatus.QUEUED).count() == 10
        ),
        timeout=30,
        interval=0.05,
    )
    assert retried_and_waiting
    assert Message.objects.filter(status=MessageStatus.QUEUED).count() == 10
    server = SmtpServer(port).start()
    try:
        delivered = wait_for(lambda: len(server.sink.counts()) == 10, timeout=60, on_tick=beat)
        time.sleep(1)
        counts = server.sink.counts()
    finally:
        server.stop()

    assert delivered
    assert sorted(counts.values()) == [1] * 10
    assert {rcpt for rcpt, _ in counts} == {lead.email for lead in leads}
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}


def test_no_email_after_unsubscribing_mid_sequence(start_worker, smtp_server, worker_settings):
    lead = LeadFactory(email="leaving@example.com")
    sequence = make_sequence(key="mid", delays=[0, 60, 60])
    enroll_all(sequence, [lead])
    start_worker(smtp_server.port)
    beat()
    assert wait_for(lambda: len(smtp_server.sink.snapshot()) == 1, timeout=30)
    [first] = smtp_server.sink.snapshot()
    link = str(first.message["List-Unsubscribe"]).strip("<>")

    # The mailbox provider's one-click POST (RFC 8058).
    response = Client().post(
        urlsplit(link).path, {"List-Unsubscribe": "One-Click"}, HTTP_HOST="testserver"
    )
    # Step 2 falls due; the beat runs as usual.
    Enrollment.objects.update(next_due_at=timezone.now() - timedelta(seconds=1))
    beat()
    time.sleep(3)

    assert response.status_code == 200
    assert len(smtp_server.sink.snapshot()) == 1
    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.exit_reason) == (EnrollmentStatus.EXITED, "unsubscribed")
    assert Message.objects.count() == 1
    assert Lead.objects.get().do_not_contact_reason == "unsubscribed"


def test_email_queued_before_do_not_contact_is_not_sent(start_worker, smtp_server, worker_settings):
    lead = LeadFactory(email="queued@example.com")
    enroll_all(make_sequence(key="q"), [lead])
    services.due_dispatch()  # queued in Redis; no worker yet
    Lead.objects.filter(pk=lead.pk).update(do_not_contact=True, do_not_contact_reason="by phone")

    start_worker(smtp_server.port)
    cancelled = wait_for(
        lambda: Message.objects.filter(status=MessageStatus.CANCELLED).exists(), timeout=30
    )

    assert cancelled
    assert smtp_server.sink.snapshot() == []
    assert Message.objects.get().detail == "do-not-contact: by phone"
