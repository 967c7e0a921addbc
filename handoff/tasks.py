"""Celery tasks of the hand-off: thin, idempotent (each re-reads the database), acks_late."""

from typing import Any

from celery import shared_task

from handoff.services import routing, sla

# Task names, published by name (core.publish) from services that must not import this module.
ROUTE_LEADS = "handoff.route_leads"
ROUTE_POOL = "handoff.route_pool"
SLA_CHECK = "handoff.sla_check"
NOTIFY_ASSIGNED = "handoff.notify_assigned"
SLA_NOTIFY = sla.SLA_NOTIFY

_TASK: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True}


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


@shared_task(name=NOTIFY_ASSIGNED, **_TASK)
def notify_assigned(assignment_id: int) -> bool:
    """Email the rep about a new assignment (once: the row records that it was sent)."""
    return routing.assignment_notify(assignment_id=assignment_id)


@shared_task(name=SLA_NOTIFY, **_TASK)
def sla_notify(notice_ids: list[int]) -> int:
    """Send these SLA escalation emails, each once (claimed just before the SMTP server accepts
    it); what fails for a passing reason is queued again by the SLA job a few minutes later."""
    return sla.sla_notices_send(notice_ids=notice_ids)
