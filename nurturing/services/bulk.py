"""Marketing's bulk "Enroll in a sequence" from the lead list.

The same refusals as a single enrollment (`enrollment_create`): the sequence must be active
and have steps; a lead that is do-not-contact, withdrew consent, is suppressed, or stands at a
stage the sequence ends at is skipped, and so is one already active in it. A selection is
enrolled in the request; every lead of a filter in a Celery task (`nurturing.bulk_enroll`),
a batch (one transaction) at a time, never every row in memory.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.errors import Forbidden
from core.publish import publish_on_commit
from leads import listing
from nurturing.models import Enrollment, EnrollmentStatus, Sequence, TriggerKind
from nurturing.services.dispatch import NURTURE_DISPATCH_LEADS
from nurturing.services.enrollments import EnrollmentRefused, _first_due, _mailable_leads
from nurturing.services.sequences import require_marketing

logger = logging.getLogger(__name__)

BULK_ENROLL = "nurturing.bulk_enroll"


def _sequence_checked(sequence_id: int) -> Sequence:
    sequence = Sequence.objects.filter(pk=sequence_id).first()
    if sequence is None:
        raise EnrollmentRefused("No such sequence.", code="invalid")
    if not sequence.is_active:
        raise EnrollmentRefused("The sequence is not active.")
    if not sequence.steps.exists():
        raise EnrollmentRefused("The sequence has no steps.")
    return sequence


@transaction.atomic
def leads_enroll(*, lead_ids: list[int], sequence_id: int, actor: User) -> listing.BulkOutcome:
    """Enroll these leads by hand (trigger MANUAL, enrolled by `actor`), skipping the ones that
    must not be mailed or are active in it already; their first step is queued after the
    commit. 403 unless the actor does marketing; 409 when the sequence cannot take anyone."""
    require_marketing(actor)
    sequence = _sequence_checked(sequence_id)
    ids = sorted(set(lead_ids))
    mailable = set(_mailable_leads(sequence).filter(pk__in=ids).values_list("pk", flat=True))
    active = set(
        Enrollment.objects.filter(
            sequence=sequence, status=EnrollmentStatus.ACTIVE, lead_id__in=mailable
        ).values_list("lead_id", flat=True)
    )
    new = sorted(mailable - active)
    now = timezone.now()
    due = _first_due(sequence, now)
    rows = [
        Enrollment(
            lead_id=lead_id,
            sequence=sequence,
            trigger=TriggerKind.MANUAL,
            next_due_at=due,
            enrolled_at=now,
            enrolled_by=actor,
        )
        for lead_id in new
    ]
    # A concurrent enrollment of the same lead is left to the one-active constraint.
    Enrollment.objects.bulk_create(rows, ignore_conflicts=True)
    if new:
        publish_on_commit(NURTURE_DISPATCH_LEADS, new, queue=settings.NURTURE_QUEUE)
    outcome = listing.BulkOutcome(done=len(new))
    if active:
        outcome.skipped["already enrolled"] = len(active)
    if len(ids) > len(mailable):
        outcome.skipped["must not be mailed"] = len(ids) - len(mailable)
    return outcome


def leads_enroll_filter(*, actor_id: int, query: str, sequence_id: int) -> listing.BulkOutcome:
    """The task's work: every lead the list's `query` matches for the actor (their rights and
    visibility now), a batch (a transaction) at a time."""
    actor = User.objects.filter(pk=actor_id, is_active=True).first()
    if actor is None or not actor.does_marketing:
        raise Forbidden("Only marketers and admins enroll leads in sequences.")
    leads = listing.bulk_leads(user=actor, query=query)
    outcome = listing.BulkOutcome()
    for batch in listing.lead_ids_batches(leads):
        outcome.add(leads_enroll(lead_ids=batch, sequence_id=sequence_id, actor=actor))
    logger.info("Bulk enrollment by %s in %s: %s", actor_id, sequence_id, outcome.as_dict())
    return outcome
