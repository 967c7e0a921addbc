"""A lead's personal data: exporting all of it (GDPR access) and erasing it (GDPR erasure).

The leads app holds the profile, its consent evidence and its stage history; every app above
holds more (events, scores, emails, activities, form submissions) and hands in its part through
two hooks (core/hooks.py): `lead_personal_data` for the export and `lead_erase` for the
erasure. An erased lead stays as an anonymous row, so that the funnel and every aggregate
still count it; its address is kept only as a keyed hash (`ErasedAddress`), which stops it
from being mailed or added again by any path that creates leads.
"""

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_object_erase, audit_record
from core import hooks
from core.errors import ApiError, Conflict, Forbidden
from leads.models import Consent, ErasedAddress, Lead, StageChange

# Profile fields an erasure blanks. The source, direction, UTM campaign fields, stage, score
# and dates stay: they say how a lead came and moved, not who it is, and reports count them.
_BLANKED: dict[str, Any] = {
    "first_name": "",
    "last_name": "",
    "title": "",
    "phone": "",
    "country": "",
    "company_name": "",
    "company_domain": "",
    "company_size": None,
    "external_id": None,
    "traits": {},
    "utm_term": "",
    "utm_content": "",
}


class ReasonRequired(ApiError):
    default_code = "reason_required"
    default_detail = "An erasure needs a reason (the request it answers)."


class AddressErased(Conflict):
    default_code = "address_erased"
    default_detail = "This email address cannot be used: its owner asked to be erased."


def _pepper() -> bytes:
    return settings.LEADCRM_ERASURE_PEPPER.encode()


def email_normalised(email: str) -> str:
    return email.strip().lower()


def email_digest(email: str) -> str:
    """The keyed hash an erased address is kept as (hex HMAC-SHA256 with the server pepper)."""
    return hmac.new(_pepper(), email_normalised(email).encode(), hashlib.sha256).hexdigest()


def emails_erased(emails: Iterable[str]) -> set[str]:
    """Which of these addresses were erased (as given, any case)."""
    by_digest = {email_digest(email): email for email in emails if email}
    if not by_digest:
        return set()
    # Raw: every lead a form or an identify creates asks (through the ORM, 0.4 ms of CPU).
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT digest FROM {ErasedAddress._meta.db_table} WHERE digest = ANY(%s)",
            [list(by_digest)],
        )
        return {by_digest[digest] for (digest,) in cursor.fetchall()}


def email_erased(email: str) -> bool:
    return bool(emails_erased([email]))


def emails_lock(emails: Iterable[str]) -> None:
    """Serialise with an erasure of any of these addresses, until the transaction ends: an
    erasure holds its address's lock exclusively, ingestion's lead-creating paths hold theirs
    shared. Taken in a fixed order, so two holders cannot deadlock."""
    keys = sorted({_lock_key(email) for email in emails if email})
    if not keys:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(k) FROM unnest(%s::bigint[]) k", [keys])


def _lock_key(email: str) -> int:
    # The first 8 bytes of the digest as a signed bigint: PostgreSQL's advisory lock key.
    return int.from_bytes(bytes.fromhex(email_digest(email))[:8], "big", signed=True)


def erase_authorize(*, actor: User) -> None:
    if not actor.is_admin:
        raise Forbidden("Only an admin may export or erase a lead's personal data.")


# --- Export ---------------------------------------------------------------------------------

_PROFILE = (
    "id",
    "email",
    "first_name",
    "last_name",
    "title",
    "phone",
    "country",
    "company_name",
    "company_domain",
    "company_size",
    "source",
    "direction",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "external_id",
    "traits",
    "stage",
    "stage_entered_at",
    "recycle_count",
    "score",
    "temperature",
    "do_not_contact",
    "do_not_contact_reason",
    "consent",
    "consent_required",
    "created_at",
    "updated_at",
    "erased_at",
)


def _profile(lead: Lead) -> dict[str, Any]:
    data = {name: getattr(lead, name) for name in _PROFILE}
    data["owner"] = lead.owner.get_username() if lead.owner is not None else None
    return data


def _consent(lead: Lead) -> list[dict[str, Any]]:
    rows = Consent.objects.filter(lead=lead).order_by("at", "id")
    return [dict(row) for row in rows.values("state", "wording", "source", "ip", "at")]


def _stage_history(lead: Lead) -> list[dict[str, Any]]:
    rows = StageChange.objects.filter(lead=lead).order_by("changed_at", "id")
    return [
        {
            "from": row.from_stage or None,
            "to": row.to_stage,
            "at": row.changed_at,
            "by": row.changed_by.get_username() if row.changed_by else None,
            "rule": row.rule,
            "reason": row.reason,
        }
        for row in rows.select_related("changed_by")
    ]


