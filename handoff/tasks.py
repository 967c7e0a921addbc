"""Celery tasks of the hand-off: thin, idempotent (each re-reads the database), acks_late."""

import smtplib
from typing import Any

from celery import shared_task

from handoff.services import bulk, decisions, routing, sla

# Task names, published by name (core.publish) from services that must not import this module.
ROUTE_LEADS = "handoff.route_leads"
ROUTE_POOL = "handoff.route_pool"
SLA_CHECK = "handoff.sla_check"
NOTIFY_ASSIGNED = "handoff.notify_assigned"
SLA_NOTIFY = sla.SLA_NOTIFY

_TASK: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(name=ROUTE_LEADS, **_TASK)
def route_leads(lead_ids: list[int]) -> int:
    """These leads entered a stage (or were taken back): first their open assignments follow
    moves made elsewhere (a rep's SAL through the generic transition: accepted; a recycle or a
    disqualification: released), then the MQL/PQL ones nobody owns are routed. Returns how many
    were assigned."""
    decisions.assignments_sync(lead_ids=lead_ids)
    return routing.leads_route(lead_ids=lead_ids)


@shared_task(name=ROUTE_POOL, **_TASK)
def route_pool() -> int:
    """Periodic (and after capacity frees up): assign waiting pool leads, oldest first."""
    return routing.pool_route()


@shared_task(name=SLA_CHECK, **_TASK)
def sla_check() -> dict:
    """Periodic, every minute: mark breaches, escalate, take back leads past reassign time."""
    return sla.sla_check()


# Retried on what a later attempt may get past (the SMTP server down or answering 4xx); the
# send's claim is given back before each retry, so the email still goes out once. Backoff
# capped below the broker's visibility timeout (a longer countdown gets the task redelivered).
@shared_task(
    name=NOTIFY_ASSIGNED,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
    **_TASK,
)
def notify_assigned(assignment_ids: list[int] | int) -> int:
    """Email the reps about these new assignments (each once: the row records that it was
    sent); returns how many emails went out. Takes one id too."""
    ids = assignment_ids if isinstance(assignment_ids, list) else [assignment_ids]
    return routing.assignments_notify(assignment_ids=ids)


@shared_task(name=SLA_NOTIFY, **_TASK)
def sla_notify(notice_ids: list[int]) -> int:
    """Send these SLA escalation emails, each once (claimed just before the SMTP server accepts
    it); what fails for a passing reason is queued again by the SLA job a few minutes later."""
    return sla.sla_notices_send(notice_ids=notice_ids)


@shared_task(name=bulk.BULK_ASSIGN, **_TASK)
def bulk_assign(actor_id: int, query: str, owner_id: int) -> dict:
    """A manager's "assign every lead matching the filter" from the lead list. Idempotent: a
    second run finds the leads already the rep's and skips them."""
    return bulk.leads_assign_filter(actor_id=actor_id, query=query, owner_id=owner_id).as_dict()
