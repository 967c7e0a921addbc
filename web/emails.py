"""The emails a submission gets: the double opt-in confirmation link, and the content offer.

The confirmation link carries the submission's id signed with a timestamp (TimestampSigner):
it works for FORMS_CONFIRM_MAX_AGE_DAYS after it was sent, to the second, and a tampered or
foreign token is refused.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from web.models import Submission

SALT_CONFIRM = "web.confirm"


class LinkInvalid(Exception):
    """Not a confirmation token of ours (cut short, tampered with)."""


class LinkExpired(Exception):
    """A genuine confirmation token, older than FORMS_CONFIRM_MAX_AGE_DAYS."""

    def __init__(self, submission_id: int | None):
        super().__init__(f"confirmation link of submission {submission_id} expired")
        self.submission_id = submission_id


def confirm_max_age() -> timedelta:
    return timedelta(days=settings.FORMS_CONFIRM_MAX_AGE_DAYS)


def confirm_token(submission_id: int) -> str:
    return signing.TimestampSigner(salt=SALT_CONFIRM).sign_object(submission_id)


def confirm_read(token: str) -> int:
    """The submission id of a confirmation token; LinkExpired or LinkInvalid."""
    signer = signing.TimestampSigner(salt=SALT_CONFIRM)
    try:
        value = signer.unsign_object(token, max_age=confirm_max_age())
    except signing.SignatureExpired:
        # Genuine, only too old: its id still says which form to send the visitor back to.
        raise LinkExpired(_submission_id(signer.unsign_object(token))) from None
    except (signing.BadSignature, ValueError):
        raise LinkInvalid() from None
    submission_id = _submission_id(value)
    if submission_id is None:
        raise LinkInvalid()
    return submission_id


def _submission_id(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def confirm_url(submission_id: int) -> str:
    path = reverse("web:confirm", args=[confirm_token(submission_id)])
    return f"{settings.SITE_URL}{path}"


def _context(submission: Submission) -> dict:
    form = submission.form
    first_name = str(submission.data.get("fields", {}).get("first_name", ""))
    return {
        "first_name": first_name or "there",
        "form": form,
        "offer": form.offer_title or form.title,
        "days": settings.FORMS_CONFIRM_MAX_AGE_DAYS,
    }


def _email(submission: Submission, subject: str, template: str, context: dict):
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"web/emails/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[submission.email],
    )
    message.attach_alternative(
        render_to_string(f"web/emails/{template}.html", context), "text/html"
    )
    return message


def confirmation_email(submission: Submission) -> EmailMultiAlternatives:
    context = {**_context(submission), "url": confirm_url(submission.pk)}
    return _email(submission, f"Please confirm your email: {context['offer']}", "confirm", context)


def offer_email(submission: Submission) -> EmailMultiAlternatives:
    context = _context(submission)
    return _email(submission, f"Here is {context['offer']}", "offer", context)
