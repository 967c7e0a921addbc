"""The rep's inbox (/inbox/) and the hand-off's section of the lead page, scoped by who asks.

Each list is capped or paginated so that a page costs the same few queries however many leads
wait: the inbox runs 7 queries in assign mode and 9 in pool mode (session and user included).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from accounts.models import User
from handoff.models import Activity, Assignment, AssignmentStatus, Discovery, Mode, Task
from handoff.selectors import handoff_settings
from leads.models import Lead, Stage

QUEUE_PAGE_SIZE = 25  # waiting leads a page, most urgent first
POOL_SHOWN = 25  # pool mode: the oldest unclaimed leads shown
ACCEPTED_SHOWN = 50  # a rep holds at most their capacity (25 by default)
TASKS_SHOWN = 50
LEAD_ITEMS_SHOWN = 20  # activities and tasks on the lead page

HANDOFF_STAGES = (Stage.MQL, Stage.PQL)
OPEN_STATUSES = (AssignmentStatus.PENDING, AssignmentStatus.ACCEPTED)


@dataclass(frozen=True)
class Inbox:
    queue: Page  # the user's assignments waiting for accept or reject, with their leads
    pool_mode: bool
    pool: list[Lead]  # pool mode: unclaimed MQL/PQL leads, oldest first; else empty
    pool_total: int
    # The user's SAL/SQL leads, each with its open assignment's `first_touched_at` and, until
    # then, `first_touch_due_at` (both None without an accepted assignment).
    accepted: list[Lead]
    accepted_more: bool  # more than ACCEPTED_SHOWN
    tasks: list[Task]  # the user's open tasks due by the end of today (overdue ones first)
    tasks_more: bool
    today: date


def inbox_get(*, user: User, page: Any = None, now: datetime | None = None) -> Inbox:
    """The user's inbox; `page` is the queue's page number (anything else: the first)."""
    now = now or timezone.now()
    pool_mode = handoff_settings().mode == Mode.POOL
    pool = _pool(user) if pool_mode else Lead.objects.none()
    accepted = list(_accepted(user)[: ACCEPTED_SHOWN + 1])
    tasks = list(_tasks_due(user, now)[: TASKS_SHOWN + 1])
    return Inbox(
        queue=Paginator(_queue(user), QUEUE_PAGE_SIZE).get_page(page),
        pool_mode=pool_mode,
        pool=list(pool[:POOL_SHOWN]) if pool_mode else [],
        pool_total=pool.count() if pool_mode else 0,
        accepted=accepted[:ACCEPTED_SHOWN],
        accepted_more=len(accepted) > ACCEPTED_SHOWN,
        tasks=tasks[:TASKS_SHOWN],
        tasks_more=len(tasks) > TASKS_SHOWN,
        today=timezone.localdate(now),
    )


def _queue(user: User):
    return (
        Assignment.objects.filter(rep=user, status=AssignmentStatus.PENDING)
        .select_related("lead")
        .order_by("accept_due_at", "id")
    )


def _pool(user: User):
    if not user.is_rep:
        return Lead.objects.none()
    return Lead.objects.filter(owner__isnull=True, stage__in=HANDOFF_STAGES).order_by(
        "stage_entered_at", "id"
    )


def _accepted(user: User):
    accepted = Assignment.objects.filter(lead=OuterRef("pk"), status=AssignmentStatus.ACCEPTED)
    return (
        Lead.objects.filter(owner=user, stage__in=[Stage.SAL, Stage.SQL])
        .annotate(
            first_touched_at=Subquery(accepted.values("first_touched_at")[:1]),
            first_touch_due_at=Subquery(
                accepted.filter(first_touched_at__isnull=True).values("first_touch_due_at")[:1]
            ),
        )
        .order_by(F("first_touch_due_at").asc(nulls_last=True), "stage_entered_at", "id")
    )


def _tasks_due(user: User, now: datetime):
    tomorrow = timezone.localdate(now) + timedelta(days=1)
    end_of_today = timezone.make_aware(datetime.combine(tomorrow, datetime.min.time()))
    return (
        Task.objects.filter(assignee=user, done_at__isnull=True, due_at__lt=end_of_today)
        .select_related("lead")
        .order_by("due_at", "id")
    )


# --- the lead page's section (a core.hooks.lead_page_sections receiver) -------------------------


def handoff_lead_section(lead: Lead, user: User) -> dict[str, Any] | None:
    """The hand-off on the lead's page: its open assignment and deadline, the actions open to
    the user, the discovery answers, the latest activities and tasks. None when there is
    nothing to show."""
    assignment = (
        Assignment.objects.filter(lead=lead, status__in=OPEN_STATUSES).select_related("rep").first()
    )
    context = {
        "lead": lead,
        "assignment": assignment,
        "actions": lead_actions(lead=lead, user=user, assignment=assignment),
        "discovery": Discovery.objects.filter(lead=lead).first(),
        "activities": list(
            Activity.objects.filter(lead=lead).select_related("user")[:LEAD_ITEMS_SHOWN]
        ),
        "tasks": list(
            Task.objects.filter(lead=lead)
            .select_related("assignee")
            .order_by(F("done_at").desc(nulls_first=True), "due_at", "id")[:LEAD_ITEMS_SHOWN]
        ),
    }
    shown = ("assignment", "actions", "discovery", "activities", "tasks")
    if not any(context[key] for key in shown):
        return None
    return {"template": "handoff/_lead_section.html", "context": context}


def lead_actions(*, lead: Lead, user: User, assignment: Assignment | None) -> frozenset[str]:
    """The buttons the lead page shows the user: what the services would let them do now (the
    services still decide when the form is sent)."""
    owner = lead.owner_id == user.pk
    waiting = (
        assignment is not None
        and assignment.status == AssignmentStatus.PENDING
        and assignment.rep_id == user.pk
    )
    actions = set()
    if lead.stage in HANDOFF_STAGES and (waiting or _claimable(lead, user)):
        actions.add("accept")
    if lead.stage in HANDOFF_STAGES and waiting:
        actions.add("reject")
    if owner and lead.stage == Stage.SAL:
        actions.add("qualify")
    if owner and lead.stage == Stage.SQL:
        actions.add("close")
    if owner or user.manages_sales:
        actions.update({"log", "task"})
    return frozenset(actions)


def _claimable(lead: Lead, user: User) -> bool:
    return user.is_rep and lead.owner_id is None and handoff_settings().mode == Mode.POOL
