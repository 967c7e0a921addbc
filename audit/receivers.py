"""What the audit does when a lower app tells it something (core/hooks.py)."""

from typing import Any

from accounts.models import User
from audit.services import audit_record


def account_changed(actor: User | None, action: str, user: User, changes: dict[str, Any]) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="user",
        object_id=user.pk,
        object_label=user.get_username(),
        changes=changes,
    )
