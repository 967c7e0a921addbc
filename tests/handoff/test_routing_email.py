"""The assignment email, delivered to a real SMTP server (aiosmtpd): content, once, and a
failed send given back for the retry."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from accounts.models import Role
from core import publish
from handoff.models import Assignment, AssignmentStatus, HandoffSettings
from handoff.services import routing
from handoff.tasks import notify_assigned
from leads.models import Stage
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def assignment(settings):
    settings.SITE_URL = "https://crm.example.com"
    rep = UserFactory(username="ann", first_name="Ann", email="ann@example.com", role=Role.REP)
    lead = LeadFactory(
        stage=Stage.PQL,
        first_name="Ada",
        last_name="<b>Lovelace</b>",
        company_name="Analytical Engines",
        title="CTO",
        score=72,
    )
    return routing.assignment_open(lead=lead, rep=rep, now=datetime(2026, 3, 4, 9, 15, tzinfo=UTC))


def test_rep_gets_a_plain_and_html_email_with_the_link_and_deadline(smtp_mailer, assignment):
    assert routing.assignment_notify(assignment_id=assignment.pk) is True

    [got] = smtp_mailer.sink.snapshot()
    lead = assignment.lead
    assert got.rcpt == "ann@example.com"
    assert str(got.message["Subject"]) == (
        "New PQL lead for you: Ada <b>Lovelace</b> (Analytical Engines)"
    )
    text = got.message.get_body(("plain",)).get_content()
    html = got.message.get_body(("html",)).get_content()
    url = f"https://crm.example.com/leads/{lead.pk}/"
    assert url in text and f'href="{url}"' in html
    # Default settings: 60 minutes around the clock, shown in the server's zone (UTC).
    assert "Accept or reject it by Wed 04 Mar 2026, 10:15 UTC" in text
    assert "Hello Ann," in text and "score 72" in text
    assert "&lt;b&gt;Lovelace&lt;/b&gt;" in html and "<b>Lovelace</b>" not in html


def test_deadline_is_shown_in_the_business_hours_zone(smtp_mailer, settings):
    HandoffSettings.objects.update_or_create(
        pk=1,
        defaults={
            "business_hours": {
                "time_zone": "Europe/Berlin",
                "days": [0, 1, 2, 3, 4],
                "start": "09:00",
                "end": "17:00",
                "holidays": None,
            }
        },
    )
    rep = UserFactory(username="ann", email="ann@example.com", role=Role.REP)
    lead = LeadFactory(stage=Stage.MQL)
    # Wednesday 09:15 UTC is 10:15 in Berlin: the hour runs to 11:15 Berlin time.
    assignment = routing.assignment_open(
        lead=lead, rep=rep, now=datetime(2026, 3, 4, 9, 15, tzinfo=UTC)
    )
    routing.assignment_notify(assignment_id=assignment.pk)
    [got] = smtp_mailer.sink.snapshot()
    assert "by Wed 04 Mar 2026, 11:15 CET" in got.message.get_body(("plain",)).get_content()


def test_the_email_goes_out_once(smtp_mailer, assignment):
    assert routing.assignment_notify(assignment_id=assignment.pk) is True
    assert routing.assignment_notify(assignment_id=assignment.pk) is False
    assert len(smtp_mailer.sink.snapshot()) == 1
    assignment.refresh_from_db()
    assert assignment.notified_at is not None


def test_no_email_for_an_assignment_already_decided(smtp_mailer, assignment):
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.REASSIGNED)
    assert routing.assignment_notify(assignment_id=assignment.pk) is False
    assert smtp_mailer.sink.snapshot() == []


def test_a_failed_send_gives_the_claim_back_for_the_retry(smtp_mailer, assignment):
    smtp_mailer.stop()  # the server is down: connection refused
    with pytest.raises(OSError):
        routing.assignment_notify(assignment_id=assignment.pk)
    assignment.refresh_from_db()
    assert assignment.notified_at is None

    smtp_mailer.start()
    assert routing.assignment_notify(assignment_id=assignment.pk) is True
    assert len(smtp_mailer.sink.snapshot()) == 1


def test_lost_email_tasks_are_queued_again_by_pool_route(monkeypatch, assignment):
    sent = []
    monkeypatch.setattr(publish, "publish", lambda name, *a, **kw: sent.append((name, a)))
    Assignment.objects.filter(pk=assignment.pk).update(
        assigned_at=timezone.now() - routing.NOTIFY_GRACE * 2
    )
    routing.pool_route()
    assert sent == [("handoff.notify_assigned", ([assignment.pk],))]


def test_a_batch_goes_over_one_connection_each_email_once(smtp_mailer):
    reps = [
        UserFactory(username=f"r{n}", email=f"r{n}@example.com", role=Role.REP) for n in range(3)
    ]
    ids = [routing.assignment_open(lead=LeadFactory(stage=Stage.MQL), rep=rep).pk for rep in reps]

    assert routing.assignments_notify(assignment_ids=ids) == 3
    assert routing.assignments_notify(assignment_ids=ids) == 0  # the task ran twice

    assert sorted(r.rcpt for r in smtp_mailer.sink.snapshot()) == [
        "r0@example.com",
        "r1@example.com",
        "r2@example.com",
    ]


def test_the_task_takes_one_id_or_a_list(smtp_mailer, assignment):
    assert notify_assigned(assignment.pk) == 1
    assert notify_assigned([assignment.pk]) == 0
