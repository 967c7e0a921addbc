"""The lead list's bulk "Assign to", offered to sales managers and admins (a
`core.hooks.lead_list_actions` receiver)."""

from typing import Any

from accounts.models import Role, User


def bulk_assign_action(user: User) -> dict[str, Any] | None:
    """The bulk bar's assign control: the active reps to choose from (one query)."""
    if not user.manages_sales:
        return None
    reps = User.objects.filter(role=Role.REP, is_active=True, is_superuser=False)
    choices = [
        (rep.pk, rep.get_full_name() or rep.get_username())
        for rep in reps.order_by("username").only("pk", "username", "first_name", "last_name")
    ]
    return {"template": "handoff/_bulk_assign.html", "context": {"reps": choices}}
