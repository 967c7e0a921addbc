"""Demo data for the rep's inbox: a note and tasks due today on rep1's accepted lead.

Not wired into `demo_setup` yet: call `demo_handoff_pages()` after the demo leads exist and
routing has handed leads to the reps (the inbox's queue comes from routing's demo). Idempotent:
a second call adds nothing.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from handoff.models import Activity, Task
from handoff.services import activities
from leads.models import Lead, Stage

# (title, hours from now): one overdue and one later today, so the inbox shows both states.
_TASKS = (("Call back about the pilot", -1), ("Send the pricing deck", 2))
_NOTE = "Before the first call: 40 sales people on spreadsheets; they asked about a pilot."


@transaction.atomic
def demo_handoff_pages() -> int:
    """Returns how many rows it added."""
    rep = User.objects.get(username="rep1")
    lead = Lead.objects.filter(owner=rep, stage=Stage.SAL).order_by("id").first()
    if lead is None:
        return 0
    added = 0
    now = timezone.now()
    if not Activity.objects.filter(lead=lead, body=_NOTE).exists():
        activities.activity_log(
            lead_id=lead.pk,
            actor=rep,
            kind="note",
            body=_NOTE,
            occurred_at=now - timedelta(hours=2),
        )
        added += 1
    for title, hours in _TASKS:
        if not Task.objects.filter(lead=lead, title=title).exists():
            activities.task_create(
                lead_id=lead.pk, actor=rep, title=title, due_at=now + timedelta(hours=hours)
            )
            added += 1
    return added
