"""End to end with a real Celery worker subprocess on Redis and PostgreSQL: an upload through
the API becomes a job the worker runs to done, in several task steps, with the leads scored."""

import os

import pytest

from imports.models import ImportJob
from leads.models import Lead
from playbook.scoring import playbook_load
from tests.imports.conftest import csv_bytes
from tests.imports.test_apis import upload
from tests.support import Worker, database_url, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(settings, queue, redis_url, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
        "CELERY_VISIBILITY_TIMEOUT": "10",
        "LEADCRM_VAR_DIR": str(tmp_path / "var"),
        # Small batches and a one-second step: a slow run hands over to the next step.
        "IMPORT_BATCH_SIZE": "10",
        "IMPORT_STEP_SECONDS": "1",
        "SCORING_KEY_PREFIX": settings.SCORING_KEY_PREFIX,
    }
    started = Worker(queue=queue, env=env, concurrency=1, publishes_to_queue=True).start()
    yield started
    started.stop()
    started.remove_log()


def test_a_worker_runs_an_upload_to_done(worker, marketer_client):
    playbook_load()
    rows = [["Email", "Job title", "Employees"]]
    rows += [[f"vp{i}@acme.com", "VP Sales", "120"] for i in range(40)]
    rows += [["not-an-email", "x", "1"], ["VP0@ACME.COM", "Founder", ""]]

    response = upload(marketer_client, csv_bytes(rows))
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]

    def finished():
        return ImportJob.objects.get(pk=job_id).status in ("done", "failed")

    assert wait_for(finished, timeout=90), worker.output()[-3000:]
    body = marketer_client.get(f"/api/v1/imports/{job_id}/").json()
    picked = {
        k: body[k]
        for k in ("status", "total", "processed", "created", "updated", "skipped", "errors")
    }
    assert picked == {
        "status": "done",
        "total": 42,
        "processed": 42,
        "created": 40,
        "updated": 1,
        "skipped": 0,
        "errors": 1,
    }
    assert body["first_errors"] == [
        {
            "row": 42,
            "reason": "Not a valid email address: 'not-an-email'.",
            "values": ["not-an-email", "x", "1"],
        }
    ]
    assert Lead.objects.count() == 40
    assert set(Lead.objects.values_list("score", flat=True)) == {25}  # senior title + size
    assert Lead.objects.get(email="vp0@acme.com").title == "Founder"
