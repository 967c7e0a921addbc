"""Turning due steps into queued emails; and what a dead worker or a lost task left behind.

The dispatcher runs every minute (leadcrm/schedule.py) and right after a lead is enrolled. It
claims due enrollments with SELECT ... FOR UPDATE SKIP LOCKED, writes one Message row per
(enrollment, step) and queues the sends after the commit. Due times live in the database,
never in Celery countdowns. The send state machine itself is in nurturing/services/sending.py.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.errors import Conflict
from core.publish import publish_on_commit
from leads import privacy
from leads.models import ConsentState
from nurturing import selectors
from nurturing.models import (
    Enrollment,
    EnrollmentStatus,
    Message,
    MessageStatus,
    Sequence,
    Step,
    Suppression,
)

logger = logging.getLogger(__name__)

# Nurturing's published tasks, by name (nurturing/tasks.py registers them under these names).
NURTURE_SEND = "nurturing.tasks.nurture_send"
NURTURE_DISPATCH_LEADS = "nurturing.tasks.nurture_dispatch_leads"
NURTURE_LEADS_STAGE_ENTERED = "nurturing.tasks.nurture_leads_stage_entered"

DISPATCH_CHUNK = 500  # enrollments claimed per transaction by the dispatcher
SEND_BATCH = 20  # emails per send task: one SMTP connection
LIVE = (MessageStatus.QUEUED, MessageStatus.CLAIMED, MessageStatus.COMMITTING)
COUNTED = (*LIVE, MessageStatus.SENT, MessageStatus.UNKNOWN, MessageStatus.BOUNCED)


def lease() -> timedelta:
    return timedelta(seconds=settings.NURTURE_CLAIM_LEASE_SECONDS)


# --- Dispatch: due enrollments -> queued messages ----------------------------------------------


def _budget(now) -> int:
    """How many more emails the per-minute rate limit lets us queue right now."""
    rate = settings.NURTURE_SEND_RATE_PER_MINUTE
    if not rate:
        return DISPATCH_CHUNK
    recent = Message.objects.filter(
        created_at__gt=now - timedelta(minutes=1), status__in=COUNTED
    ).count()
    return max(0, min(DISPATCH_CHUNK, rate - recent))


def due_dispatch(*, lead_ids: list[int] | None = None) -> int:
    """Queue an email for every due step (of these leads, or of all); returns how many."""
    queued = 0
    while True:
        now = timezone.now()
        budget = _budget(now)
        if budget == 0:
            break
        handled, ids = _dispatch_chunk(now=now, limit=budget, lead_ids=lead_ids)
        queued += len(ids)
        if handled < budget:
            break
    return queued


def _due_enrollments(*, now, limit: int, lead_ids: list[int] | None) -> list[Enrollment]:
    qs = Enrollment.objects.filter(
        status=EnrollmentStatus.ACTIVE, next_due_at__lte=now, sequence__is_active=True
    ).exclude(selectors.paused_lead_exists())
    if lead_ids is not None:
        qs = qs.filter(lead_id__in=lead_ids)
    # SKIP LOCKED: two dispatchers (two beats, or a beat and a kick) split the due rows between
    # them instead of both taking the same ones; the unique (enrollment, step) row is the last
    # line of defence.
    return list(
        qs.select_related("lead", "sequence")
        .order_by("next_due_at", "id")
        .select_for_update(skip_locked=True, of=("self",))[:limit]
    )


@dataclass
class _Chunk:
    now: datetime
    messages: list[Message] = field(default_factory=list)
    enrollments: list[Enrollment] = field(default_factory=list)


@transaction.atomic
def _dispatch_chunk(*, now, limit: int, lead_ids: list[int] | None) -> tuple[int, list[int]]:
    due = _due_enrollments(now=now, limit=limit, lead_ids=lead_ids)
    if not due:
        return 0, []
    steps = _steps_by_sequence({e.sequence_id for e in due})
    emails = {e.lead.email.lower() for e in due}
    suppressed = set(Suppression.objects.filter(email__in=emails).values_list("email", flat=True))
    # An erased address (kept as a keyed hash: leads.privacy) is never mailed, whatever lead.
    suppressed |= privacy.emails_erased(emails)
    chunk = _Chunk(now=now)
    for enrollment in due:
        _dispatch_one(chunk, enrollment, steps[enrollment.sequence_id], suppressed)
    Message.objects.bulk_create(chunk.messages)
    _save_enrollments(chunk.enrollments)
    ids = [m.pk for m in chunk.messages if m.status == MessageStatus.QUEUED]
    sends_publish(ids)
    return len(due), ids


def _save_enrollments(enrollments: list[Enrollment]) -> None:
    """One UPDATE per distinct outcome: a chunk's rows mostly move the same way, and this is
    far cheaper than bulk_update's CASE per row."""
    groups: dict[tuple, list[int]] = {}
    for e in enrollments:
        key = (e.status, e.last_position, e.next_due_at, e.ended_at, e.exit_reason)
        groups.setdefault(key, []).append(e.pk)
    for (status, position, due, ended, reason), ids in groups.items():
        Enrollment.objects.filter(pk__in=ids).update(
            status=status,
            last_position=position,
            next_due_at=due,
            ended_at=ended,
            exit_reason=reason,
        )


def _steps_by_sequence(sequence_ids: set[int]) -> dict[int, list[Step]]:
    result: dict[int, list[Step]] = {sid: [] for sid in sequence_ids}
    for step in Step.objects.filter(sequence_id__in=sequence_ids).order_by("position"):
        result[step.sequence_id].append(step)
    return result


