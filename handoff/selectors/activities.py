"""Reads of activities, tasks and discovery answers, scoped by who asks."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from core.errors import ApiError, Forbidden
from handoff.models import Activity, Discovery, Task
from handoff.selectors import handoff_settings
from leads.models import Lead


def lead_activities(*, lead: Lead) -> QuerySet[Activity]:
    """A lead's activities, newest first (the caller got the lead through leads.selectors)."""
    return Activity.objects.filter(lead=lead).select_related("user").order_by("-occurred_at", "-id")


def lead_discovery(*, lead: Lead) -> Discovery | None:
    """The lead's discovery answers, or None (the caller got the lead through leads.selectors)."""
    return Discovery.objects.filter(lead=lead).select_related("answered_by").first()


def today_end(now: datetime | None = None) -> datetime:
    """The end of today in the hand-off's business time zone (the site's without one)."""
    hours = handoff_settings().business_hours or {}
    zone = ZoneInfo(hours.get("time_zone") or settings.TIME_ZONE)
    local = (now or timezone.now()).astimezone(zone)
    tomorrow = local.date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone)


DUE_FILTERS = ("today", "overdue")


def task_list(
    *,
    user: User,
    assignee_id: int | None = None,
    due: str | None = None,
    done: bool | None = None,
    lead_id: int | None = None,
    now: datetime | None = None,
) -> QuerySet[Task]:
    """Tasks, soonest due first. A rep sees their own; sales managers and admins everyone's
    (`assignee_id` narrows them); marketers none (403). `due="today"`: open tasks due before
    the end of today, overdue ones included; `due="overdue"`: open tasks already due."""
    if not (user.is_rep or user.manages_sales):
        raise Forbidden("Tasks are for sales reps, sales managers and admins.")
    tasks = Task.objects.select_related("lead", "assignee").order_by("due_at", "id")
    if user.is_rep:
        tasks = tasks.filter(assignee=user)
    elif assignee_id is not None:
        tasks = tasks.filter(assignee_id=assignee_id)
    if lead_id is not None:
        tasks = tasks.filter(lead_id=lead_id)
    if done is not None:
        tasks = tasks.filter(done_at__isnull=not done)
    if due is not None:
        tasks = tasks.filter(done_at__isnull=True, due_at__lt=_due_before(due, now))
    return tasks


def _due_before(due: str, now: datetime | None) -> datetime:
    if due == "today":
        return today_end(now)
    if due == "overdue":
        return now or timezone.now()
    message = f"due must be one of: {', '.join(DUE_FILTERS)}."
    raise ApiError(message, code="invalid", fields={"due": [message]})
