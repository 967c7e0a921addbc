"""A lead's points in its GDPR export. An erasure keeps them: the ledger holds rule ids,
points and times, nothing about the person (the events it points at are stripped by events)."""

from typing import Any

from scoring.models import LedgerEntry


def lead_personal_data(lead) -> dict[str, Any]:
    rows = LedgerEntry.objects.filter(lead_id=lead.pk).order_by("occurred_at", "id")
    return {
        "score": {"score": lead.score, "temperature": lead.temperature},
        "score_ledger": [
            {
                "rule": row.rule.name,
                "points": row.points,
                "event_id": row.event_id,
                "occurred_at": row.occurred_at,
                "expires_at": row.expires_at,
                "is_live": row.is_live,
            }
            for row in rows.select_related("rule")
        ],
    }
