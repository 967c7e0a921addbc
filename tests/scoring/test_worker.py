"""A real Celery worker subprocess on Redis and the test database: no eager mode.

Each test gets its own queue name (and kick key prefix), so parallel runs and other test
processes sharing the Redis database never take each other's messages.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone

from events.models import PendingEvent
from leads.models import Lead, Stage
from playbook import scoring as playbook
from scoring import services, simulations, tasks
from scoring.models import LedgerEntry, RescoreJob, RescoreStatus, SimulationJob
from tests import support
from tests.factories import EventFactory, LeadFactory
from tests.support import database_url

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.services


@pytest.fixture
def worker(transactional_db, queue, redis_url, tmp_path):
    """Start `celery worker` consuming only this test's queue; stopped after the test."""
    started = []

    def start():
        connections.close_all()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url,
            "SECRET_KEY": settings.SECRET_KEY,
            "LEADCRM_VAR_DIR": str(tmp_path / "var"),
            "LOG_LEVEL": "INFO",
        }
        log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed with the process
        command = [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "leadcrm",
            "worker",
            "-Q",
            queue,
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append((process, log))
        return process

    yield start
    for process, log in started:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_for(check, *, timeout: float = 30.0, what: str = "condition", log: Path | None = None):
    if support.wait_for(check, timeout=timeout):
        return
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    pytest.fail(f"timed out waiting for {what}\n{tail}")


def _playbook_and_worker(worker, log: Path):
    """Load the playbook and start a worker; return once the worker has run the playbook's
    re-score, so that what a test adds afterwards is only scored by the path it tests."""
    playbook.playbook_load()  # commits, and queues one re-score for the worker
    worker()
    wait_for(
        lambda: RescoreJob.objects.filter(status=RescoreStatus.DONE).exists(),
        what="the playbook's re-score",
        log=log,
    )


def test_a_real_worker_scores_kicked_events(worker, tmp_path):
    _playbook_and_worker(worker, tmp_path / "worker.log")
    lead = LeadFactory()
    for name in ("Demo Requested", "Webinar Attended", "Email Opened", "Newsletter Subscribed"):
        EventFactory(lead=lead, name=name)

    services.scoring_kick(lead_ids=[lead.pk])

    wait_for(
        lambda: Lead.objects.get(pk=lead.pk).score == 57,
        what="the lead's points",
        log=tmp_path / "worker.log",
    )
    lead.refresh_from_db()
    assert (lead.stage, lead.temperature) == (Stage.MQL, "hot")
    assert not PendingEvent.objects.filter(event__lead=lead).exists()
    assert LedgerEntry.objects.filter(lead=lead).count() == 4


def test_events_accepted_while_redis_is_down_are_scored_by_the_sweep(worker, settings, tmp_path):
    _playbook_and_worker(worker, tmp_path / "worker.log")
    lead = LeadFactory()
    EventFactory(lead=lead, name="Demo Requested", received_at=timezone.now())
    live_redis = settings.REDIS_URL

    # Redis is down: the kick must not raise (its short socket timeouts keep it quick), and
    # nothing gets scored.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    services.scoring_kick(lead_ids=[lead.pk])
    time.sleep(2)
    assert Lead.objects.get(pk=lead.pk).score == 0

    # Redis is back: the periodic sweep (sent here as beat would send it) catches up.
    settings.REDIS_URL = live_redis
    tasks.sweep.delay()

    wait_for(
        lambda: Lead.objects.get(pk=lead.pk).score == 30,
        what="the sweep to score the event",
        log=tmp_path / "worker.log",
    )
    assert not PendingEvent.objects.filter(event__lead=lead).exists()


def test_a_real_worker_runs_a_simulation_to_its_result(worker, marketer, tmp_path):
    _playbook_and_worker(worker, tmp_path / "worker.log")
    lead = LeadFactory()
    EventFactory(lead=lead, name="Demo Requested")
    draft = {"rules": [{"kind": "event", "event_name": "Demo Requested", "points": 90}]}

    job = simulations.simulation_start(actor=marketer, draft={**draft, "limit": 10})

    wait_for(
        lambda: SimulationJob.objects.get(pk=job.pk).status == "done",
        what="the simulation",
        log=tmp_path / "worker.log",
    )
    job.refresh_from_db()
    assert (job.result["leads"], job.result["mql"], job.result["changes"]) == (1, 1, 1)
    assert job.result["changed_leads"][0]["would_score"] == 90
    assert Lead.objects.get(pk=lead.pk).stage == Stage.IQL  # the simulation changed nothing
