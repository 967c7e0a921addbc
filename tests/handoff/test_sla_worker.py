"""The SLA job end to end: the beat's task on a real Celery worker (Redis), escalation emails
to a real SMTP server (aiosmtpd), PostgreSQL. This process plays the beat: it publishes the
periodic task by name, as celery beat does, twice (two beats at once)."""

import os
import time
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from core.publish import publish
from handoff.models import Assignment, AssignmentStatus, SlaNotice
from handoff.sla_emails import when
from leads.models import Lead
from tests.factories import AssignmentFactory, UserFactory
from tests.support import Worker, database_url, redis_queue_remove, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
HOUR = timedelta(hours=1)


@pytest.fixture
def sla_worker(queue, redis_url, settings, smtp_server):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.handoff.worker_settings",
        "LEADCRM_TEST_QUEUE": queue,
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "SECRET_KEY": settings.SECRET_KEY,
        "SITE_URL": "http://testserver",
        "ALLOWED_HOSTS": "testserver",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
        "EMAIL_TIMEOUT": "2",
    }
    worker = Worker(queue=queue, env=env).start()
    yield worker
    worker.stop()
    worker.remove_log()
    redis_queue_remove(redis_url, queue)


def test_two_beats_on_a_real_worker_escalate_each_breach_once_by_email(sla_worker, smtp_server):
    UserFactory(username="mona", role=Role.MANAGER)
    rep = UserFactory(username="ravi", role=Role.REP, first_name="Ravi")
    now = timezone.now()

    def make(name, **fields):
        return AssignmentFactory(rep=rep, lead__first_name=name, lead__company_name="", **fields)

    late = make(
        "Late", assigned_at=now - 2 * HOUR, accept_due_at=now - HOUR, reassign_due_at=now + HOUR
    )
    gone = make(
        "Gone", assigned_at=now - 4 * HOUR, accept_due_at=now - 3 * HOUR, reassign_due_at=now - HOUR
    )
    untouched = make(
        "Untouched",
        assigned_at=now - 6 * HOUR,
        accept_due_at=now - 5 * HOUR,
        reassign_due_at=now - 3 * HOUR,
        status=AssignmentStatus.ACCEPTED,
        decided_at=now - 5 * HOUR,
        first_touch_due_at=now - HOUR,
        lead__stage="SAL",
    )
    on_time = make(
        "OnTime", assigned_at=now, accept_due_at=now + HOUR, reassign_due_at=now + 3 * HOUR
    )
    subjects = {
        f"SLA missed: accept Late Lead by {when(late.accept_due_at, UTC)}",
        f"SLA missed: accept Gone Lead by {when(gone.accept_due_at, UTC)}",
        f"Lead taken back: Gone Lead (not accepted by {when(gone.accept_due_at, UTC)})",
        f"SLA missed: first touch Untouched Lead by {when(untouched.first_touch_due_at, UTC)}",
    }
    expected = {(rcpt, s) for s in subjects for rcpt in ("ravi@example.com", "mona@example.com")}

    publish("handoff.sla_check")
    publish("handoff.sla_check")

    delivered = wait_for(lambda: set(sla_counts(smtp_server)) >= expected, timeout=60)
    assert delivered, (smtp_server.sink.counts(), expected, sla_worker.output()[-2000:])
    # A redelivered email task, later: nothing goes out twice.
    publish("handoff.sla_notify", list(SlaNotice.objects.values_list("id", flat=True)))
    publish("handoff.sla_check")
    time.sleep(3)

    counts = sla_counts(smtp_server)
    assert set(counts) == expected
    assert set(counts.values()) == {1}
    assert SlaNotice.objects.filter(sent_at__isnull=True).count() == 0
    assert SlaNotice.objects.count() == 4
    statuses = dict(Assignment.objects.values_list("pk", "status"))
    assert statuses == {
        late.pk: "pending",
        gone.pk: "reassigned",
        untouched.pk: "accepted",
        on_time.pk: "pending",
    }
    assert Lead.objects.get(pk=gone.lead_id).owner_id is None
    assert Lead.objects.get(pk=late.lead_id).owner_id == rep.pk


def sla_counts(smtp_server):
    """Deliveries of SLA emails per (recipient, subject); routing's own emails left out."""
    return {
        key: n
        for key, n in smtp_server.sink.counts().items()
        if key[1].startswith(("SLA missed:", "Lead taken back:"))
    }
