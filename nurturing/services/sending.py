"""Sending queued emails over SMTP, each exactly once.

A Message row moves forward only by conditional updates:

    queued --claim--> claimed --commit--> committing --250--> sent
       ^                 |                    |
       +--- lease out ---+                    +--- lease out ---> unknown (review; never resent)
       +--- transient SMTP error (from claimed or committing) ---+

`claimed` means nothing final has been said to the server yet (see nurturing/transport.py), so
a claim whose worker died is retried once its lease runs out. `committing` means the server may
have the email: if that worker dies, the row goes to review instead of being sent again.
Every update after the claim names the claim token, so a worker that lost its claim to another
can change nothing.
"""

import logging
import time
import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypedDict

from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Lower
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.utils import timezone

from core.redact import redact_addresses
from leads.selectors import lead_consent_blocker
from leads.services import lead_mark_do_not_contact
from nurturing import emails, selectors, transport
from nurturing.models import (
    EnrollmentStatus,
    Message,
    MessageStatus,
    Suppression,
    SuppressionReason,
)
from nurturing.services.dispatch import lease, stop_reason
from nurturing.services.enrollments import lead_enrollments_exit

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

logger = logging.getLogger(__name__)

# --- Sending: a batch over one connection, each email claimed before a word to the server -----


class Outcome:
    SENT = "sent"
    DROPPED = "dropped"  # not ours to send (claimed elsewhere, already final) or cancelled
    RETRY = "retry"  # transient failure: released to the queue, try again later


# The send-time checks (do-not-contact, unsubscribed, owned) are read with the claim and read
# again when a batch has been going for longer than this, so that no email goes out on checks
# older than about a second.
FRESH_FOR = 1.0


def messages_send(*, message_ids: list[int]) -> list[int]:
    """Send each email once. Returns the ids left to retry after a transient failure.

    Must run outside any transaction: each mark below is committed as it is made.
    """
    # Each mark below must be committed (visible to recovery) as it is made, never held in a
    # caller's transaction: refuse to run inside one. (Django's test cases, which run
    # everything in a transaction, switch this check off.)
    with transaction.atomic(durable=True):
        pass
    token = uuid.uuid4()
    with _commits_without_fsync():
        if not _claim(message_ids, token):
            return []
        batch, loaded = _load(message_ids, token), time.monotonic()
        order = [mid for mid in message_ids if mid in batch]
        with transport.Mailer() as mailer:
            for index, message_id in enumerate(order):
                if time.monotonic() - loaded > FRESH_FOR:
                    batch, loaded = _load(order[index:], token), time.monotonic()
                message = batch.get(message_id)
                if message is None:
                    continue  # claimed by another worker meanwhile (our lease ran out)
                if _send_one(mailer, message, token) == Outcome.RETRY:
                    _release(order[index + 1 :], token, "not tried: an earlier email failed")
                    return order[index:]
    return []


@contextmanager
def _commits_without_fsync():
    """Commit the send marks without waiting for the disk (PostgreSQL's synchronous_commit off).

    A committed mark is visible to every other session at once either way, which is what makes
    a dead worker safe. Waiting for the fsync would only protect against a crash of PostgreSQL
    itself, and it would widen the worst window: a worker killed while its commit mark was
    being flushed leaves an email marked as committing that the server never received, which
    then sits in review instead of being retried. Without the wait that window is a few
    microseconds. The price: if PostgreSQL itself crashes, marks from its last fraction of a
    second (at most 3 x wal_writer_delay) are lost, and emails whose commit mark is lost are
    sent again once their claim expires."""
    if connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO DEFAULT")
        except DatabaseError as exc:
            # The connection broke (the error that broke it is on its way up); a new one
            # starts with the server's default anyway.
            logger.warning("nurture: could not reset synchronous_commit: %s", exc)


def _claim(message_ids: list[int], token: uuid.UUID) -> int:
    """Claim the queued ones (and those whose claim expired with its worker) for this batch."""
    now = timezone.now()
    stale = Q(status=MessageStatus.CLAIMED, claimed_at__lt=now - lease())
    return Message.objects.filter(
        Q(status=MessageStatus.QUEUED) | stale, pk__in=message_ids
    ).update(
        status=MessageStatus.CLAIMED, claim_token=token, claimed_at=now, attempts=F("attempts") + 1
    )


def _mine(message_ids, token: uuid.UUID, *statuses: str):
    ids = message_ids if isinstance(message_ids, list) else [message_ids]
    return Message.objects.filter(pk__in=ids, claim_token=token, status__in=statuses)


class _SendChecks(TypedDict):
    lead_paused: bool
    suppressed: bool


# A claimed email as _load reads it: the send-time checks come with it, as annotations.
type LoadedMessage = WithAnnotations[Message, _SendChecks]


def _load(message_ids: list[int], token: uuid.UUID) -> dict[int, LoadedMessage]:
    """Our claimed emails with everything the send-time checks need, fresh, in one query."""
    suppressed = Suppression.objects.annotate(lower=Lower("email")).filter(
        lower=Lower(OuterRef("lead__email"))
    )
    rows = (
        _mine(message_ids, token, MessageStatus.CLAIMED)
        .select_related("lead__owner", "step", "enrollment__sequence")
        .annotate(lead_paused=selectors.paused_lead_exists(), suppressed=Exists(suppressed))
    )
    return {row.pk: row for row in rows}


def _release(message_ids: list[int], token: uuid.UUID, detail: str) -> None:
    if message_ids:
        _mine(message_ids, token, MessageStatus.CLAIMED, MessageStatus.COMMITTING).update(
            status=MessageStatus.QUEUED, enqueued_at=timezone.now(), detail=detail[:1000]
        )


