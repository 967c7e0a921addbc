"""A lead's events and identities in its GDPR export and erasure (the `lead_personal_data`
and `lead_erase` hooks, core/hooks.py)."""

from typing import Any

from django.db.models import Q
from django.db.models.expressions import RawSQL

from events.models import Event, Identity

# What an erased lead's events keep: the source, the type, the name and the times (scoring's
# history and the reports count them), and the message id as a hash (still unique; a sender
# may build ids from anything). Everything else is what the sender knew about the person.
_HASHED = "erased-"
_SCRUBBED = {
    # PostgreSQL's own sha256() (no extension needed), as hex.
    "message_id": RawSQL("%s || encode(sha256(convert_to(message_id, 'UTF8')), 'hex')", [_HASHED]),
    "user_id": "",
    "anonymous_id": "",
    "previous_id": "",
    "group_id": "",
    "properties": {},
    "traits": {},
    "context": {},
}
_PERSONAL_LEFT = (
    ~Q(user_id="")
    | ~Q(anonymous_id="")
    | ~Q(previous_id="")
    | ~Q(group_id="")
    | ~Q(properties={})
    | ~Q(traits={})
    | ~Q(context={})
    | ~Q(message_id__startswith=_HASHED)
)


def lead_personal_data(lead) -> dict[str, Any]:
    events = Event.objects.filter(lead_id=lead.pk).order_by("occurred_at", "id")
    identities = Identity.objects.filter(lead_id=lead.pk).order_by("created_at", "id")
    return {
        "events": list(
            events.values(
                "type",
                "name",
                "message_id",
                "user_id",
                "anonymous_id",
                "previous_id",
                "group_id",
                "properties",
                "traits",
                "context",
                "occurred_at",
                "received_at",
            )
        ),
        "identities": list(identities.values("kind", "value", "created_at")),
    }


def lead_erase(lead) -> dict[str, int]:
    return lead_events_erase(lead_id=lead.pk)


def lead_events_erase(*, lead_id: int) -> dict[str, int]:
    """Strip the lead's events of personal properties and ids, the same for events not linked
    to any lead that carry one of its ids (they arrived before the link), and delete its
    identities. Idempotent: rows already stripped are not written again."""
    values = list(Identity.objects.filter(lead_id=lead_id).values_list("value", flat=True))
    orphans = Q(lead__isnull=True) & (Q(user_id__in=values) | Q(anonymous_id__in=values))
    mine = Event.objects.filter(Q(lead_id=lead_id) | orphans if values else Q(lead_id=lead_id))
    events = mine.filter(_PERSONAL_LEFT).update(**_SCRUBBED)
    identities, _ = Identity.objects.filter(lead_id=lead_id).delete()
    return {"events": events, "identities": identities}
