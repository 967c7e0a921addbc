"""Consent before mail: nurture never mails a lead that needs consent it has not given, nor one
that withdrew it; an unsubscribe withdraws it, with its evidence."""

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from core.errors import Conflict
from leads import services as lead_services
from leads.models import ConsentState, Lead, Stage
from nurturing import emails, services
from nurturing.models import Enrollment, EnrollmentStatus, Message, MessageStatus, TriggerKind
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence

pytestmark = pytest.mark.django_db

WORDING = "Yes, email me the checklist."


@pytest.fixture(autouse=True)
def _no_send_rate_limit(settings):
    settings.NURTURE_SEND_RATE_PER_MINUTE = 0
    settings.SITE_URL = "http://testserver"


def enroll(lead, sequence) -> Enrollment:
    now = timezone.now()
    return Enrollment.objects.create(
        lead=lead, sequence=sequence, trigger="manual", next_due_at=now, enrolled_at=now
    )


def send_queued() -> None:
    ids = list(Message.objects.filter(status=MessageStatus.QUEUED).values_list("pk", flat=True))
    services.messages_send(message_ids=ids)


# The gate reads only the lead's state: set here as lead_consent_give / _withdraw leave it
# (tests/leads/test_consent.py covers them and their evidence).
def give(lead) -> None:
    Lead.objects.filter(pk=lead.pk).update(consent=ConsentState.GIVEN)


def withdraw(lead) -> None:
    Lead.objects.filter(pk=lead.pk).update(consent=ConsentState.WITHDRAWN)


# --- The dispatcher -----------------------------------------------------------------------------


def test_a_lead_that_needs_consent_it_has_not_given_is_not_mailed_and_waits():
    lead = LeadFactory(consent_required=True)
    enrollment = enroll(lead, make_sequence(key="wait"))
    due = enrollment.next_due_at

    queued = services.due_dispatch()
    send_queued()

    assert (queued, mail.outbox, Message.objects.count()) == (0, [], 0)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.last_position) == (EnrollmentStatus.ACTIVE, 0)
    assert enrollment.next_due_at == due


def test_the_waiting_enrollment_is_mailed_once_consent_is_given():
    lead = LeadFactory(consent_required=True, first_name="Ada")
    enroll(lead, make_sequence(key="wait"))
    services.due_dispatch()

    give(lead)
    queued = services.due_dispatch()
    send_queued()

    assert queued == 1
    assert [m.subject for m in mail.outbox] == ["wait step 1 for Ada"]


def test_a_lead_from_a_source_that_collected_consent_is_mailed_as_today():
    lead = LeadFactory(first_name="Ada")  # a product sign-up the backend pushed
    assert (lead.consent_required, lead.consent) == (False, ConsentState.UNKNOWN)
    enroll(lead, make_sequence(key="welcome"))

    services.due_dispatch()
    send_queued()

    assert [m.subject for m in mail.outbox] == ["welcome step 1 for Ada"]


@pytest.mark.parametrize("required", [False, True])
def test_a_lead_that_withdrew_consent_leaves_its_sequences_at_dispatch(required):
    lead = LeadFactory(consent_required=required)
    give(lead)
    withdraw(lead)
    enrollment = enroll(lead, make_sequence(key="gone"))

    services.due_dispatch()
    send_queued()

    assert (mail.outbox, Message.objects.count()) == ([], 0)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == (
        EnrollmentStatus.EXITED,
        "consent withdrawn",
    )


# --- At send time -------------------------------------------------------------------------------


def test_consent_withdrawn_after_queueing_cancels_the_send():
    lead = LeadFactory()
    enroll(lead, make_sequence(key="late", delays=[0, 60]))
    services.due_dispatch()
    withdraw(lead)

    send_queued()

    assert mail.outbox == []
    message = Message.objects.get()
    assert (message.status, message.detail) == (MessageStatus.CANCELLED, "consent withdrawn")


def test_an_owned_lead_that_withdrew_consent_is_cancelled_not_held(rep):
    lead = LeadFactory()
    enroll(lead, make_sequence(key="owned"))
    services.due_dispatch()
    Lead.objects.filter(pk=lead.pk).update(owner=rep)
    withdraw(lead)

    send_queued()

    message = Message.objects.get()
    assert (message.status, message.detail) == (MessageStatus.CANCELLED, "consent withdrawn")
    assert mail.outbox == []


