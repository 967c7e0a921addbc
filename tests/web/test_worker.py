"""End to end with a real Celery worker subprocess on Redis, a real SMTP server (aiosmtpd) and
PostgreSQL: a visitor sends a form; with double opt-in the only email is the confirmation link
until it is clicked, then the offer and the nurture emails go out, each once."""

import os
import re
import time
from urllib.parse import urlsplit

import pytest
from django.test import Client

from leads.models import ConsentState, Lead
from nurturing import services as nurture_services
from playbook.nurturing import playbook_load
from tests.nurturing.conftest import make_sequence
from tests.support import Worker, database_url, wait_for
from tests.web.conftest import make_form, post_data
from web.models import Submission, SubmissionStatus

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(settings, queue, redis_url, smtp_server, tmp_path):
    """A worker on this test's queue; everything this process and the worker publish goes
    there (the forms' emails, nurturing's tasks)."""
    settings.NURTURE_QUEUE = queue
    settings.NURTURE_SEND_RATE_PER_MINUTE = 0
    settings.SITE_URL = "http://testserver"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
        "SITE_URL": "http://testserver",
        "ALLOWED_HOSTS": "testserver",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
        "EMAIL_TIMEOUT": "2",
        "NURTURE_QUEUE": queue,
        "NURTURE_SEND_RATE_PER_MINUTE": "0",
        "CELERY_VISIBILITY_TIMEOUT": "10",
        "LEADCRM_VAR_DIR": str(tmp_path / "var"),
    }
    started = Worker(queue=queue, env=env, publishes_to_queue=True).start()
    yield started
    started.stop()
    started.remove_log()


def beat() -> None:
    """What nurturing's every-minute job does (this process plays the beat)."""
    nurture_services.in_flight_recover()
    nurture_services.due_dispatch()


def subjects(sink) -> list[str]:
    return sorted(str(r.message["Subject"]) for r in sink.snapshot())


def text_of(received) -> str:
    return received.message.get_body(("plain",)).get_content()


def test_double_opt_in_end_to_end(worker, smtp_server, marketer):
    playbook_load()  # the welcome series for new IQLs: its first email is due at once
    sequence = make_sequence(key="ebook-followup")
    form = make_form(marketer, slug="ebook-doi", double_opt_in=True, sequence=sequence)

    sent = Client().post("/f/ebook-doi/", post_data(form), HTTP_ACCEPT="application/json")
    assert sent.status_code == 200, sent.content

    # The first and only email: the confirmation link.
    assert wait_for(smtp_server.sink.snapshot, timeout=45), worker.output()[-3000:]
    [link_email] = smtp_server.sink.snapshot()
    assert link_email.rcpt == "ada@example.com"
    assert str(link_email.message["Subject"]) == "Please confirm your email: the lead-scoring ebook"
    link = re.search(r"http://testserver(/f/confirm/[^/\s]+/)", text_of(link_email)).group(1)
    # The welcome series enrolled the new lead, but nothing else goes to the address before
    # the click, however often nurturing's job runs.
    for _ in range(3):
        beat()
        time.sleep(1)
    assert subjects(smtp_server.sink) == ["Please confirm your email: the lead-scoring ebook"]
    lead = Lead.objects.get()
    assert lead.consent == ConsentState.UNKNOWN

    client = Client()
    assert "Confirm my email" in client.get(link).content.decode()
    assert client.post(link).status_code == 200

    # Then the offer, the form's sequence and the welcome series, each once.
    expected = [
        "Here is the lead-scoring ebook",
        "Please confirm your email: the lead-scoring ebook",
        "Welcome, Ada: here is your download",
        "ebook-followup step 1 for Ada",
    ]
    assert wait_for(
        lambda: subjects(smtp_server.sink) == expected, timeout=45, on_tick=beat, interval=1
    ), (subjects(smtp_server.sink), worker.output()[-3000:])
    time.sleep(2)  # a duplicate, were there one, would arrive now
    beat()
    assert set(smtp_server.sink.counts().values()) == {1}
    assert {r.rcpt for r in smtp_server.sink.snapshot()} == {"ada@example.com"}
    offer = next(r for r in smtp_server.sink.snapshot() if "Here is" in str(r.message["Subject"]))
    assert "https://example.com/ebook.pdf" in text_of(offer)
    submission = Submission.objects.get()
    assert submission.status == SubmissionStatus.CONFIRMED
    assert submission.confirmation_sent_at < submission.confirmed_at < submission.offer_sent_at
    assert Lead.objects.get().consent == ConsentState.GIVEN
    assert urlsplit(link).path.startswith("/f/confirm/")


def test_without_double_opt_in_the_offer_is_the_first_email(worker, smtp_server, marketer):
    form = make_form(marketer)

    Client().post("/f/ebook/", post_data(form), HTTP_ACCEPT="application/json")

    assert wait_for(smtp_server.sink.snapshot, timeout=45), worker.output()[-3000:]
    [first] = smtp_server.sink.snapshot()
    assert str(first.message["Subject"]) == "Here is the lead-scoring ebook"
    assert first.rcpt == "ada@example.com"
    assert Submission.objects.get().offer_sent_at is not None
