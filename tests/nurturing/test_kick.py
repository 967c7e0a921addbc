"""A lead entering a stage asks nurturing to enroll it: coalesced, so that the leads of a window
make one task (the worker spent more on a task a lead than on enrolling the lead), on the real
Redis broker; never failing the move."""

import logging
import time

import pytest
import redis

from leads import services as lead_services
from nurturing import tasks
from nurturing.models import Enrollment
from playbook.nurturing import playbook_load

pytestmark = pytest.mark.django_db


def _waiting(client, settings) -> set[int]:
    key = f"{settings.NURTURE_KEY_PREFIX}{settings.NURTURE_QUEUE}:stage-entered:dirty-leads"
    return {int(i) for i in client.smembers(key)}


@pytest.mark.services
def test_stage_entries_within_a_window_make_one_task(nurture_queue, redis_url, settings):
    settings.NURTURE_KICK_WINDOW_MS = 5000
    client = redis.Redis.from_url(redis_url)

    for lead_id in range(1, 21):
        tasks.stage_entered_hook([lead_id], True)

    assert client.llen(nurture_queue) == 1  # one task a lead before
    assert _waiting(client, settings) == set(range(1, 21))


@pytest.mark.services
def test_an_entry_after_the_window_makes_another_task(nurture_queue, redis_url, settings):
    settings.NURTURE_KICK_WINDOW_MS = 100
    client = redis.Redis.from_url(redis_url)

    tasks.stage_entered_hook([1])
    tasks.stage_entered_hook([2])
    time.sleep(0.25)
    tasks.stage_entered_hook([3])

    assert client.llen(nurture_queue) == 2


@pytest.mark.services
def test_the_task_enrolls_every_lead_of_its_window(nurture_queue, redis_url, settings):
    playbook_load()
    leads = [lead_services.lead_create(actor=None, email=f"k{i}@example.com") for i in range(3)]
    for lead in leads:  # what the commits of the three creations did
        tasks.stage_entered_hook([lead.pk], True)

    assert tasks.nurture_leads_stage_entered.run() == 3

    welcome = Enrollment.objects.filter(sequence__key="welcome-iql")
    assert sorted(welcome.values_list("lead_id", flat=True)) == [lead.pk for lead in leads]
    assert _waiting(redis.Redis.from_url(redis_url), settings) == set()
    assert tasks.nurture_leads_stage_entered.run() == 0  # taken once


@pytest.mark.services
def test_the_task_takes_the_waiting_leads_a_chunk_at_a_time(
    nurture_queue, redis_url, settings, monkeypatch
):
    monkeypatch.setattr(tasks, "STAGE_ENTERED_CHUNK", 2)
    playbook_load()
    leads = [lead_services.lead_create(actor=None, email=f"c{i}@example.com") for i in range(5)]
    tasks.stage_entered_hook([lead.pk for lead in leads], True)
    chunks = []
    enroll = tasks._enroll
    monkeypatch.setattr(tasks, "_enroll", lambda ids: chunks.append(len(ids)) or enroll(ids))

    assert tasks.nurture_leads_stage_entered.run() == 5
    assert chunks == [2, 2, 1]


def test_a_task_given_its_leads_enrolls_them(settings):
    # Without Redis (or a task queued before kicks were coalesced) the leads ride in the task.
    playbook_load()
    lead = lead_services.lead_create(actor=None, email="given@example.com")

    assert tasks.nurture_leads_stage_entered.run([lead.pk]) == 1
    assert Enrollment.objects.filter(lead=lead, sequence__key="welcome-iql").exists()


def test_without_redis_entries_coalesce_in_the_process(settings, published_without_redis):
    settings.NURTURE_QUEUE = "nurture-kick-local"

    tasks.stage_entered_hook([4])
    tasks.stage_entered_hook([5])

    assert published_without_redis == [
        (
            tasks.NURTURE_LEADS_STAGE_ENTERED,
            {"countdown": 0.5, "lead_ids": [4], "queue": "nurture-kick-local"},
        ),
        (tasks.NURTURE_LEADS_STAGE_ENTERED, {"lead_ids": [5], "queue": "nurture-kick-local"}),
    ]


def test_a_stage_entry_never_fails_when_redis_is_down(settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    with caplog.at_level(logging.WARNING, logger="nurturing.tasks"):
        tasks.stage_entered_hook([1, 2], True)

    assert "Nurture kick failed" in caplog.text
