"""Celery tasks of the hand-off: thin, idempotent (each re-reads the database), acks_late."""

import smtplib

from celery import shared_task

from handoff.services import routing, sla

# Task names, published by name (core.publish) from services that must not import this module.
ROUTE_LEADS = "handoff.route_leads"
ROUTE_POOL = "handoff.route_pool"
SLA_CHECK = "handoff.sla_check"
NOTIFY_ASSIGNED = "handoff.notify_assigned"

_TASK = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(name=ROUTE_LEADS, **_TASK)
def route_leads(lead_ids: list[int]) -> int:
    """Route these leads (they became MQL/PQL, or were taken back); returns how many were
    assigned. Leads already owned, or no longer MQL/PQL, are left alone."""
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
