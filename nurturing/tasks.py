"""Celery tasks of nurturing: thin, idempotent, acks_late.

Every task may run twice (a redelivery after a killed worker, a duplicate publish): the
database decides what is left to do (due times, claim tokens), never the task's arguments.
"""

import logging

from celery import shared_task
from django.conf import settings

from core.coalesce import Kick
from nurturing import services
from nurturing.services import bulk
from nurturing.services.dispatch import (
    NURTURE_DISPATCH_LEADS,
    NURTURE_LEADS_STAGE_ENTERED,
    NURTURE_SEND,
)

logger = logging.getLogger(__name__)

MAX_SEND_RETRIES = 8


@shared_task(acks_late=True, reject_on_worker_lost=True)
def nurture_dispatch() -> dict:
    """Periodic: retry emails whose worker died, then queue an email for every due step."""
    recovered = services.in_flight_recover()
    queued = services.due_dispatch()
    return {**recovered, "queued": queued}


@shared_task(acks_late=True, reject_on_worker_lost=True)
def nurture_match_triggers() -> int:
    """Periodic: enroll leads that a stage, score or filter trigger wants; send what is due."""
    enrolled = services.triggers_match()
    if enrolled:
        services.due_dispatch()
    return enrolled


# Stage entries are coalesced: the leads that entered a stage within a window wait in Redis for
# one task (core/coalesce.py). One task a lead cost the worker more than enrolling the lead.
_STAGE_ENTERED = Kick(
    task=NURTURE_LEADS_STAGE_ENTERED,
    prefix=lambda: f"{settings.NURTURE_KEY_PREFIX}{settings.NURTURE_QUEUE}:stage-entered:",
    window_ms=lambda: settings.NURTURE_KICK_WINDOW_MS,
    logger=logger,
    failed="Nurture kick failed (%s); the every-minute trigger matcher catches up.",
    queue=lambda: settings.NURTURE_QUEUE,
)
STAGE_ENTERED_CHUNK = 1000  # leads enrolled at a time


@shared_task(name=NURTURE_LEADS_STAGE_ENTERED, acks_late=True, reject_on_worker_lost=True)
def nurture_leads_stage_entered(lead_ids: list[int] | None = None) -> int:
    """Leads entered a stage: enroll them now and send a first step that is due at once.

    The leads waiting from the kicks of this task's window, a chunk at a time until none is
    left; or, without Redis, those the task was given. (A task lost after taking its leads
    loses nothing for good: the every-minute trigger matcher enrolls them.)"""
    if lead_ids is not None:
        return _enroll(list(lead_ids))
    enrolled = 0
    while chunk := _STAGE_ENTERED.pop(STAGE_ENTERED_CHUNK):
        enrolled += _enroll(chunk)
        if len(chunk) < STAGE_ENTERED_CHUNK:
            break
    return enrolled


def _enroll(lead_ids: list[int]) -> int:
    enrolled = services.leads_stage_entered(lead_ids=lead_ids)
    services.due_dispatch(lead_ids=lead_ids)
    return enrolled


@shared_task(name=NURTURE_DISPATCH_LEADS, acks_late=True, reject_on_worker_lost=True)
def nurture_dispatch_leads(lead_ids: list[int]) -> int:
    return services.due_dispatch(lead_ids=lead_ids)


def _backoff(retries: int) -> int:
    # Doubling, but capped below the broker's visibility timeout: a retry waiting in a worker
    # for longer than that would be handed to a second worker as well.
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    return min(settings.NURTURE_RETRY_BASE_SECONDS * 2**retries, max(1, visibility // 2))


@shared_task(
    name=NURTURE_SEND,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_SEND_RETRIES,
)
def nurture_send(self, message_ids: list[int]) -> None:
    """Send these queued emails, each at most once (see nurturing/services/sending.py).

    Retried with backoff on transient SMTP errors only (server down, 4xx answers). Once the
    retries run out the emails stay queued and the periodic dispatcher queues them again.
    """
    left = services.messages_send(message_ids=message_ids)
    if not left:
        return
    if self.request.retries >= MAX_SEND_RETRIES:
        logger.warning("nurture: %d emails still failing; the dispatcher retries them", len(left))
        return
    raise self.retry(args=[left], countdown=_backoff(self.request.retries))


# --- Publishing: never fails the caller; what is not published is found again by the beat --------


def stage_entered_hook(lead_ids: list[int], created: bool = False) -> None:
    """A `core.hooks.lead_stage_entered` receiver (NurturingConfig.ready()): runs after the
    move commits, so it asks at once (one task for the leads of a window); the every-minute
    trigger matcher backs it up."""
    _STAGE_ENTERED(lead_ids)


@shared_task(name=bulk.BULK_ENROLL, acks_late=True, reject_on_worker_lost=True)
def bulk_enroll(actor_id: int, query: str, sequence_id: int) -> dict:
    """Marketing's "enroll every lead matching the filter" from the lead list. Idempotent: a
    second run finds the leads active in the sequence and skips them."""
    return bulk.leads_enroll_filter(
        actor_id=actor_id, query=query, sequence_id=sequence_id
    ).as_dict()
