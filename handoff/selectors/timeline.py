"""The hand-off's items on a lead's timeline (a `core.hooks.lead_timeline_items` receiver)."""

from typing import Any

from handoff.models import Activity, Assignment, Merge, Rejection, Task
from leads.models import Lead


def _name(user) -> str | None:
    return user.get_username() if user is not None else None


def _assignment_items(lead: Lead) -> list[dict[str, Any]]:
    items = []
    rows = Assignment.objects.filter(lead=lead).select_related("rep", "assigned_by", "rule")
    for row in rows:
        how = f"by {_name(row.assigned_by)}" if row.assigned_by else "by routing"
        rule = f" (rule: {row.rule.name})" if row.rule else ""
        items.append(
            {
                "kind": "assigned",
                "at": row.assigned_at,
                "title": f"Assigned to {_name(row.rep)} {how}{rule}",
                "detail": {"rep": _name(row.rep), "accept_due_at": row.accept_due_at},
            }
        )
        if row.accept_breached_at:
            items.append(
                {
                    "kind": "sla_breach",
                    "at": row.accept_breached_at,
                    "title": f"Accept deadline missed by {_name(row.rep)}",
                    "detail": {"deadline": row.accept_due_at},
                }
            )
        if row.touch_breached_at:
            items.append(
                {
                    "kind": "sla_breach",
                    "at": row.touch_breached_at,
                    "title": f"First-touch deadline missed by {_name(row.rep)}",
                    "detail": {"deadline": row.first_touch_due_at},
                }
            )
        if row.status == "reassigned" and row.ended_at:
            items.append(
                {
                    "kind": "reassigned",
                    "at": row.ended_at,
                    "title": f"Taken back from {_name(row.rep)}",
                    "detail": {},
                }
            )
    return items


def _activity_items(lead: Lead) -> list[dict[str, Any]]:
    return [
        {
            "kind": f"activity_{row.kind}",
            "at": row.occurred_at,
            "title": f"{row.get_kind_display()} by {_name(row.user) or 'someone'}",
            "detail": {"body": row.body},
        }
        for row in Activity.objects.filter(lead=lead).select_related("user")
    ]


def _task_items(lead: Lead) -> list[dict[str, Any]]:
    return [
        {
            "kind": "task",
            "at": row.created_at,
            "title": f"Task for {_name(row.assignee)}: {row.title}",
            "detail": {"due_at": row.due_at, "done_at": row.done_at},
        }
        for row in Task.objects.filter(lead=lead).select_related("assignee")
    ]


def _rejection_items(lead: Lead) -> list[dict[str, Any]]:
    return [
        {
            "kind": "rejected",
            "at": row.rejected_at,
            "title": f"Rejected by {_name(row.rep)}: {row.get_reason_display()}",
            "detail": {"reason": row.reason, "note": row.note},
        }
        for row in Rejection.objects.filter(lead=lead).select_related("rep")
    ]


def _merge_items(lead: Lead) -> list[dict[str, Any]]:
    return [
        {
            "kind": "merged",
            "at": row.merged_at,
            "title": f"Merged {row.merged_email} into this lead",
            "detail": {"moved": row.moved, "by": _name(row.merged_by)},
        }
        for row in Merge.objects.filter(lead=lead).select_related("merged_by")
    ]


def handoff_timeline_items(lead: Lead) -> list[dict[str, Any]]:
    return [
        *_assignment_items(lead),
        *_activity_items(lead),
        *_task_items(lead),
        *_rejection_items(lead),
        *_merge_items(lead),
    ]
