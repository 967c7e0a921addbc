"""Reading the audit log: admins read and filter all of it; a lead's page shows its edits."""

from datetime import datetime
from typing import Any

from django import forms
from django.db.models import QuerySet

from accounts.models import User
from audit.models import AuditEntry
from core.errors import ApiError, Forbidden

_BIGINT_MAX = 2**63 - 1


class AuditFilterForm(forms.Form):
    """The log's filters, one vocabulary for the API and the page. `from` is inclusive and
    `to` exclusive (ISO dates or datetimes; a date is its midnight, UTC)."""

    actor = forms.IntegerField(required=False, min_value=1, max_value=_BIGINT_MAX)
    action = forms.CharField(required=False, max_length=64)
    object_type = forms.CharField(required=False, max_length=64)
    object_id = forms.CharField(required=False, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # `from` is a Python keyword: the two bounds are added by name.
        self.fields["from"] = forms.DateTimeField(required=False)
        self.fields["to"] = forms.DateTimeField(required=False)


def audit_read_authorize(*, actor: User) -> None:
    if not actor.is_admin:
        raise Forbidden("Only an admin may read the audit log.")


def audit_filters(data) -> dict[str, Any]:
    """The cleaned filters from query parameters, or the API's 400 naming the bad ones."""
    form = AuditFilterForm(data)
    if not form.is_valid():
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        raise ApiError("Invalid filter.", code="invalid", fields=fields)
    return {name: value for name, value in form.cleaned_data.items() if value not in (None, "")}


def audit_list(*, actor: User, filters: dict[str, Any]) -> QuerySet[AuditEntry]:
    """The log, newest first, filtered (`audit_filters`); admins only."""
    audit_read_authorize(actor=actor)
    rows = AuditEntry.objects.all()
    if "actor" in filters:
        rows = rows.filter(actor_id=filters["actor"])
    for name in ("action", "object_type", "object_id"):
        if name in filters:
            rows = rows.filter(**{name: filters[name]})
    start: datetime | None = filters.get("from")
    end: datetime | None = filters.get("to")
    if start is not None:
        rows = rows.filter(at__gte=start)
    if end is not None:
        rows = rows.filter(at__lt=end)
    return rows.order_by("-at", "-id")


def audit_choices() -> dict[str, list[str]]:
    """The actions and object types the log holds, for the page's filter menus."""
    rows = AuditEntry.objects.order_by()
    return {
        "actions": sorted(rows.values_list("action", flat=True).distinct()),
        "object_types": sorted(rows.values_list("object_type", flat=True).distinct()),
    }


def lead_field_changes(lead_id: int) -> list[dict[str, Any]]:
    """A lead's field edits (`lead.*` rows that changed fields) as timeline items, oldest
    first: who, when, and each field's old and new value."""
    rows = AuditEntry.objects.filter(object_type="lead", object_id=str(lead_id)).exclude(changes={})
    return [
        {
            "kind": "field_change",
            "at": row.at,
            "title": "Edited " + ", ".join(sorted(row.changes)),
            "detail": {
                "by": row.actor_name or None,
                "action": row.action,
                "changes": row.changes,
                "reason": row.reason,
            },
        }
        for row in rows.order_by("at", "id")
    ]
