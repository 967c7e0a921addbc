"""The SLA escalation emails: what they say, who gets them, and that each goes out once."""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection

from accounts.models import Role
from handoff import sla_emails, tasks
from handoff.models import HandoffSettings, SlaNotice
from handoff.services import sla
from tests.factories import AssignmentFactory, UserFactory
from tests.support import free_port

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 in Berlin
BERLIN = {"time_zone": "Europe/Berlin", "days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "http://crm.example"
    settings.DEFAULT_FROM_EMAIL = "leadcrm <noreply@crm.example>"


def notice(kind="accept", **fields) -> SlaNotice:
    defaults = {
        "rep__username": "ravi",
        "rep__first_name": "Ravi",
        "rep__last_name": "Rao",
        "lead__first_name": "Jane",
        "lead__last_name": "Doe",
        "lead__company_name": "Acme",
        "assigned_at": T0,
        "accept_due_at": T0 + timedelta(hours=1),
        "reassign_due_at": T0 + timedelta(hours=3),
    }
    row = AssignmentFactory(**{**defaults, **fields})
    return SlaNotice.objects.create(assignment=row, kind=kind, created_at=T0, queued_at=T0)


def managers(*names: str) -> list:
    return [UserFactory(username=name, role=Role.MANAGER) for name in names]


# --- What they say -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_accept_email_names_the_lead_the_deadline_in_business_time_and_links_the_lead():
    HandoffSettings.objects.create(pk=1, business_hours=BERLIN)
    managers("mona", "max")
    item = notice()

    message = sla_emails.notice_email(item, sla_emails.escalation_context())

    assert message.subject == "SLA missed: accept Jane Doe (Acme) by Mon 02 Mar 2026 11:00 CET"
    assert message.to == ["ravi@example.com"]
    assert message.cc == ["max@example.com", "mona@example.com"]
    assert message.from_email == "leadcrm <noreply@crm.example>"
    url = f"http://crm.example/leads/{item.assignment.lead_id}/"
    assert message.body == (
        "Ravi Rao did not accept or reject Jane Doe (Acme) by Mon 02 Mar 2026 11:00 CET "
        "(assigned Mon 02 Mar 2026 10:00 CET). Unless it is accepted or rejected first, the lead "
        "goes back to routing at Mon 02 Mar 2026 13:00 CET.\n\n"
        f"Open the lead: {url}\n"
    )
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert f'<a href="{url}">Open the lead</a>' in html
    assert "Ravi Rao did not accept or reject Jane Doe (Acme) by Mon 02 Mar 2026 11:00 CET" in html


@pytest.mark.django_db
def test_first_touch_and_take_back_emails():
    touch = notice(
        "touch",
        decided_at=T0 + timedelta(minutes=20),
        first_touch_due_at=T0 + timedelta(hours=4),
        lead__email="jane@acme.example",
        lead__first_name="",
        lead__last_name="",
        lead__company_name="",
    )
    taken = notice("reassigned", ended_at=T0 + timedelta(hours=3))
    context = sla_emails.escalation_context()  # around the clock: the server's zone, UTC

    touch_email = sla_emails.notice_email(touch, context)
    taken_email = sla_emails.notice_email(taken, context)

    assert (
        touch_email.subject
        == "SLA missed: first touch jane@acme.example by Mon 02 Mar 2026 13:00 UTC"
    )
    assert touch_email.body.startswith(
        "Ravi Rao accepted jane@acme.example on Mon 02 Mar 2026 09:20 UTC but logged no call, "
        "email or meeting by Mon 02 Mar 2026 13:00 UTC.\n\n"
    )
    assert (
        taken_email.subject
        == "Lead taken back: Jane Doe (Acme) (not accepted by Mon 02 Mar 2026 10:00 UTC)"
    )
    assert taken_email.body.startswith(
        "Ravi Rao did not accept or reject Jane Doe (Acme) by Mon 02 Mar 2026 10:00 UTC. It was "
        "taken back on Mon 02 Mar 2026 12:00 UTC and goes back to routing "
        "(never to Ravi Rao again)."
    )


def test_html_escapes_what_people_typed():
    from handoff.models import Assignment
    from leads.models import Lead

    lead = Lead(id=7, first_name="<b>Eve</b>", last_name="", company_name="A&B")
    row = Assignment(lead=lead, rep=UserFactory.build(username="r", first_name="R"))
    row.assigned_at = row.accept_due_at = row.reassign_due_at = T0
    item = SlaNotice(assignment=row, kind="accept")

    message = sla_emails.notice_email(item, sla_emails.EscalationContext(cc=(), zone=UTC))

    [(html, _)] = message.alternatives
    assert "&lt;b&gt;Eve&lt;/b&gt; (A&amp;B)" in html
    assert "<b>Eve</b> (A&B)" in message.subject


# --- Who gets them -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_copies_go_to_active_managers_only_not_to_admins_when_there_are_managers(admin_user):
    managers("mona")
    UserFactory(username="gone", role=Role.MANAGER, is_active=False)
    UserFactory(username="silent", role=Role.MANAGER, email="")
    UserFactory(username="mia", role=Role.MARKETER)

    assert sla_emails.escalation_copies() == ["mona@example.com"]


@pytest.mark.django_db
def test_copies_go_to_the_admins_when_there_is_no_manager(admin_user):
    UserFactory(username="root", role=Role.MARKETER, is_superuser=True)
    UserFactory(username="gone", role=Role.ADMIN, is_active=False)

    assert sla_emails.escalation_copies() == ["admin@example.com", "root@example.com"]


@pytest.mark.django_db
def test_an_inactive_rep_gets_no_email_but_the_managers_do():
    managers("mona")
    item = notice(rep__is_active=False)

    message = sla_emails.notice_email(item, sla_emails.escalation_context())

    assert (message.to, message.cc) == ([], ["mona@example.com"])


# --- Sending once -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_notice_is_sent_once_however_often_its_task_runs():
    managers("mona")
    items = [notice(), notice("touch", first_touch_due_at=T0, decided_at=T0)]
    ids = [n.pk for n in items]

    first = tasks.sla_notify(ids)
    second = tasks.sla_notify(ids)

    assert (first, second) == (2, 0)
    assert [m.subject.split(" by ")[0] for m in mail.outbox] == [
        "SLA missed: accept Jane Doe (Acme)",
        "SLA missed: first touch Jane Doe (Acme)",
    ]
    assert all(n.sent_at for n in SlaNotice.objects.all())


@pytest.mark.django_db
def test_a_notice_nobody_can_receive_is_given_up_with_the_reason():
    item = notice(rep__email="")

    assert sla.sla_notices_send(notice_ids=[item.pk]) == 0

    item.refresh_from_db()
    assert item.sent_at is None
    assert item.error == "nobody to send to: the rep and the managers have no email address"
    assert mail.outbox == []


def smtp_to(settings, port: int) -> None:
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }


