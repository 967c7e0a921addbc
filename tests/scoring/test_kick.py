"""scoring_kick: coalesced onto the real Redis broker, and never failing its caller."""

import logging
import time

import kombu.exceptions
import pytest
import redis

from core import publish
from scoring import kick, services, tasks
from tests.factories import EventFactory, LeadFactory
from tests.scoring.conftest import ledger_of

pytestmark = pytest.mark.django_db


@pytest.mark.services
def test_kicks_within_a_window_make_one_task(queue, redis_url, settings):
    settings.SCORING_KICK_WINDOW_MS = 5000
    client = redis.Redis.from_url(redis_url)

    for lead_id in range(1, 21):
        services.scoring_kick(lead_ids=[lead_id, 100])

    assert client.llen(queue) == 1
    queued = {int(i) for i in client.smembers(f"{queue}:dirty-leads")}
    assert queued == {*range(1, 21), 100}


@pytest.mark.services
def test_a_kick_after_the_window_makes_another_task(queue, redis_url, settings):
    settings.SCORING_KICK_WINDOW_MS = 100
    client = redis.Redis.from_url(redis_url)

    services.scoring_kick()
    services.scoring_kick()
    time.sleep(0.25)
    services.scoring_kick()

    assert client.llen(queue) == 2


@pytest.mark.services
def test_kicked_leads_get_their_fit_rules_checked(queue, default_playbook):
    lead = LeadFactory(title="Founder", company_size=8)
    services.scoring_kick(lead_ids=[lead.pk])

    result, more = services.backlog_score()

    lead.refresh_from_db()
    assert (result.events, more) == (0, False)
    assert ledger_of(lead) == [("senior-title", 15, True)]
    assert lead.score == 15
    assert kick.dirty_leads_pop() == []


def test_a_kick_never_raises_when_redis_is_down(settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    with caplog.at_level(logging.WARNING, logger="scoring.kick"):
        services.scoring_kick(lead_ids=[1, 2])

    assert "Scoring kick failed" in caplog.text
    assert kick.dirty_leads_pop() == []


@pytest.mark.services
def test_a_kick_never_raises_when_the_broker_refuses(queue, monkeypatch, caplog):
    # The broker itself is outside our control: make publishing fail the way kombu does.
    def refuse(*args, **kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting: Connection refused.")

    monkeypatch.setattr(publish.current_app, "send_task", refuse)

    with caplog.at_level(logging.WARNING, logger="core.publish"):
        services.scoring_kick()

    assert "Could not queue scoring.process" in caplog.text


def test_without_redis_kicks_coalesce_in_the_process(settings, published_without_redis):
    # The embedded set-up (`make run` without REDIS_URL) coalesces with the local cache.
    settings.SCORING_KEY_PREFIX = "kick-test-local:"

    services.scoring_kick()
    services.scoring_kick()
    services.scoring_kick(lead_ids=[7])

    assert published_without_redis == [
        ("scoring.process", {"countdown": 0.5, "lead_ids": []}),
        ("scoring.process", {"lead_ids": [7]}),
    ]


def test_the_process_task_scores_everything_in_batches(default_playbook, settings, monkeypatch):
    settings.SCORING_BATCH_SIZE = 2
    lead = LeadFactory()
    EventFactory.create_batch(5, lead=lead, name="Email Opened")
    handed_over = []
    monkeypatch.setattr(publish, "publish", lambda name, *a, **kw: handed_over.append(name))

    result = tasks.scoring_process.run()

    lead.refresh_from_db()
    assert result == {"events": 5, "promoted": 0, "more": False}
    assert lead.score == 10
    assert handed_over == []
