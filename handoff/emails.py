"""Transactional emails of the hand-off: a rep is told about a lead assigned to them.

Not a nurture email: no tracking, no unsubscribe. Plain text and HTML from the templates in
templates/handoff/emails/ (Django's autoescaping keeps the lead's fields inert in the HTML).
"""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from handoff.clock import BusinessHours
from handoff.models import Assignment


def lead_url(lead_id: int) -> str:
    return settings.SITE_URL + reverse("leads:detail", args=[lead_id])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _who(lead) -> str:
    name = _one_line(lead.full_name) or lead.email
    company = _one_line(lead.company_name)
    return f"{name} ({company})" if company else name


def _deadline_text(assignment: Assignment, hours: BusinessHours | None) -> str:
    zone = hours.zone if hours is not None else ZoneInfo(settings.TIME_ZONE)
    local = assignment.accept_due_at.astimezone(zone)
    return local.strftime("%a %d %b %Y, %H:%M ") + (local.tzname() or zone.key)


def assignment_email(
    assignment: Assignment, *, hours: BusinessHours | None
) -> EmailMultiAlternatives:
    """The email telling `assignment.rep` about their new lead: who, a link to the lead, and
    the accept deadline in the business hours' time zone (the server's without hours)."""
    lead, rep = assignment.lead, assignment.rep
    context = {
        "rep_name": rep.first_name or rep.get_username(),
        "who": _who(lead),
        "lead": lead,
        "url": lead_url(lead.pk),
        "accept_by": _deadline_text(assignment, hours),
    }
    subject = _one_line(f"New {lead.stage} lead for you: {context['who']}")
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("handoff/emails/assigned.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[rep.email],
    )
    message.attach_alternative(
        render_to_string("handoff/emails/assigned.html", context), "text/html"
    )
    return message
