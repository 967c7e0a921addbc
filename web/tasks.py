"""Celery tasks of the forms: thin, idempotent, acks_late.

The email a submission is due is claimed in the database before a word goes to SMTP
(services.submission_mail_send), so a task that runs twice sends once.
"""

import smtplib

from celery import shared_task

from core import publish
from web import services


# Retried on transient mail errors (server down, 4xx, a timeout): the claim was handed back.
# The backoff stays below the broker's visibility timeout (120 s by default), so a waiting
# retry is never handed to a second worker; past the retries the periodic catch-up takes it.
@shared_task(
    name=services.SUBMISSION_MAIL,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=5,
    retry_backoff_max=50,
    max_retries=5,
)
def submission_mail(submission_id: int) -> str | None:
    """Send the email this submission is due (confirmation link, or content offer), once."""
    return services.submission_mail_send(submission_id=submission_id)


@shared_task(name="web.mail_catch_up", acks_late=True, reject_on_worker_lost=True)
def mail_catch_up() -> dict:
    """Periodic: expire unconfirmed submissions whose link ran out, and queue again the emails
    whose task was lost (a broker outage, retries run out)."""
    expired = services.submissions_expire()
    due = services.submissions_mail_due()
    for submission_id in due:
        publish.publish(services.SUBMISSION_MAIL, submission_id)
    return {"expired": expired, "queued": len(due)}
