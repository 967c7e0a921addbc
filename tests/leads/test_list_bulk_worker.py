"""The lead list's whole-filter bulk actions with a real Celery worker subprocess on Redis and
PostgreSQL: the page's POST queues the task after its commit, the worker walks the filter and
enrolls (or assigns) every matching lead, and nothing else."""

import os

import pytest
from django.test import Client

from accounts.models import Role
from handoff.models import Assignment
from leads.models import Stage
from nurturing.models import Enrollment
from tests.factories import LeadFactory, UserFactory
from tests.nurturing.conftest import make_sequence
from tests.support import Worker, database_url, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(settings, queue, redis_url, smtp_server, tmp_path):
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
        "LEADCRM_VAR_DIR": str(tmp_path / "var"),
    }
    started = Worker(queue=queue, env=env, publishes_to_queue=True).start()
    yield started
    started.stop()
    started.remove_log()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_enrolling_every_lead_of_a_filter_runs_in_the_worker(worker, marketer):
    sequence = make_sequence(key="spring", delays=[60])
    hits = [LeadFactory(utm_campaign="spring") for _ in range(3)]
    LeadFactory(utm_campaign="autumn")

    response = client_for(marketer).post(
        "/e/leads/bulk/enroll/",
        {"scope": "filter", "sequence": sequence.pk, "utm_campaign": "spring"},
    )

    assert response.status_code == 302
    assert wait_for(lambda: Enrollment.objects.count() == 3, timeout=45), worker.output()[-3000:]
    rows = Enrollment.objects.order_by("lead_id").values_list("lead_id", "trigger", "enrolled_by")
    assert list(rows) == [(lead.pk, "manual", marketer.pk) for lead in hits]


def test_assigning_every_lead_of_a_filter_runs_in_the_worker(worker, manager):
    rep = UserFactory(username="ann", email="ann@example.com", role=Role.REP, capacity=10)
    hits = [LeadFactory(stage=Stage.PQL) for _ in range(2)]
    LeadFactory(stage=Stage.MQL)

    client_for(manager).post(
        "/leads/bulk/assign/", {"scope": "filter", "assign_to": rep.pk, "stage": "PQL"}
    )

    assert wait_for(lambda: Assignment.objects.count() == 2, timeout=45), worker.output()[-3000:]
    assert sorted(Assignment.objects.values_list("lead_id", "rep", "assigned_by")) == [
        (lead.pk, rep.pk, manager.pk) for lead in hits
    ]
