"""The send state machine, driven directly (no worker): dispatch, claim, commit, recover."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from core.errors import Forbidden
from leads.models import Lead
from nurturing import services
from nurturing.models import (
    Enrollment,
    EnrollmentStatus,
    Message,
    MessageStatus,
    Suppression,
)
from nurturing.services import sending
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.NURTURE_SEND_RATE_PER_MINUTE = 0
    settings.SITE_URL = "https://crm.example.com"


def enroll(lead, sequence, *, due=None) -> Enrollment:
    now = timezone.now()
    return Enrollment.objects.create(
        lead=lead,
        sequence=sequence,
        trigger="manual",
        next_due_at=due or now,
        enrolled_at=now,
    )


def dispatch_and_send() -> list[int]:
    services.due_dispatch()
    ids = list(Message.objects.filter(status=MessageStatus.QUEUED).values_list("pk", flat=True))
    services.messages_send(message_ids=ids)
    return ids


def test_due_step_is_queued_once_and_the_enrollment_moves_on():
    sequence = make_sequence(key="two", delays=[0, 120])
    enrollment = enroll(LeadFactory(), sequence)

    queued = services.due_dispatch()
    again = services.due_dispatch()

    assert (queued, again) == (1, 0)
    enrollment.refresh_from_db()
    message = Message.objects.get()
    assert (message.step.position, message.status) == (1, MessageStatus.QUEUED)
    assert enrollment.last_position == 1
    assert enrollment.status == EnrollmentStatus.ACTIVE
    expected = message.created_at + timedelta(minutes=120)
    assert enrollment.next_due_at == expected


def test_last_step_completes_the_enrollment():
    enrollment = enroll(LeadFactory(), make_sequence(key="one"))

    services.due_dispatch()

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.next_due_at) == (EnrollmentStatus.COMPLETED, None)


def test_step_not_yet_due_is_left_alone():
    enroll(LeadFactory(), make_sequence(key="later"), due=timezone.now() + timedelta(minutes=5))

    assert services.due_dispatch() == 0
    assert Message.objects.count() == 0


def test_sending_twice_sends_once():
    lead = LeadFactory(first_name="Ada")
    enroll(lead, make_sequence(key="once"))
    services.due_dispatch()
    ids = list(Message.objects.values_list("pk", flat=True))

    services.messages_send(message_ids=ids)
    services.messages_send(message_ids=ids)

    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "once step 1 for Ada"
    message = Message.objects.get()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)
    assert message.sent_at is not None


def test_do_not_contact_set_after_queueing_cancels_the_send():
    lead = LeadFactory()
    enroll(lead, make_sequence(key="dnc"))
    services.due_dispatch()
    Lead.objects.filter(pk=lead.pk).update(do_not_contact=True, do_not_contact_reason="asked")

    services.messages_send(message_ids=list(Message.objects.values_list("pk", flat=True)))

    assert mail.outbox == []
    message = Message.objects.get()
    assert message.status == MessageStatus.CANCELLED
    assert message.detail == "do-not-contact: asked"


def test_suppressed_address_is_not_mailed_even_when_queued():
    lead = LeadFactory()
    enroll(lead, make_sequence(key="sup"))
    services.due_dispatch()
    Suppression.objects.create(email=lead.email, reason="unsubscribed")

    services.messages_send(message_ids=list(Message.objects.values_list("pk", flat=True)))

    assert mail.outbox == []
    assert Message.objects.get().status == MessageStatus.CANCELLED


def test_do_not_contact_lead_leaves_the_sequence_at_dispatch():
    lead = LeadFactory(do_not_contact=True, do_not_contact_reason="bounced")
    enrollment = enroll(lead, make_sequence(key="x"))

    services.due_dispatch()

    enrollment.refresh_from_db()
    assert Message.objects.count() == 0
    assert (enrollment.status, enrollment.exit_reason) == (
        EnrollmentStatus.EXITED,
        "do-not-contact: bounced",
    )


def test_owned_lead_is_paused_and_resumes_when_released(rep):
    lead = LeadFactory(owner=rep)
    enrollment = enroll(lead, make_sequence(key="pause"))

    assert services.due_dispatch() == 0
    Lead.objects.filter(pk=lead.pk).update(owner=None)
    assert services.due_dispatch() == 1

    enrollment.refresh_from_db()
    assert enrollment.last_position == 1


def test_lead_taken_over_after_queueing_holds_the_email(rep):
    lead = LeadFactory()
    enroll(lead, make_sequence(key="hold"))
    services.due_dispatch()
    Lead.objects.filter(pk=lead.pk).update(owner=rep)

    services.messages_send(message_ids=list(Message.objects.values_list("pk", flat=True)))

    assert mail.outbox == []
    message = Message.objects.get()
    assert (message.status, message.detail) == (MessageStatus.QUEUED, "held: lead is owned")


def test_score_condition_skips_the_step_and_moves_on():
    lead = LeadFactory(score=80)
    sequence = make_sequence(key="cond", delays=[0, 0])
    sequence.steps.filter(position=1).update(send_if_score_below=50)
    enrollment = enroll(lead, sequence)

    services.due_dispatch()

    message = Message.objects.get()
    assert (message.status, message.detail) == (MessageStatus.SKIPPED, "score 80 is not below 50")
    enrollment.refresh_from_db()
    assert (enrollment.last_position, enrollment.status) == (1, EnrollmentStatus.ACTIVE)


def test_event_condition_skips_when_the_event_happened_since_enrolling():
    from events.models import Event, Source

    lead = LeadFactory()
    sequence = make_sequence(key="ev")
    sequence.steps.update(send_unless_event="Demo Requested")
    enroll(lead, sequence)
    source = Source.objects.create(name="web", write_key_digest="d" * 64, write_key_prefix="wk")
    Event.objects.create(
        source=source,
        message_id="m1",
        type="track",
        name="Demo Requested",
        lead=lead,
        occurred_at=timezone.now(),
        received_at=timezone.now(),
    )

    services.due_dispatch()

    assert Message.objects.get().status == MessageStatus.SKIPPED


def test_lead_reaching_an_exit_stage_leaves_at_dispatch():
    lead = LeadFactory(stage="SAL")
    enrollment = enroll(lead, make_sequence(key="exit"))

    services.due_dispatch()

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == (EnrollmentStatus.EXITED, "reached SAL")


def test_rate_limit_queues_at_most_the_budget_per_minute(settings):
    settings.NURTURE_SEND_RATE_PER_MINUTE = 3
    sequence = make_sequence(key="rate")
    for _ in range(5):
        enroll(LeadFactory(), sequence)

    first, second = services.due_dispatch(), services.due_dispatch()

    assert (first, second) == (3, 0)
    assert Enrollment.objects.filter(last_position=0).count() == 2


def test_stale_claim_is_sent_again_by_recovery(settings):
    enroll(LeadFactory(), make_sequence(key="stale"))
    services.due_dispatch()
    message = Message.objects.get()
    # A worker claimed it, then died before saying anything final to the server.
    long_ago = timezone.now() - timedelta(seconds=settings.NURTURE_CLAIM_LEASE_SECONDS + 1)
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.CLAIMED, claim_token=uuid.uuid4(), claimed_at=long_ago
    )

    result = services.in_flight_recover()
    services.messages_send(message_ids=[message.pk])

    assert result["retried"] == 1
    assert len(mail.outbox) == 1
    assert Message.objects.get().status == MessageStatus.SENT


def test_fresh_claim_of_another_worker_is_not_taken():
    enroll(LeadFactory(), make_sequence(key="fresh"))
    services.due_dispatch()
    message = Message.objects.get()
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.CLAIMED, claim_token=uuid.uuid4(), claimed_at=timezone.now()
    )

    services.in_flight_recover()
    services.messages_send(message_ids=[message.pk])

    assert mail.outbox == []
    assert Message.objects.get().status == MessageStatus.CLAIMED


def test_worker_dying_while_committing_goes_to_review_and_is_never_resent(settings):
    enroll(LeadFactory(), make_sequence(key="commit"))
    services.due_dispatch()
    message = Message.objects.get()
    long_ago = timezone.now() - timedelta(seconds=settings.NURTURE_CLAIM_LEASE_SECONDS + 1)
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.COMMITTING, claim_token=uuid.uuid4(), claimed_at=long_ago
    )

    result = services.in_flight_recover()
    services.messages_send(message_ids=[message.pk])

    assert result["review"] == 1
    assert mail.outbox == []
    assert Message.objects.get().status == MessageStatus.UNKNOWN


def test_review_resolved_as_not_delivered_sends_it():
    enroll(LeadFactory(), make_sequence(key="review"))
    services.due_dispatch()
    message = Message.objects.get()
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.UNKNOWN)

    services.message_review_resolve(message_id=message.pk, delivered=False, actor=None)
    services.messages_send(message_ids=[message.pk])

    assert len(mail.outbox) == 1
    assert Message.objects.get().status == MessageStatus.SENT


def test_rep_may_not_settle_an_email_in_review(rep):
    enroll(LeadFactory(), make_sequence(key="rep-review"))
    services.due_dispatch()
    Message.objects.update(status=MessageStatus.UNKNOWN)
    before = list(Message.objects.values())

    with pytest.raises(Forbidden) as caught:
        services.message_review_resolve(
            message_id=Message.objects.get().pk, delivered=True, actor=rep
        )

    assert (caught.value.status_code, str(caught.value.detail)) == (
        403,
        "Only marketers and admins review emails.",
    )
    assert list(Message.objects.values()) == before


@pytest.mark.parametrize("who", ["marketer", "admin_user"])
def test_marketers_and_admins_settle_an_email_in_review(request, who):
    enroll(LeadFactory(), make_sequence(key="settled"))
    services.due_dispatch()
    message = Message.objects.get()
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.UNKNOWN)

    settled = services.message_review_resolve(
        message_id=message.pk, delivered=True, actor=request.getfixturevalue(who)
    )

    assert (settled.status, settled.detail) == (MessageStatus.SENT, "confirmed by review")
    assert mail.outbox == []


def test_forgotten_queued_email_is_queued_again(settings, django_capture_on_commit_callbacks):
    enroll(LeadFactory(), make_sequence(key="lost"))
    services.due_dispatch()
    long_ago = timezone.now() - timedelta(seconds=settings.NURTURE_CLAIM_LEASE_SECONDS + 1)
    Message.objects.update(enqueued_at=long_ago)

    with django_capture_on_commit_callbacks() as callbacks:
        result = services.in_flight_recover()

    assert result["requeued"] == 1
    assert len(callbacks) == 1
    assert Message.objects.get().enqueued_at > long_ago


def test_lost_claim_never_commits():
    enroll(LeadFactory(), make_sequence(key="lostclaim"))
    services.due_dispatch()
    message = Message.objects.get()
    token = uuid.uuid4()
    assert sending._claim([message.pk], token) == 1
    # Recovery handed the row to another worker meanwhile (a new token).
    Message.objects.filter(pk=message.pk).update(claim_token=uuid.uuid4())

    committed = sending._mine(message.pk, token, MessageStatus.CLAIMED).update(
        status=MessageStatus.COMMITTING
    )

    assert committed == 0
    assert Message.objects.get().status == MessageStatus.CLAIMED


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_queue_each_step_once():
    sequence = make_sequence(key="race")
    for _ in range(40):
        enroll(LeadFactory(), sequence)
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait(5)
            services.due_dispatch()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert Message.objects.count() == 40
    assert Enrollment.objects.filter(status=EnrollmentStatus.COMPLETED).count() == 40


@pytest.mark.django_db(transaction=True)
def test_rows_locked_by_one_dispatcher_are_skipped_by_the_other():
    sequence = make_sequence(key="skip")
    first, second = enroll(LeadFactory(), sequence), enroll(LeadFactory(), sequence)
    locked = threading.Event()
    release = threading.Event()

    def hold_first():
        with transaction.atomic():
            Enrollment.objects.select_for_update().get(pk=first.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_first)
    holder.start()
    locked.wait(5)
    try:
        queued = services.due_dispatch()
    finally:
        release.set()
        holder.join(10)

    assert queued == 1
    assert list(Message.objects.values_list("enrollment_id", flat=True)) == [second.pk]


@pytest.mark.django_db(transaction=True)
def test_sending_refuses_to_run_inside_a_transaction():
    # Its commit mark must be visible to recovery before the server gets the final ".".
    enroll(LeadFactory(), make_sequence(key="tx"))
    services.due_dispatch()
    message = Message.objects.get()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.messages_send(message_ids=[message.pk])

    assert mail.outbox == []
    assert Message.objects.get().status == MessageStatus.QUEUED