def test_a_lead_made_to_need_consent_after_queueing_is_not_mailed():
    lead = LeadFactory()
    enrollment = enroll(lead, make_sequence(key="raised", delays=[0, 60]))
    services.due_dispatch()
    Lead.objects.filter(pk=lead.pk).update(consent_required=True)

    send_queued()

    assert mail.outbox == []
    message = Message.objects.get()
    assert (message.status, message.detail) == (
        MessageStatus.CANCELLED,
        "consent needed: not given yet",
    )
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE  # it waits for consent


def test_consent_given_is_mailed_at_send_time():
    lead = LeadFactory(consent_required=True)
    give(lead)
    enroll(lead, make_sequence(key="ok"))

    services.due_dispatch()
    send_queued()

    assert len(mail.outbox) == 1
    assert Message.objects.get().status == MessageStatus.SENT


# --- Enrolling ----------------------------------------------------------------------------------


def test_a_lead_that_withdrew_consent_cannot_be_enrolled_by_hand(marketer):
    lead = LeadFactory()
    withdraw(lead)
    sequence = make_sequence(key="manual")

    with pytest.raises(Conflict) as refused:
        services.enrollment_create(lead_id=lead.pk, sequence_id=sequence.pk, actor=marketer)

    assert str(refused.value.detail) == "The lead withdrew consent to email."
    assert Enrollment.objects.count() == 0


def test_triggers_enroll_a_lead_waiting_for_consent_but_not_one_that_withdrew_it():
    sequence = make_sequence(key="stage", trigger_kind=TriggerKind.STAGE, trigger_stage=Stage.IQL)
    waiting = LeadFactory(consent_required=True)
    gone = LeadFactory()
    withdraw(gone)

    on_entry = services.leads_stage_entered(lead_ids=[waiting.pk, gone.pk])
    by_matcher = services.triggers_match()

    assert (on_entry, by_matcher) == (1, 0)
    assert list(Enrollment.objects.values_list("lead_id", "sequence_id")) == [
        (waiting.pk, sequence.pk)
    ]


def test_the_enrollment_api_shows_a_lead_waiting_for_consent_as_paused(marketer_client):
    lead = LeadFactory(consent_required=True)
    enroll(lead, make_sequence(key="api"))

    rows = marketer_client.get("/api/v1/nurturing/enrollments/").json()["results"]

    assert [row["paused"] for row in rows] == [True]


# --- Unsubscribing withdraws consent ------------------------------------------------------------


def sent_email(lead) -> Message:
    sequence = make_sequence(key="unsub", delays=[0, 60])
    enrollment = enroll(lead, sequence)
    now = timezone.now()
    return Message.objects.create(
        enrollment=enrollment,
        step=sequence.steps.get(position=1),
        lead=lead,
        status=MessageStatus.SENT,
        to_email=lead.email,
        subject="Your checklist",
        due_at=now,
        created_at=now,
        sent_at=now,
    )


def test_an_unsubscribe_withdraws_consent_with_its_evidence():
    lead = LeadFactory(email="reader@example.com", consent_required=True)
    lead_services.lead_consent_give(lead_id=lead.pk, wording=WORDING, source="ebook")
    message = sent_email(lead)
    url = emails.unsubscribe_url(message.pk).removeprefix("http://testserver")

    response = Client(REMOTE_ADDR="198.51.100.4").post(url)

    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.consent == ConsentState.WITHDRAWN
    latest = lead.consents.order_by("-at", "-id").first()
    assert (latest.state, latest.source, latest.ip) == ("withdrawn", "unsubscribe", "198.51.100.4")
    assert latest.wording == (
        "Unsubscribed with the link in the email 'Your checklist' (reader@example.com)."
    )


def test_an_unsubscribe_withdraws_consent_of_a_lead_that_never_needed_it():
    lead = LeadFactory()
    message = sent_email(lead)

    services.unsubscribe(message_id=message.pk)

    lead.refresh_from_db()
    assert (lead.consent, lead.consent_required) == (ConsentState.WITHDRAWN, False)
    assert lead.consents.get().source == "unsubscribe"
