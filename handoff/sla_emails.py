"""The SLA escalation emails: who receives them and what they say (plain text and HTML).

One email per breach, to the rep, copied to every active sales manager (to the active admins
when there is no manager: somebody must hear of it). Times are shown in the business hours'
time zone (the server's when the clock runs around the clock). Sent by
handoff.services.sla.sla_notices_send, never from inside the SLA job's transaction.
"""

import email.policy
from dataclasses import dataclass
from datetime import datetime, tzinfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import Role, User
from handoff import clock
from handoff.models import Assignment, SlaNotice, SlaNoticeKind
from handoff.selectors import handoff_settings
from leads.models import Lead


class EscalationEmail(EmailMultiAlternatives):
    """Headers are not folded below RFC 5322's 998 characters: Python folds some long subjects
    right after "Subject:", which mail readers then show with a leading space."""

    def message(self, *, policy=email.policy.default):
        return super().message(policy=policy.clone(max_line_length=998))


@dataclass(frozen=True)
class EscalationContext:
    """What every email of a batch shares: the copies and the time zone."""

    cc: tuple[str, ...]
    zone: tzinfo


def escalation_copies() -> list[str]:
    """The active sales managers' addresses; the active admins' when there is no manager."""
    people = User.objects.filter(is_active=True).exclude(email="")
    managers = people.filter(role=Role.MANAGER, is_superuser=False)
    chosen = (
        managers if managers.exists() else people.filter(Q(role=Role.ADMIN) | Q(is_superuser=True))
    )
    return sorted(set(chosen.values_list("email", flat=True)))


def _zone() -> tzinfo:
    try:
        hours = clock.hours_parse(handoff_settings().business_hours)
    except clock.InvalidHours:
        hours = None  # a bad calendar must not stop the escalation
    return hours.zone if hours else timezone.get_default_timezone()


def escalation_context() -> EscalationContext:
    return EscalationContext(cc=tuple(escalation_copies()), zone=_zone())


def when(value: datetime | None, zone: tzinfo) -> str:
    """`Mon 03 Mar 2025 10:00 CET`, in the zone the deadlines are counted in."""
    if value is None:
        return "-"
    local = value.astimezone(zone)
    return f"{local:%a %d %b %Y %H:%M} {local.tzname()}"


def lead_label(lead: Lead) -> str:
    name = lead.full_name or lead.email
    return f"{name} ({lead.company_name})" if lead.company_name else name


def lead_url(lead_id: int) -> str:
    return f"{settings.SITE_URL}/leads/{lead_id}/"


def _rep_name(row: Assignment) -> str:
    return row.rep.get_full_name() or row.rep.get_username()


def _accept(row: Assignment, zone: tzinfo) -> tuple[str, str]:
    lead, rep = lead_label(row.lead), _rep_name(row)
    subject = f"SLA missed: accept {lead} by {when(row.accept_due_at, zone)}"
    body = (
        f"{rep} did not accept or reject {lead} by {when(row.accept_due_at, zone)} "
        f"(assigned {when(row.assigned_at, zone)}). Unless it is accepted or rejected first, the "
        f"lead goes back to routing at {when(row.reassign_due_at, zone)}."
    )
    return subject, body


def _touch(row: Assignment, zone: tzinfo) -> tuple[str, str]:
    lead, rep = lead_label(row.lead), _rep_name(row)
    subject = f"SLA missed: first touch {lead} by {when(row.first_touch_due_at, zone)}"
    body = (
        f"{rep} accepted {lead} on {when(row.decided_at, zone)} but logged no call, email or "
        f"meeting by {when(row.first_touch_due_at, zone)}."
    )
    return subject, body


def _reassigned(row: Assignment, zone: tzinfo) -> tuple[str, str]:
    lead, rep = lead_label(row.lead), _rep_name(row)
    subject = f"Lead taken back: {lead} (not accepted by {when(row.accept_due_at, zone)})"
    body = (
        f"{rep} did not accept or reject {lead} by {when(row.accept_due_at, zone)}. It was taken "
        f"back on {when(row.ended_at, zone)} and goes back to routing (never to {rep} again)."
    )
    return subject, body


_CONTENT = {
    SlaNoticeKind.ACCEPT: _accept,
    SlaNoticeKind.TOUCH: _touch,
    SlaNoticeKind.REASSIGNED: _reassigned,
}


def notice_email(notice: SlaNotice, context: EscalationContext) -> EscalationEmail:
    """The email for one notice (its assignment, lead and rep loaded). No recipient at all when
    neither the rep nor anybody copied has an address."""
    row = notice.assignment
    subject, body = _CONTENT[SlaNoticeKind(notice.kind)](row, context.zone)
    url = lead_url(row.lead_id)
    rep_email = row.rep.email if row.rep.is_active and row.rep.email else ""
    message = EscalationEmail(
        subject=subject,
        body=f"{body}\n\nOpen the lead: {url}\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[rep_email] if rep_email else [],
        cc=[address for address in context.cc if address != rep_email],
    )
    html = format_html('<p>{}</p>\n<p><a href="{}">Open the lead</a></p>\n', body, url)
    message.attach_alternative(html, "text/html")
    return message