@pytest.mark.django_db
def test_over_smtp_a_server_outage_leaves_the_notice_for_later_then_it_goes_out(
    settings, smtp_server
):
    managers("mona")
    # 73 characters: Python would fold this subject right after "Subject:".
    item = notice(lead__first_name="Janet", lead__last_name="Doe-Smithson")
    smtp_to(settings, free_port())  # nothing listens there

    assert sla.sla_notices_send(notice_ids=[item.pk]) == 0
    item.refresh_from_db()
    assert (item.sent_at, item.error) == (None, "")

    smtp_to(settings, smtp_server.port)
    assert sla.sla_notices_send(notice_ids=[item.pk]) == 1

    got = smtp_server.sink.snapshot()
    assert sorted(r.rcpt for r in got) == ["mona@example.com", "ravi@example.com"]
    message = got[0].message
    assert str(message["Subject"]) == (
        "SLA missed: accept Janet Doe-Smithson (Acme) by Mon 02 Mar 2026 10:00 UTC"
    )
    assert str(message["Cc"]) == "mona@example.com"
    assert message.get_body(("plain",)).get_content().startswith("Ravi Rao did not accept")
    assert 'href="http://crm.example/leads/' in message.get_body(("html",)).get_content()


@pytest.mark.django_db
def test_over_smtp_a_refused_recipient_gives_the_notice_up(settings, smtp_server):
    item = notice()
    smtp_server.sink.refuse.add("ravi@example.com")
    smtp_to(settings, smtp_server.port)

    assert sla.sla_notices_send(notice_ids=[item.pk]) == 0

    item.refresh_from_db()
    assert item.sent_at is None
    assert item.error.startswith("refused: 550")
    assert sla.sla_notices_send(notice_ids=[item.pk]) == 0  # never tried again
    assert smtp_server.sink.snapshot() == []


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_the_same_task_at_once_send_each_email_once(settings, smtp_server):
    managers("mona")
    ids = [notice(lead__first_name=f"Lead{i}").pk for i in range(30)]
    smtp_to(settings, smtp_server.port)
    barrier = threading.Barrier(2)
    sent: list[int] = []

    def deliver():
        try:
            barrier.wait()
            sent.append(tasks.sla_notify(ids))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sum(sent) == 30
    counts = smtp_server.sink.counts()
    assert len(counts) == 60  # 30 emails, each to the rep and the manager
    assert set(counts.values()) == {1}
    assert Counter(r.rcpt for r in smtp_server.sink.snapshot()) == {
        "ravi@example.com": 30,
        "mona@example.com": 30,
    }
    assert SlaNotice.objects.filter(sent_at__isnull=True).count() == 0
