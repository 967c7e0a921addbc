"""Web's part of merging two leads (a `core.hooks.lead_rows_merged` receiver)."""

from web.models import Submission


def submissions_move_to_lead(from_lead_id: int, to_lead_id: int) -> dict[str, int]:
    """Give the merged lead's form submissions to the kept lead."""
    moved = Submission.objects.filter(lead_id=from_lead_id).update(lead_id=to_lead_id)
    return {"submissions": moved}
