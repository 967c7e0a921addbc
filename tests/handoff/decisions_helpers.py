"""Helpers of the decisions tests (accept, reject, qualify, close, activities, merge)."""

from handoff.models import Activity, Assignment, Discovery, Merge, Rejection, Task
from leads.models import Lead, StageChange


def url(lead_id: int, action: str) -> str:
    return f"/api/v1/leads/{lead_id}/{action}/"


def snapshot(lead_id: int) -> dict:
    """Everything a decision may change about a lead, to assert a refusal changed nothing."""
    return {
        "lead": Lead.objects.filter(pk=lead_id).values().first(),
        "history": list(StageChange.objects.filter(lead_id=lead_id).values().order_by("id")),
        "assignments": list(Assignment.objects.filter(lead_id=lead_id).values().order_by("id")),
        "rejections": list(Rejection.objects.filter(lead_id=lead_id).values()),
        "discovery": list(Discovery.objects.filter(lead_id=lead_id).values()),
        "activities": list(Activity.objects.filter(lead_id=lead_id).values()),
        "tasks": list(Task.objects.filter(lead_id=lead_id).values()),
        "merges": list(Merge.objects.filter(lead_id=lead_id).values()),
    }


def promoted(lead: Lead, to: str, rule: str = "scoring: MQL threshold 50") -> Lead:
    """Move a factory lead forward as a scoring rule would (history row naming the rule)."""
    from leads.services import lead_promote

    lead_promote(lead_id=lead.pk, to=to, rule=rule)
    lead.refresh_from_db()
    return lead