@transaction.atomic
def lead_export(*, actor: User, lead_id: int) -> dict[str, Any]:
    """Everything held about a lead, as one JSON-ready document (admins only; audited)."""
    erase_authorize(actor=actor)
    lead = Lead.objects.select_related("owner").get(pk=lead_id)
    document: dict[str, Any] = {
        "format": "leadcrm.lead-export/1",
        "exported_at": timezone.now(),
        "lead": _profile(lead),
        "consent": _consent(lead),
        "stage_history": _stage_history(lead),
    }
    for part in hooks.lead_personal_data.call(lead):
        document.update(part)
    audit_record(
        actor=actor,
        action="lead.export",
        object_type="lead",
        object_id=lead.pk,
        object_label=lead.email,
    )
    return document


# --- Erasure --------------------------------------------------------------------------------


def erased_email(lead_id: int) -> str:
    """The placeholder an erased lead's email becomes: unique, and never deliverable (the
    `.invalid` top-level domain is reserved, RFC 2606)."""
    return f"erased-{lead_id}@invalid"


def erasure_result(lead: Lead) -> dict[str, Any]:
    return {"id": lead.pk, "email": lead.email, "erased_at": lead.erased_at}


@transaction.atomic
def lead_erase(*, actor: User, lead_id: int, reason: str) -> dict[str, Any]:
    """Erase a lead's personal data (admins only, with a reason), keeping an anonymous row.

    The lead's row is locked (FOR UPDATE, which ingestion's locks and foreign-key checks wait
    for) and so is its address (`emails_lock`, exclusively), so an identify or a form sent
    meanwhile either lands before and is erased with the rest, or comes after and finds the
    address erased. Every app erases its part through the `lead_erase` hook; the profile is
    blanked, consent evidence loses its address, and the audit rows about the lead lose their
    values. A lead already erased is left as it is and answered the same (no new audit row).
    """
    erase_authorize(actor=actor)
    if not reason.strip():
        raise ReasonRequired(fields={"reason": ["This field is required."]})
    # The address's lock first, then the row's: ingestion takes them in that order too (an
    # identify locks its address, then updates the lead), so the two cannot deadlock.
    email = Lead.objects.values_list("email", flat=True).get(pk=lead_id)
    _address_lock_exclusive(email)
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    if lead.erased_at is not None:
        return erasure_result(lead)
    if lead.email != email:  # changed in between: its new address is the one to erase
        _address_lock_exclusive(lead.email)
    now = timezone.now()
    ErasedAddress.objects.get_or_create(
        digest=email_digest(lead.email), defaults={"erased_at": now}
    )
    counts = {}
    for part in hooks.lead_erase.call(lead):
        counts.update(part)
    counts["consent_ips"] = Consent.objects.filter(lead=lead, ip__isnull=False).update(ip=None)
    for name, value in _BLANKED.items():
        setattr(lead, name, value)
    lead.email = erased_email(lead.pk)
    lead.do_not_contact, lead.do_not_contact_reason = True, "erased"
    lead.erased_at = now
    lead.save()
    label = f"erased lead #{lead.pk}"
    counts["admin_log"] = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Lead), object_id=str(lead.pk)
    ).update(object_repr=label, change_message="")
    counts["audit_rows"] = audit_object_erase(object_type="lead", object_id=lead.pk, label=label)
    audit_record(
        actor=actor,
        action="lead.erase",
        object_type="lead",
        object_id=lead.pk,
        object_label=label,
        changes={"rows": [None, counts]},
        reason=reason,
    )
    return erasure_result(lead)


def _address_lock_exclusive(email: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(email)])


def leads_erased_locked(lead_ids: Iterable[int]) -> set[int]:
    """Which of these leads are erased, read under a FOR KEY SHARE lock held to the end of the
    caller's transaction: it waits for an erasure in progress (FOR UPDATE) and then sees it,
    and an erasure that starts later waits for the caller to commit. Ingestion asks this after
    writing, and erases again what it wrote to an erased lead."""
    ids = sorted(set(lead_ids))
    if not ids:
        return set()
    with connection.cursor() as cursor:
        # In id order, as every other locker of leads takes them. A row that was locked by an
        # erasure is returned as that erasure committed it (READ COMMITTED locking reads see
        # the newest version of the rows they waited for).
        cursor.execute(
            "SELECT id, erased_at FROM leads_lead WHERE id = ANY(%s::bigint[]) "
            "ORDER BY id FOR KEY SHARE",
            [ids],
        )
        return {pk for pk, erased_at in cursor.fetchall() if erased_at is not None}
