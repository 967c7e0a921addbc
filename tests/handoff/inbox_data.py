"""Hand-off rows for the inbox's tests, made the way routing and the decisions leave them.

Routing's `assignment_open` and the decisions' services are the real way in; these build the
same rows directly, so that the page tests say only what they look at.
"""

from datetime import timedelta

from django.utils import timezone

from handoff.models import Assignment, AssignmentStatus, Task
from leads.models import Lead, Stage
from tests.factories import LeadFactory


def waiting(rep, *, due_in: timedelta = timedelta(minutes=30), **lead_fields) -> Assignment:
    """A lead routed to `rep` and waiting for accept or reject (an MQL by default, owned by the
    rep, as routing leaves it), its accept deadline `due_in` from now."""
    now = timezone.now()
    lead = LeadFactory(owner=rep, **{"stage": Stage.MQL, **lead_fields})
    return Assignment.objects.create(
        lead=lead,
        rep=rep,
        assigned_at=now - timedelta(minutes=5),
        accept_due_at=now + due_in,
        reassign_due_at=now + due_in + timedelta(hours=2),
    )


def accepted(rep, *, touch_due_in: timedelta | None = timedelta(hours=2), **lead_fields) -> Lead:
    """A lead `rep` accepted (SAL by default), its first touch due `touch_due_in` from now
    (None: touched already)."""
    now = timezone.now()
    lead = LeadFactory(owner=rep, **{"stage": Stage.SAL, **lead_fields})
    Assignment.objects.create(
        lead=lead,
        rep=rep,
        status=AssignmentStatus.ACCEPTED,
        assigned_at=now - timedelta(hours=1),
        accept_due_at=now,
        reassign_due_at=now,
        decided_at=now - timedelta(minutes=30),
        first_touch_due_at=now + (touch_due_in or timedelta(0)),
        first_touched_at=None if touch_due_in is not None else now - timedelta(minutes=10),
    )
    return lead


def task(rep, lead: Lead, title: str, *, due_in: timedelta, done: bool = False) -> Task:
    now = timezone.now()
    return Task.objects.create(
        lead=lead,
        assignee=rep,
        title=title,
        due_at=now + due_in,
        done_at=now if done else None,
        created_by=rep,
    )


def route(lead: Lead, rep, *, due_in: timedelta) -> Assignment:
    """Hand an existing lead to `rep` as routing does (the owner set, the clock started)."""
    now = timezone.now()
    Lead.objects.filter(pk=lead.pk).update(owner=rep)
    return Assignment.objects.create(
        lead=lead,
        rep=rep,
        assigned_at=now - timedelta(minutes=20),
        accept_due_at=now + due_in,
        reassign_due_at=now + due_in + timedelta(hours=2),
    )


def start_first_touch(lead: Lead, rep, *, due_in: timedelta) -> Assignment:
    """An accepted lead's assignment, its first touch due `due_in` from now."""
    now = timezone.now()
    return Assignment.objects.create(
        lead=lead,
        rep=rep,
        status=AssignmentStatus.ACCEPTED,
        assigned_at=now - timedelta(hours=3),
        accept_due_at=now - timedelta(hours=2),
        reassign_due_at=now,
        decided_at=now - timedelta(hours=2, minutes=30),
        first_touch_due_at=now + due_in,
    )
