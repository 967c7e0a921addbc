"""Writing the audit log. Every app's services call `audit_record` inside their own
transaction, so the row commits (or rolls back) with the change it records."""

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from accounts.models import User
from audit.context import request_ip
from audit.models import AuditEntry

ERASED = "[erased]"


def _json(value: Any) -> Any:
    """A value as JSON stores it: a model as its label, times as ISO text, sets as lists."""
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, set | frozenset):
        value = sorted(value)
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def changes_between(
    before: dict[str, Any], after: dict[str, Any], *, hidden: frozenset[str] = frozenset()
) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for the fields whose value differs; `hidden` fields (a password,
    a key) are listed with both values replaced by "***"."""
    changes = {}
    for name in sorted(after):
        old, new = _json(before.get(name)), _json(after[name])
        if old != new:
            changes[name] = ["***", "***"] if name in hidden else [old, new]
    return changes


def audit_record(
    *,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: int | str,
    object_label: str = "",
    changes: dict[str, Any] | None = None,
    reason: str = "",
    ip: str | None = None,
) -> AuditEntry:
    """Write one audit row. Must run inside the transaction of the change it records (it
    refuses to run outside one: an audit row committed apart could outlive a rolled-back
    change, or be lost with a committed one). `ip` defaults to the current request's."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the change's transaction")
    return AuditEntry.objects.create(
        at=timezone.now(),
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_label=object_label[:255],
        changes=_json(changes or {}),
        reason=reason.strip(),
        ip=ip or request_ip.get(),
    )


def audit_object_erase(*, object_type: str, object_id: int | str, label: str) -> int:
    """A lead's erasure: the rows about it keep who, when, what and which fields, but lose the
    values (old and new) and its label (the actor's address stays: it is the actor's, not the
    lead's). Returns how many rows were blanked."""
    rows = AuditEntry.objects.filter(object_type=object_type, object_id=str(object_id))
    count = 0
    for entry in rows.only("changes"):
        entry.changes = {name: [ERASED, ERASED] for name in entry.changes}
        entry.save(update_fields=["changes"])
        count += 1
    rows.update(object_label=label)
    return count
