"""Celery tasks of the forms: thin, idempotent, acks_late.

A submission's follow-up (its form's sequence, its email) is claimed in the database first
(services.submission_sequence_start, services.submission_mail_send), so a task that runs twice
enrolls once and sends once.
"""

import smtplib

from celery import shared_task

from core import publish
from web import services


# Retried on transient mail errors (server down, 4xx, a timeout): the claim was handed back.
# The backoff stays below the broker's visibility timeout (120 s by default), so a waiting
# retry is never handed to a second worker; past the retries the periodic catch-up takes it.
@shared_task(
    name=services.SUBMISSION_FOLLOWUP,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=5,
    retry_backoff_max=50,
    max_retries=5,
)
def submission_followup(submission_id: int) -> dict:
    """Start the form's sequence (once confirmed) and send the email the submission is due
    (the confirmation link, or the content offer), each once."""
    return services.submission_followup(submission_id=submission_id)


@shared_task(name="web.followup_catch_up", acks_late=True, reject_on_worker_lost=True)
def followup_catch_up() -> dict:
    """Periodic: expire unconfirmed submissions whose link ran out, and queue again the
    follow-ups that were lost (a broker outage, retries run out)."""
    expired = services.submissions_expire()
    due = services.submissions_followup_due()
    for submission_id in due:
        publish.publish(services.SUBMISSION_FOLLOWUP, submission_id)
    return {"expired": expired, "queued": len(due)}
