# TEMPORARY (pages branch): replaced by the decisions/routing helpers' implementation at merge
"""Activities and tasks, reduced to what the inbox page needs to run its tests: the real module
(the DECISIONS helper's) replaces this file whole, with the same names and arguments."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.errors import Forbidden
from handoff.models import TOUCHES, Activity, Assignment, Task
from leads.selectors import lead_get


@transaction.atomic
def activity_log(
    *, lead_id: int, actor: User, kind: str, body: str = "", occurred_at: datetime | None = None
) -> Activity:
    lead = lead_get(user=actor, lead_id=lead_id)
    at = occurred_at or timezone.now()
    row = Activity.objects.create(lead=lead, user=actor, kind=kind, body=body, occurred_at=at)
    if kind in TOUCHES:
        Assignment.objects.filter(
            lead=lead, status="accepted", first_touched_at__isnull=True
        ).update(first_touched_at=at)
    return row


@transaction.atomic
def task_create(
    *, lead_id: int, actor: User, title: str, due_at: datetime, assignee_id: int | None = None
) -> Task:
    lead = lead_get(user=actor, lead_id=lead_id)
    return Task.objects.create(
        lead=lead, assignee_id=assignee_id or actor.pk, title=title, due_at=due_at, created_by=actor
    )


@transaction.atomic
def task_complete(*, task_id: int, actor: User) -> Task:
    task = Task.objects.select_for_update().get(pk=task_id)
    if task.assignee_id != actor.pk:
        raise Forbidden("This task is someone else's.")
    task.done_at = task.done_at or timezone.now()
    task.save(update_fields=["done_at"])
    return task
