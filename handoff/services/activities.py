"""What reps log about a lead (notes, calls, emails, meetings) and the tasks they set
themselves. The first call, email or meeting after a lead is accepted is its first touch."""

from datetime import datetime

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from core.errors import ApiError
from handoff.models import TOUCHES, Activity, ActivityKind, Assignment, AssignmentStatus, Task
from handoff.services.common import require_owner
from leads.models import Lead


def _lead(lead_id: int) -> Lead:
    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is None:
        raise Http404("No such lead.")
    return lead


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(f"{field}: {message}", code="invalid", fields={field: [message]})


@transaction.atomic
def activity_log(
    *,
    lead_id: int,
    actor: User,
    kind: str,
    body: str = "",
    occurred_at: datetime | None = None,
    now: datetime | None = None,
) -> Activity:
    """Log a note, call, email or meeting on a lead the actor owns (sales managers and admins:
    any lead). `occurred_at` defaults to now and may not be in the future.

    A call, email or meeting that happened at or after the lead was accepted, while its
    assignment has no first touch yet, becomes the first touch: one conditional UPDATE, so of
    two touches logged at once exactly one sets it, and a later one never moves it.
    """
    now = now or timezone.now()
    lead = _lead(lead_id)
    require_owner(lead, actor, "log activities on this lead")
    if kind not in ActivityKind.values:
        raise _invalid("kind", f"Choose one of: {', '.join(ActivityKind.values)}.")
    occurred_at = occurred_at or now
    if occurred_at > now:
        raise _invalid("occurred_at", "May not be in the future.")
    activity = Activity.objects.create(
        lead=lead, user=actor, kind=kind, body=body.strip(), occurred_at=occurred_at
    )
    if kind in TOUCHES:
        Assignment.objects.filter(
            lead=lead,
            status=AssignmentStatus.ACCEPTED,
            first_touched_at__isnull=True,
            decided_at__lte=occurred_at,
        ).update(first_touched_at=occurred_at)
    return activity


@transaction.atomic
def task_create(*, lead_id: int, actor: User, title: str, due_at: datetime) -> Task:
    """A task on a lead the actor owns, for themselves; a sales manager's or admin's task goes
    to the lead's owner (to themselves when it has none)."""
    lead = _lead(lead_id)
    require_owner(lead, actor, "add tasks to this lead")
    title = (title or "").strip()
    if not title:
        raise _invalid("title", "This field may not be blank.")
    assignee = actor if actor.is_rep else (lead.owner or actor)
    return Task.objects.create(
        lead=lead, assignee=assignee, title=title, due_at=due_at, created_by=actor
    )


def _task_locked(task_id: int, actor: User) -> Task:
    """The task (locked) if the actor may change it: its assignee, a sales manager or an
    admin; anyone else hears it does not exist."""
    task = Task.objects.select_for_update().filter(pk=task_id).first()
    if task is None or not (task.assignee_id == actor.pk or actor.manages_sales):
        raise Http404("No such task.")
    return task


@transaction.atomic
def task_update(
    *,
    task_id: int,
    actor: User,
    title: str | None = None,
    due_at: datetime | None = None,
    done: bool | None = None,
    now: datetime | None = None,
) -> Task:
    """Change a task's title or due time, or mark it done (`done=True`, which keeps the first
    done time) or open again (`done=False`)."""
    task = _task_locked(task_id, actor)
    if title is not None:
        if not title.strip():
            raise _invalid("title", "This field may not be blank.")
        task.title = title.strip()
    if due_at is not None:
        task.due_at = due_at
    if done is not None:
        task.done_at = (task.done_at or now or timezone.now()) if done else None
    task.save(update_fields=["title", "due_at", "done_at"])
    return task


def task_complete(*, task_id: int, actor: User, now: datetime | None = None) -> Task:
    """Mark a task done (again: nothing changes)."""
    return task_update(task_id=task_id, actor=actor, done=True, now=now)
