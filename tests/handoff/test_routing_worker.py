"""End to end with a real Celery worker (and beat) subprocess on Redis, aiosmtpd and
PostgreSQL: a lead that becomes MQL is routed by the stage-entered hook's task and its rep is
emailed; the periodic route_pool routes the pool when a rep's away ends by itself."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from handoff.models import Assignment, RoutingRule
from leads import services as lead_services
from leads.models import Stage
from tests.factories import LeadFactory, UserFactory
from tests.support import Beat, Worker, database_url, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(settings, queue, redis_url, smtp_server, tmp_path):
    """A worker on this test's queue; everything this process and the worker publish goes
    there (nurturing's stage-entered task as well)."""
    settings.NURTURE_QUEUE = queue
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
        "CELERY_VISIBILITY_TIMEOUT": "10",
        "LEADCRM_VAR_DIR": str(tmp_path / "var"),
    }
    started = Worker(queue=queue, env=env, publishes_to_queue=True).start()
    yield started
    started.stop()
    started.remove_log()


def test_lead_promoted_to_mql_is_routed_and_the_rep_emailed(worker, smtp_server):
    rep = UserFactory(username="ann", email="ann@example.com", role=Role.REP, capacity=5)
    # Written directly (no route_pool published): only the hook's task can route the lead.
    rule = RoutingRule.objects.create(position=1, name="everyone", is_default=True)
    rule.reps.set([rep])
    lead = LeadFactory(
        stage=Stage.IQL, first_name="Ada", last_name="Lovelace", company_name="Engines"
    )

    lead_services.lead_promote(lead_id=lead.pk, to=Stage.MQL, rule="mql threshold")

    assert wait_for(smtp_server.sink.snapshot, timeout=45), worker.output()[-3000:]
    [got] = smtp_server.sink.snapshot()
    assert got.rcpt == "ann@example.com"
    assert str(got.message["Subject"]) == "New MQL lead for you: Ada Lovelace (Engines)"
    assert f"http://testserver/leads/{lead.pk}/" in got.message.get_body(("plain",)).get_content()
    lead.refresh_from_db()
    assert (lead.stage, lead.owner_id) == (Stage.MQL, rep.pk)
    assignment = Assignment.objects.get(lead=lead)
    assert (assignment.rule_id, assignment.notified_at is not None) == (rule.pk, True)


def test_the_beat_routes_the_pool_when_a_reps_away_ends_by_itself(
    worker, smtp_server, queue, tmp_path
):
    # The rep's away ended a moment ago: nothing published anything, only the periodic
    # route_pool (leadcrm/schedule.py, here every 2 s instead of 60) can route the lead.
    rep = UserFactory(
        username="ann",
        email="ann@example.com",
        role=Role.REP,
        is_away=True,
        away_until=timezone.now() - timedelta(seconds=1),
    )
    rule = RoutingRule.objects.create(position=1, name="everyone", is_default=True)
    rule.reps.set([rep])
    lead = LeadFactory(stage=Stage.MQL, first_name="Ada", last_name="Lovelace")

    beat = Beat(
        queue=queue,
        env=worker.env,
        every={"handoff-route-pool": 2.0},
        state=tmp_path / "beat-schedule",
    ).start()
    try:
        routed = wait_for(smtp_server.sink.snapshot, timeout=45)
    finally:
        beat.stop()
    assert routed, beat.output()[-2000:] + worker.output()[-2000:]
    beat.remove_log()
    lead.refresh_from_db()
    assert lead.owner_id == rep.pk
    assert [r.rcpt for r in smtp_server.sink.snapshot()] == ["ann@example.com"]
