"""A manager's bulk assignment from the lead list: each lead through `routing.lead_assign`, so
every one gets its Assignment (who assigned it, when, its SLA clocks) and its rep's email, as a
single reassignment would.

A selection is assigned in the request; every lead of a filter in a Celery task
(`handoff.bulk_assign`) that walks the filter by id, a batch at a time (never every row in
memory). Each lead is its own transaction, as `lead_assign` is: a refusal leaves the others.
"""

import logging

from django.core.exceptions import ObjectDoesNotExist

from accounts.models import User
from core.errors import ApiError, Forbidden
from handoff.services import routing
from leads import listing

logger = logging.getLogger(__name__)

BULK_ASSIGN = "handoff.bulk_assign"

# Why a lead was left, as the list's message says it.
_SKIPPED = {
    routing.NotInHandoff.default_code: "not MQL or PQL",
    routing.AlreadyAssigned.default_code: "already theirs",
}


def leads_assign(*, lead_ids: list[int], owner_id: int, actor: User) -> listing.BulkOutcome:
    """Assign these leads to the rep `owner_id`. Leads that are not MQL/PQL or already the
    rep's are skipped; a refusal about the rep (not a rep, inactive, away, full) stops the
    rest, which would all be refused alike. 403 unless the actor manages sales."""
    routing.lead_assign_authorize(actor=actor)
    outcome = listing.BulkOutcome()
    for lead_id in lead_ids:
        try:
            routing.lead_assign(lead_id=lead_id, owner_id=owner_id, actor=actor)
        except routing.NotAssignable as exc:
            outcome.stopped = str(exc.detail)
            break
        except ObjectDoesNotExist:
            outcome.skipped["deleted"] += 1
        except ApiError as exc:
            code = str(exc.detail.code)
            outcome.skipped[_SKIPPED.get(code, code)] += 1
        else:
            outcome.done += 1
    return outcome


def leads_assign_filter(*, actor_id: int, query: str, owner_id: int) -> listing.BulkOutcome:
    """The task's work: every lead the list's `query` matches for the actor (their rights and
    visibility now, not when they asked), a batch at a time."""
    actor = User.objects.filter(pk=actor_id, is_active=True).first()
    if actor is None or not actor.manages_sales:
        raise Forbidden("Only sales managers and admins assign leads.")
    leads = listing.bulk_leads(user=actor, query=query)
    outcome = listing.BulkOutcome()
    for batch in listing.lead_ids_batches(leads):
        outcome.add(leads_assign(lead_ids=batch, owner_id=owner_id, actor=actor))
        if outcome.stopped:
            break
    logger.info("Bulk assignment by %s to %s: %s", actor_id, owner_id, outcome.as_dict())
    return outcome
