"""What recipients do with a nurture email: unsubscribe, open, click.

Opens, clicks and unsubscribes become events of the lead (events.services.lead_event_record),
queued for scoring like pushed events, so the scoring playbook scores them like any other event.
"""

import hashlib

from django.db import transaction
from django.utils import timezone

from events import services as events_services
from leads.models import Lead
from leads.services import lead_consent_withdraw, lead_mark_do_not_contact
from nurturing.models import Message, MessageStatus, SuppressionReason
from nurturing.services.enrollments import lead_enrollments_exit
from nurturing.services.sending import suppression_add

INTERNAL_SOURCE = "nurturing"
# What proves the email reached the recipient: an email still in review is settled as sent.
_DELIVERED = (MessageStatus.SENT, MessageStatus.UNKNOWN)


def _message(message_id: int) -> Message | None:
    return (
        Message.objects.select_related("lead", "step", "enrollment__sequence")
        .filter(pk=message_id)
        .first()
    )


UNSUBSCRIBE_WORDING = "Unsubscribed with the link in the email {subject!r} ({address})."


@transaction.atomic
def unsubscribe(*, message_id: int, ip: str | None = None) -> bool:
    """One-click unsubscribe: the address is suppressed, the lead do-not-contact, its consent
    withdrawn (with its evidence: source "unsubscribe", which email, from which `ip`), its
    enrollments ended. Returns False when there was nothing (left) to do."""
    message = _message(message_id)
    if message is None:
        return False
    lead = message.lead
    # Which email's link it was: the per-step figures count unsubscribes by step.
    Message.objects.filter(pk=message_id, unsubscribed_at__isnull=True).update(
        unsubscribed_at=timezone.now()
    )
    suppression_add(email=message.to_email, reason=SuppressionReason.UNSUBSCRIBED)
    newly = lead_mark_do_not_contact(lead_id=lead.pk, reason="unsubscribed")
    wording = UNSUBSCRIBE_WORDING.format(
        subject=message.subject or message.step.subject, address=message.to_email
    )
    lead_consent_withdraw(lead_id=lead.pk, source="unsubscribe", wording=wording, ip=ip)
    lead_enrollments_exit(lead_id=lead.pk, reason="unsubscribed")
    # Emails already queued are checked again at send time; cancelling them now keeps the
    # lead's timeline honest straight away.
    Message.objects.filter(lead=lead, status=MessageStatus.QUEUED).update(
        status=MessageStatus.CANCELLED, detail="unsubscribed"
    )
    if newly:
        _emit(lead, message, "Unsubscribed", key=f"unsubscribe-{lead.pk}", properties={})
    return newly


@transaction.atomic
def open_record(*, message_id: int) -> bool:
    """The open pixel was fetched. Counted (and scored) once per email."""
    message = _message(message_id)
    if message is None:
        return False
    now = timezone.now()
    first = Message.objects.filter(
        pk=message_id, opened_at__isnull=True, status__in=_DELIVERED
    ).update(opened_at=now)
    if not first:
        return False
    _settle_review(message_id, now)
    _emit(message.lead, message, "Email Opened", key=f"open-{message_id}", properties={})
    return True


@transaction.atomic
def click_record(*, message_id: int, url: str) -> bool:
    """A tracked link was followed. Each distinct link of an email is counted (and scored) once."""
    message = _message(message_id)
    if message is None or message.status not in _DELIVERED:
        return False
    now = timezone.now()
    Message.objects.filter(pk=message_id, clicked_at__isnull=True).update(clicked_at=now)
    _settle_review(message_id, now)
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    _emit(
        message.lead,
        message,
        "Email Link Clicked",
        key=f"click-{message_id}-{digest}",
        properties={"url": url},
    )
    return True


def _settle_review(message_id: int, now) -> None:
    Message.objects.filter(pk=message_id, status=MessageStatus.UNKNOWN).update(
        status=MessageStatus.SENT, sent_at=now, detail="delivered: the recipient opened it"
    )


def _emit(lead: Lead, message: Message, name: str, *, key: str, properties: dict) -> None:
    """The lead's event, recorded directly (the lead is known; no ids to resolve)."""
    events_services.lead_event_record(
        lead=lead,
        source=events_services.source_internal(INTERNAL_SOURCE),
        name=name,
        message_id=f"nurture-{key}",
        properties={
            "message_id": message.pk,
            "sequence": message.enrollment.sequence.key,
            "step": message.step.position,
            "subject": message.subject,
            **properties,
        },
    )
