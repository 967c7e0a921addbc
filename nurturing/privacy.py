"""A lead's nurture enrollments and emails in its GDPR export and erasure."""

from typing import Any

from django.db.models.functions import Lower

from nurturing.models import Enrollment, Message, Suppression
from nurturing.services.enrollments import lead_enrollments_exit


def lead_personal_data(lead) -> dict[str, Any]:
    enrollments = Enrollment.objects.filter(lead_id=lead.pk).select_related("sequence")
    messages = Message.objects.filter(lead_id=lead.pk).order_by("created_at", "id")
    return {
        "enrollments": [
            {
                "sequence": row.sequence.name,
                "status": row.status,
                "enrolled_at": row.enrolled_at,
                "ended_at": row.ended_at,
            }
            for row in enrollments.order_by("enrolled_at", "id")
        ],
        "emails": list(
            messages.values(
                "to_email",
                "subject",
                "status",
                "created_at",
                "sent_at",
                "opened_at",
                "clicked_at",
                "detail",
            )
        ),
    }


def lead_erase(lead) -> dict[str, int]:
    """Active enrollments end (nothing more is sent); the emails sent keep their status and
    times, for the sequence's figures, but lose their address, subject and error text. The
    address's suppression row goes too: the erased address's keyed hash now stops it."""
    ended = lead_enrollments_exit(lead_id=lead.pk, reason="erased")
    emails = Message.objects.filter(lead_id=lead.pk).update(
        to_email=f"erased-{lead.pk}@invalid", subject="", detail="", message_id_header=""
    )
    address = lead.email.strip().lower()
    suppressions, _ = (
        Suppression.objects.annotate(lower=Lower("email")).filter(lower=address).delete()
    )
    return {"enrollments_ended": ended, "emails": emails, "suppressions": suppressions}
