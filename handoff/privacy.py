"""A lead's hand-off rows in its GDPR export and erasure: assignments, rejections, discovery
answers, activities, tasks and merges."""

from typing import Any

from handoff.models import Activity, Assignment, Discovery, Merge, Rejection, SlaNotice, Task

_DISCOVERY_TEXT = (
    "decision_makers",
    "decision_process",
    "timeframe",
    "current_solution",
    "budget",
)


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def lead_personal_data(lead) -> dict[str, Any]:
    activities = Activity.objects.filter(lead_id=lead.pk).select_related("user")
    tasks = Task.objects.filter(lead_id=lead.pk).select_related("assignee")
    assignments = Assignment.objects.filter(lead_id=lead.pk).select_related("rep")
    discovery = Discovery.objects.filter(lead_id=lead.pk).first()
    return {
        "activities": [
            {"kind": a.kind, "body": a.body, "at": a.occurred_at, "by": _username(a.user)}
            for a in activities.order_by("occurred_at", "id")
        ],
        "tasks": [
            {"title": t.title, "due_at": t.due_at, "done_at": t.done_at, "for": t.assignee.username}
            for t in tasks.order_by("due_at", "id")
        ],
        "assignments": [
            {"rep": a.rep.username, "status": a.status, "assigned_at": a.assigned_at}
            for a in assignments.order_by("assigned_at", "id")
        ],
        "rejections": list(
            Rejection.objects.filter(lead_id=lead.pk)
            .order_by("rejected_at", "id")
            .values("reason", "note", "rejected_at")
        ),
        "discovery": (
            {name: getattr(discovery, name) for name in ("product_fit", *_DISCOVERY_TEXT)}
            if discovery is not None
            else None
        ),
        "merges": list(
            Merge.objects.filter(lead_id=lead.pk)
            .order_by("merged_at", "id")
            .values("merged_email", "merged_at", "moved")
        ),
    }


def lead_erase(lead) -> dict[str, int]:
    """Free text written about the person goes (notes, task titles, discovery answers,
    rejection notes, the merged duplicate's address, SLA email errors); what the reports
    count stays (kinds, times, reasons, who did it)."""
    notices = SlaNotice.objects.filter(assignment__lead_id=lead.pk).exclude(error="")
    return {
        "activities": Activity.objects.filter(lead_id=lead.pk).exclude(body="").update(body=""),
        "tasks": Task.objects.filter(lead_id=lead.pk).update(title="(erased)"),
        "rejection_notes": Rejection.objects.filter(lead_id=lead.pk)
        .exclude(note="")
        .update(note=""),
        "discovery": Discovery.objects.filter(lead_id=lead.pk).update(
            **dict.fromkeys(_DISCOVERY_TEXT, "(erased)")
        ),
        "merges": Merge.objects.filter(lead_id=lead.pk).update(
            merged_email=f"erased-merge-{lead.pk}@invalid"
        ),
        "sla_errors": notices.update(error=""),
    }