# The two statements every email makes, in plain SQL: Django's update() compiler costs more
# CPU than the statement itself, and this loop is the benchmark's bottleneck.
_TABLE = Message._meta.db_table
_COMMIT_SQL = (
    f"UPDATE {_TABLE} SET status = %s, subject = %s"
    " WHERE id = %s AND claim_token = %s AND status = %s"
)
_SENT_SQL = (
    f"UPDATE {_TABLE} SET status = %s, sent_at = %s, message_id_header = %s, detail = %s"
    " WHERE id = %s AND claim_token = %s AND status IN (%s, %s)"
)


def _token(token: uuid.UUID):
    return Message._meta.get_field("claim_token").get_db_prep_value(token, connection)


def _mark_committing(message_id: int, token: uuid.UUID, subject: str) -> bool:
    # One autocommitted statement: committed, and so visible to recovery, before the final "."
    # goes out (messages_send refuses to run inside a transaction).
    params = [MessageStatus.COMMITTING, subject, message_id, _token(token), MessageStatus.CLAIMED]
    with connection.cursor() as cursor:
        cursor.execute(_COMMIT_SQL, params)
        return cursor.rowcount == 1


def _mark_sent(message_id: int, token: uuid.UUID, response: str) -> None:
    # UNKNOWN too: recovery may have sent a slow commit to review while we waited for the answer.
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params = [
        MessageStatus.SENT,
        now,
        emails.message_id_header(message_id),
        response[:1000],
        message_id,
        _token(token),
        MessageStatus.COMMITTING,
        MessageStatus.UNKNOWN,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_SENT_SQL, params)


def _send_one(mailer: transport.Mailer, message: LoadedMessage, token: uuid.UUID) -> str:
    # Consent first: a lead that withdrew it, or never gave what its source needs, is never
    # mailed, owned or not. (The dispatcher holds such enrollments or ends them; an email
    # already queued when that changed is cancelled here, not held.)
    blocker = lead_consent_blocker(message.lead)
    if not blocker and message.lead_paused:
        # A rep or partner took the lead over: hold the email until they let go.
        _release([message.pk], token, "held: lead is owned")
        return Outcome.DROPPED
    blocker = blocker or _send_blocker(message)
    if blocker:
        _mine(message.pk, token, MessageStatus.CLAIMED).update(
            status=MessageStatus.CANCELLED, detail=blocker
        )
        return Outcome.DROPPED
    try:
        email, subject = _build(message)
    except (TemplateSyntaxError, TemplateDoesNotExist, LookupError, ValueError) as exc:
        _fail(message.pk, token, f"could not build the email: {exc}")
        return Outcome.DROPPED
    return _deliver(mailer, message, email, subject, token)


def _send_blocker(message: LoadedMessage) -> str:
    """Do-not-contact, unsubscribes and withdrawn consent are checked again here, at send
    time."""
    lead = message.lead
    if message.enrollment.status == EnrollmentStatus.EXITED:
        return f"enrollment ended: {message.enrollment.exit_reason}"
    if lead.email.lower() != message.to_email.lower():
        return "the lead's address changed since the email was queued"
    suppressed = {lead.email.lower()} if message.suppressed else set()
    return stop_reason(lead, message.enrollment.sequence, suppressed)


def _build(message: Message):
    step = message.step
    rendered = emails.render(
        subject=step.subject,
        body_text=step.body_text,
        body_html=step.body_html,
        context=emails.lead_context(message.lead),
    )
    email = emails.build(message_id=message.pk, to=message.to_email, rendered=rendered)
    return email, rendered.subject


def _deliver(
    mailer: transport.Mailer, message: Message, email, subject: str, token: uuid.UUID
) -> str:
    mid = message.pk
    try:
        response = mailer.send(email, commit=lambda: _mark_committing(mid, token, subject))
    except transport.NotCommitted:
        return Outcome.DROPPED
    except transport.Transient as exc:
        logger.warning("nurture email %s: transient failure, will retry: %s", mid, exc)
        _release([mid], token, str(exc))
        return Outcome.RETRY
    except transport.Refused as exc:
        _bounce(message, token, exc)
        return Outcome.DROPPED
    except transport.AcceptanceUnknown as exc:
        _mine(mid, token, MessageStatus.COMMITTING).update(
            status=MessageStatus.UNKNOWN, detail=f"connection lost after the final dot: {exc}"
        )
        return Outcome.DROPPED
    except ValueError as exc:  # an address Django refuses to put on the wire
        _fail(mid, token, f"invalid address: {redact_addresses(str(exc))}")
        return Outcome.DROPPED
    _mark_sent(mid, token, response)
    return Outcome.SENT


def _fail(message_id: int, token: uuid.UUID, detail: str) -> None:
    logger.error("nurture email %s failed for good: %s", message_id, detail)
    _mine(message_id, token, MessageStatus.CLAIMED).update(
        status=MessageStatus.FAILED, detail=detail[:1000]
    )


@transaction.atomic
def _bounce(message: Message, token: uuid.UUID, exc: transport.Refused) -> None:
    """A permanent refusal: the address is bounced and the lead do-not-contact."""
    detail = f"{exc.code} {exc.response}"[:1000]
    changed = _mine(message.pk, token, MessageStatus.CLAIMED, MessageStatus.COMMITTING).update(
        status=MessageStatus.BOUNCED, detail=detail
    )
    if not changed:
        return
    suppression_add(email=message.to_email, reason=SuppressionReason.BOUNCED, detail=detail)
    lead_mark_do_not_contact(lead_id=message.lead_id, reason="bounced")
    lead_enrollments_exit(lead_id=message.lead_id, reason="bounced")


def suppression_add(*, email: str, reason: str, detail: str = "") -> None:
    Suppression.objects.get_or_create(
        email=email.strip().lower(), defaults={"reason": reason, "detail": detail}
    )
