"""A lead's form submissions in its GDPR export and erasure."""

from typing import Any

from django.db.models import Q

from web.models import Submission


def _submissions(lead):
    # Also the ones whose lead row went (SET_NULL) but that carry the address.
    return Submission.objects.filter(Q(lead_id=lead.pk) | Q(email__iexact=lead.email))


def lead_personal_data(lead) -> dict[str, Any]:
    rows = _submissions(lead).select_related("form").order_by("submitted_at", "id")
    return {
        "form_submissions": [
            {
                "form": row.form.slug,
                "email": row.email,
                "data": row.data,
                "utm": row.utm,
                "referrer": row.referrer,
                "anonymous_id": row.anonymous_id,
                "ip": row.ip,
                "user_agent": row.user_agent,
                "status": row.status,
                "submitted_at": row.submitted_at,
                "confirmed_at": row.confirmed_at,
            }
            for row in rows
        ]
    }


def lead_erase(lead) -> dict[str, int]:
    """Submissions keep their form, status and times (the form's figures count them) and lose
    everything the visitor sent and where from."""
    rows = _submissions(lead)
    return {
        "form_submissions": rows.update(
            lead_id=lead.pk,
            email=f"erased-{lead.pk}@invalid",
            data={},
            utm={},
            referrer="",
            anonymous_id="",
            ip=None,
            user_agent="",
        )
    }
