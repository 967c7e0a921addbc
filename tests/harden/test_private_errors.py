"""Internals and personal data stay out of what users and logs see."""

import logging

import pytest
from aiosmtpd.controller import Controller

from nurturing import services as nurturing
from nurturing.models import MessageStatus
from scoring import services as scoring
from scoring import tasks
from scoring.models import RescoreJob, RescoreStatus
from tests.factories import LeadFactory
from tests.nurturing.test_transport import queue_one, smtp_settings
from tests.support import free_port

pytestmark = pytest.mark.django_db

SECRET_TEXT = "password=hunter2 at /srv/leadcrm/scoring/engine.py"


# --- a failed re-score ----------------------------------------------------------------------------


def test_a_failed_rescore_shows_users_an_error_id_not_the_exception(
    monkeypatch, caplog, rep_client, marketer
):
    job = scoring.rescore_start(actor=marketer, reason="test")

    def broken(**kwargs):
        raise RuntimeError(SECRET_TEXT)

    monkeypatch.setattr(scoring, "rescore_step", broken)
    with caplog.at_level(logging.ERROR, logger="scoring.tasks"), pytest.raises(RuntimeError):
        tasks.rescore_step(job.pk, 0)

    job.refresh_from_db()
    assert job.status == RescoreStatus.FAILED
    [record] = [r for r in caplog.records if r.name == "scoring.tasks"]
    error_id = record.error_id
    assert job.error == (
        f"The re-score stopped on an internal error (error id {error_id}); "
        "an administrator finds the details in the server log under that id."
    )
    assert SECRET_TEXT not in job.error
    # The log has it all, under the same id.
    assert record.getMessage() == f"Re-score {job.pk} failed (error id {error_id})"
    assert record.exc_info[1].args == (SECRET_TEXT,)
    shown = rep_client.get(f"/api/v1/scoring/rescores/{job.pk}/").json()
    assert shown["error"] == job.error
    assert len(error_id) == 12


def test_error_ids_differ_between_failures(monkeypatch, marketer):
    monkeypatch.setattr(scoring, "rescore_step", lambda **kw: 1 / 0)
    errors = []
    for _ in range(2):
        job = scoring.rescore_start(actor=marketer, reason="test")
        with pytest.raises(ZeroDivisionError):
            tasks.rescore_step(job.pk, 0)
        errors.append(RescoreJob.objects.get(pk=job.pk).error)

    assert errors[0] != errors[1]


# --- SMTP errors naming the recipient ------------------------------------------------------------


class Rejecting:
    def __init__(self, code: str):
        self.code = code

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return f"{self.code} <{address}>: Recipient address rejected: user unknown"


def _send_through(settings, handler, email: str):
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    smtp_settings(settings, port)
    settings.NURTURE_SEND_RATE_PER_MINUTE = 0
    message = queue_one(LeadFactory(email=email))
    try:
        nurturing.messages_send(message_ids=[message.pk])
    finally:
        controller.stop()
    message.refresh_from_db()
    return message


def test_a_permanent_refusal_keeps_the_address_out_of_the_row_and_the_log(settings, caplog):
    with caplog.at_level(logging.DEBUG, logger="nurturing"):
        message = _send_through(settings, Rejecting("550 5.1.1"), "secret.person@example.com")

    assert message.status == MessageStatus.BOUNCED
    assert message.detail == ("550 5.1.1 <[address]>: Recipient address rejected: user unknown")
    assert "secret.person" not in caplog.text
    assert "nurture email" in caplog.text or caplog.records == []


def test_a_temporary_refusal_keeps_the_address_out_of_the_row_and_the_log(settings, caplog):
    with caplog.at_level(logging.DEBUG, logger="nurturing"):
        message = _send_through(settings, Rejecting("451 4.7.1"), "other.person@example.com")

    assert message.status == MessageStatus.QUEUED
    assert message.detail == ("451 4.7.1 <[address]>: Recipient address rejected: user unknown")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("nurturing")] == [
        f"nurture email {message.pk}: transient failure, will retry: "
        "451 4.7.1 <[address]>: Recipient address rejected: user unknown"
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("550 <a.b+c@x.example.org> no", "550 <[address]> no"),
        ("{'Zoë@例え.jp': (550, b'no')}", "{'[address]': (550, b'no')}"),
        ("nothing personal here", "nothing personal here"),
        ("two: a@b.c, d@e.f", "two: [address], [address]"),
    ],
)
def test_redact_addresses(text, expected):
    from core.redact import redact_addresses

    assert redact_addresses(text) == expected