def _end(enrollment: Enrollment, now, *, status: str, reason: str) -> None:
    enrollment.status = status
    enrollment.ended_at = now
    enrollment.next_due_at = None
    enrollment.exit_reason = reason


def _dispatch_one(chunk: _Chunk, enrollment: Enrollment, steps: list[Step], suppressed) -> None:
    lead, now = enrollment.lead, chunk.now
    chunk.enrollments.append(enrollment)
    stop = stop_reason(lead, enrollment.sequence, suppressed)
    if stop:
        _end(enrollment, now, status=EnrollmentStatus.EXITED, reason=stop)
        return
    remaining = [s for s in steps if s.position > enrollment.last_position]
    if not remaining:
        _end(enrollment, now, status=EnrollmentStatus.COMPLETED, reason="")
        return
    step = remaining[0]
    skip = _condition_says_no(step, enrollment)
    # _due_enrollments selected the enrollment by next_due_at <= now, so it is set.
    assert enrollment.next_due_at is not None
    chunk.messages.append(
        Message(
            enrollment=enrollment,
            step=step,
            lead=lead,
            status=MessageStatus.SKIPPED if skip else MessageStatus.QUEUED,
            to_email=lead.email,
            subject="" if skip else step.subject[:255],
            due_at=enrollment.next_due_at,
            created_at=now,
            enqueued_at=None if skip else now,
            detail=skip or "",
        )
    )
    enrollment.last_position = step.position
    if len(remaining) == 1:
        _end(enrollment, now, status=EnrollmentStatus.COMPLETED, reason="")
    else:
        enrollment.next_due_at = now + timedelta(minutes=remaining[1].delay_minutes)


def stop_reason(lead, sequence: Sequence, suppressed=()) -> str:
    if lead.erased_at is not None:
        return "erased"
    if lead.do_not_contact:
        return f"do-not-contact: {lead.do_not_contact_reason}"
    if lead.consent == ConsentState.WITHDRAWN:
        return "consent withdrawn"
    if lead.email.lower() in suppressed:
        return "address suppressed"
    if sequence.exits_at(lead.stage):
        return f"reached {lead.stage}"
    return ""


def _condition_says_no(step: Step, enrollment: Enrollment) -> str:
    lead = enrollment.lead
    if step.send_if_score_below is not None and lead.score >= step.send_if_score_below:
        return f"score {lead.score} is not below {step.send_if_score_below}"
    if step.send_unless_event and _event_since(lead.pk, step.send_unless_event, enrollment):
        return f"'{step.send_unless_event}' happened since enrolling"
    return ""


def _event_since(lead_id: int, name: str, enrollment: Enrollment) -> bool:
    from events.models import Event  # the event log is read-only here

    return Event.objects.filter(
        lead_id=lead_id, name=name, occurred_at__gte=enrollment.enrolled_at
    ).exists()


def sends_publish(ids: list[int]) -> None:
    """Queue sends for these messages after the commit, SEND_BATCH to a task (one SMTP
    connection each). A lost publish is re-queued by in_flight_recover."""
    for start in range(0, len(ids), SEND_BATCH):
        publish_on_commit(
            NURTURE_SEND, ids[start : start + SEND_BATCH], queue=settings.NURTURE_QUEUE
        )


# --- Recovery: what a dead worker or a lost task left behind -----------------------------------


def in_flight_recover() -> dict[str, int]:
    """Retry expired claims, send expired commits to review, re-queue forgotten emails."""
    now = timezone.now()
    cut = now - lease()
    with transaction.atomic():
        expired = list(
            Message.objects.filter(status=MessageStatus.CLAIMED, claimed_at__lt=cut)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:5000]
        )
        Message.objects.filter(pk__in=expired, status=MessageStatus.CLAIMED).update(
            status=MessageStatus.QUEUED, enqueued_at=now, detail="claim expired; sent again"
        )
        sends_publish(expired)
    unknown = Message.objects.filter(status=MessageStatus.COMMITTING, claimed_at__lt=cut).update(
        status=MessageStatus.UNKNOWN,
        detail="the worker died while the server was accepting it: maybe sent; not sent again",
    )
    with transaction.atomic():
        forgotten = list(
            Message.objects.filter(status=MessageStatus.QUEUED, enqueued_at__lt=cut)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:5000]
        )
        Message.objects.filter(pk__in=forgotten).update(enqueued_at=now)
        sends_publish(forgotten)
    return {"retried": len(expired), "review": unknown, "requeued": len(forgotten)}


# --- Review --------------------------------------------------------------------------------------


@transaction.atomic
def message_review_resolve(*, message_id: int, delivered: bool, actor: User | None) -> Message:
    """Settle an email left in review: it was delivered (sent), or it was not (send it now)."""
    selectors.message_review_authorize(user=actor)
    now = timezone.now()
    rows = Message.objects.filter(pk=message_id, status=MessageStatus.UNKNOWN)
    if delivered:
        changed = rows.update(status=MessageStatus.SENT, sent_at=now, detail="confirmed by review")
    else:
        changed = rows.update(
            status=MessageStatus.QUEUED, enqueued_at=now, detail="not delivered: sent again"
        )
        if changed:
            sends_publish([message_id])
    if not changed:
        raise Conflict("This email is not waiting for review.", code="not_in_review")
    return Message.objects.get(pk=message_id)
