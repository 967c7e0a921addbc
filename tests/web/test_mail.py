"""The email a submission is due, sent once (web.services.submission_mail_send), and the
periodic catch-up (web.tasks.followup_catch_up)."""

import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tests.nurturing.conftest import make_sequence
from tests.web.conftest import make_form, submit
from web import emails, services, tasks
from web.models import Submission, SubmissionStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "https://crm.example.com"


def test_without_double_opt_in_the_first_email_is_the_offer(form):
    submission = submit(form)

    assert services.submission_mail_send(submission_id=submission.pk) == "offer_sent_at"

    [message] = mail.outbox
    assert (message.to, message.subject) == (["ada@example.com"], "Here is the lead-scoring ebook")
    assert "https://example.com/ebook.pdf" in message.body
    assert "Hi Ada," in message.body
    html, kind = message.alternatives[0]
    assert kind == "text/html"
    assert '<a href="https://example.com/ebook.pdf">the lead-scoring ebook</a>' in html
    submission.refresh_from_db()
    assert submission.offer_sent_at is not None
    assert submission.confirmation_sent_at is None


def test_with_double_opt_in_the_first_email_is_the_confirmation_link(doi_form):
    submission = submit(doi_form)

    assert services.submission_mail_send(submission_id=submission.pk) == "confirmation_sent_at"

    [message] = mail.outbox
    assert message.subject == "Please confirm your email: the lead-scoring ebook"
    link = next(line for line in message.body.splitlines() if "/f/confirm/" in line)
    assert link.startswith("https://crm.example.com/f/confirm/")
    token = link.removeprefix("https://crm.example.com/f/confirm/").rstrip("/")
    assert emails.confirm_read(token) == submission.pk
    assert "example.com/ebook.pdf" not in message.body  # the offer waits for the click
    assert "The link works for 7 days." in message.body


def test_an_email_goes_out_once_however_often_the_task_runs(doi_form, client):
    submission = submit(doi_form)

    sent = [services.submission_mail_send(submission_id=submission.pk) for _ in range(3)]
    client.post(f"/f/confirm/{emails.confirm_token(submission.pk)}/")
    sent += [services.submission_mail_send(submission_id=submission.pk) for _ in range(3)]

    assert sent == ["confirmation_sent_at", None, None, "offer_sent_at", None, None]
    assert [m.subject for m in mail.outbox] == [
        "Please confirm your email: the lead-scoring ebook",
        "Here is the lead-scoring ebook",
    ]


def test_nothing_but_the_link_goes_to_an_address_before_it_is_confirmed(doi_form):
    submission = submit(doi_form)
    services.submission_mail_send(submission_id=submission.pk)
    # the task again, the catch-up, a second submission's own link: never the offer
    services.submission_mail_send(submission_id=submission.pk)
    tasks.followup_catch_up()

    assert [m.subject for m in mail.outbox] == ["Please confirm your email: the lead-scoring ebook"]


def test_a_form_without_an_offer_mails_nothing_once_confirmed(marketer):
    form = make_form(marketer, offer_url="", offer_title="")

    submission = submit(form)

    assert services.submission_mail_send(submission_id=submission.pk) is None
    assert mail.outbox == []


def test_a_failed_send_hands_the_claim_back_for_the_retry(form, monkeypatch):
    submission = submit(form)

    def down(self, *args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr(mail.EmailMessage, "send", down)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        services.submission_mail_send(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.offer_sent_at is None

    monkeypatch.undo()
    assert services.submission_mail_send(submission_id=submission.pk) == "offer_sent_at"
    assert len(mail.outbox) == 1


def test_an_address_the_server_refuses_is_not_tried_again(form, monkeypatch):
    submission = submit(form)

    def refused(self, *args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"ada@example.com": (550, b"no such user")})

    monkeypatch.setattr(mail.EmailMessage, "send", refused)

    assert services.submission_mail_send(submission_id=submission.pk) is None
    submission.refresh_from_db()
    assert submission.offer_sent_at is not None  # claimed for good: the catch-up leaves it


def test_the_catch_up_queues_follow_ups_never_claimed(marketer, form, doi_form, published):
    now = timezone.now()
    old = now - timedelta(minutes=1)
    sequence_form = make_form(
        marketer, slug="seq", offer_url="", sequence=make_sequence(key="followup")
    )
    sequence_due = submit(sequence_form, email="s@example.com")
    started = submit(sequence_form, email="t@example.com")
    Submission.objects.filter(pk__in=[sequence_due.pk, started.pk]).update(confirmed_at=old)
    Submission.objects.filter(pk=started.pk).update(sequence_started_at=old)
    offer_due = submit(form, email="a@example.com")
    link_due = submit(doi_form, email="b@example.com")
    too_recent = submit(form, email="c@example.com")
    sent = submit(form, email="d@example.com")
    link_too_old = submit(doi_form, email="e@example.com")
    Submission.objects.filter(pk__in=[offer_due.pk, sent.pk]).update(confirmed_at=old)
    Submission.objects.filter(pk=link_due.pk).update(submitted_at=old)
    Submission.objects.filter(pk=sent.pk).update(offer_sent_at=old)
    Submission.objects.filter(pk=link_too_old.pk).update(
        submitted_at=now - timedelta(days=7, seconds=1)
    )

    due = services.submissions_followup_due(now=now)

    assert due == [sequence_due.pk, offer_due.pk, link_due.pk]
    assert too_recent.pk not in due
    result = tasks.followup_catch_up()
    assert result == {"expired": 0, "queued": 3}
    assert [(name, args) for name, args in published] == [
        (services.SUBMISSION_FOLLOWUP, (sequence_due.pk,)),
        (services.SUBMISSION_FOLLOWUP, (offer_due.pk,)),
        (services.SUBMISSION_FOLLOWUP, (link_due.pk,)),
    ]


def test_unconfirmed_submissions_expire_a_minute_after_their_link(doi_form):
    now = timezone.now()
    link_life = timedelta(days=7, minutes=1)
    expired = submit(doi_form, email="a@example.com")
    still_valid = submit(doi_form, email="b@example.com")
    Submission.objects.filter(pk=expired.pk).update(
        confirmation_sent_at=now - link_life - timedelta(microseconds=1)
    )
    Submission.objects.filter(pk=still_valid.pk).update(confirmation_sent_at=now - link_life)

    assert services.submissions_expire(now=now) == 1

    statuses = dict(Submission.objects.values_list("email", "status"))
    assert statuses == {
        "a@example.com": SubmissionStatus.EXPIRED,
        "b@example.com": SubmissionStatus.PENDING,
    }
