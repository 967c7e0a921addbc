"""Reads of nurturing, scoped by who asks, and the lead timeline's nurture items."""

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import User
from core import hooks
from core.errors import Forbidden
from leads.models import Lead
from leads.selectors import lead_consent_awaited_q, lead_visible_q
from nurturing.models import Enrollment, Message, MessageStatus, Sequence, Step, Suppression


def lead_paused_q() -> Q:
    """A lead owned by someone who talks to it in person (a rep; apps above nurturing add their
    own conditions through `core.hooks.nurture_pause_conditions`) pauses its enrollments; so
    does a lead whose source or form needs consent it has not given yet (until it does)."""
    combined = Q(owner__isnull=False) | lead_consent_awaited_q()
    for condition in hooks.nurture_pause_conditions.call():
        combined |= condition
    return combined


def paused_lead_exists() -> Exists:
    """For filtering rows that carry a `lead_id`: true when that lead is paused."""
    return Exists(Lead.objects.filter(lead_paused_q(), pk=OuterRef("lead_id")))


def email_suppressed(*, email: str) -> bool:
    return Suppression.objects.filter(email__iexact=email).exists()


def sequence_list() -> QuerySet[Sequence]:
    return Sequence.objects.all()


def step_list() -> QuerySet[Step]:
    return Step.objects.select_related("sequence")


def enrollment_list(*, user: User) -> QuerySet[Enrollment]:
    """Enrollments of the leads `user` may see (leads.selectors decides which those are)."""
    qs = Enrollment.objects.select_related("lead", "sequence", "enrolled_by").annotate(
        lead_paused=paused_lead_exists()
    )
    if user.sees_all_leads:
        return qs
    return qs.filter(lead__in=Lead.objects.filter(lead_visible_q(user)))


def message_list(*, user: User) -> QuerySet[Message]:
    qs = Message.objects.select_related("step", "enrollment__sequence")
    if user.sees_all_leads:
        return qs
    return qs.filter(lead__in=Lead.objects.filter(lead_visible_q(user)))


def message_review_authorize(*, user: User | None) -> None:
    """Reviewing emails (listing them, settling them) is for marketers and admins; `None` is
    the system."""
    if user is not None and not user.does_marketing:
        raise Forbidden("Only marketers and admins review emails.")


def message_review_list(*, user: User) -> QuerySet[Message]:
    """Emails whose worker died while the server was answering: maybe sent, never resent."""
    message_review_authorize(user=user)
    return Message.objects.filter(status=MessageStatus.UNKNOWN).select_related(
        "lead", "step", "enrollment__sequence"
    )


# --- Timeline ----------------------------------------------------------------------------------

# Keyed by the status as stored (a plain str on a loaded row).
_MESSAGE_TITLES: dict[str, str] = {
    MessageStatus.SENT: "Email sent",
    MessageStatus.SKIPPED: "Email skipped",
    MessageStatus.CANCELLED: "Email cancelled",
    MessageStatus.BOUNCED: "Email bounced",
    MessageStatus.FAILED: "Email failed",
    MessageStatus.UNKNOWN: "Email maybe sent (needs review)",
}


def _enrollment_items(lead: Lead) -> list[dict[str, Any]]:
    items = []
    for row in Enrollment.objects.filter(lead=lead).select_related("sequence", "enrolled_by"):
        detail = {
            "enrollment": row.pk,
            "sequence": row.sequence.name,
            "trigger": row.trigger,
            "by": row.enrolled_by.get_username() if row.enrolled_by else None,
        }
        items.append(
            {
                "kind": "nurture_enrolled",
                "at": row.enrolled_at,
                "title": f"Enrolled in {row.sequence.name}",
                "detail": detail,
            }
        )
        if row.ended_at:
            verb = "Completed" if row.status == "completed" else "Left"
            items.append(
                {
                    "kind": f"nurture_{row.status}",
                    "at": row.ended_at,
                    "title": f"{verb} {row.sequence.name}",
                    "detail": {**detail, "reason": row.exit_reason},
                }
            )
    return items


def _message_items(lead: Lead) -> list[dict[str, Any]]:
    items = []
    rows = Message.objects.filter(lead=lead).select_related("step", "enrollment__sequence")
    for row in rows:
        detail = {
            "message": row.pk,
            "sequence": row.enrollment.sequence.name,
            "step": row.step.position,
            "subject": row.subject or row.step.subject,
            "status": row.status,
            "detail": row.detail,
        }
        title = _MESSAGE_TITLES.get(row.status)
        if title:
            at = row.sent_at or row.claimed_at or row.created_at
            items.append({"kind": "nurture_email", "at": at, "title": title, "detail": detail})
        if row.opened_at:
            items.append(
                {
                    "kind": "nurture_open",
                    "at": row.opened_at,
                    "title": "Email opened",
                    "detail": detail,
                }
            )
        if row.clicked_at:
            items.append(
                {
                    "kind": "nurture_click",
                    "at": row.clicked_at,
                    "title": "Email link clicked",
                    "detail": detail,
                }
            )
    return items


def nurture_timeline_items(lead: Lead) -> list[dict[str, Any]]:
    return _enrollment_items(lead) + _message_items(lead)
