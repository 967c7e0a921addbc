"""core.publish: tasks by name onto the real Redis broker, after the commit, never failing."""

import json
import logging

import kombu.exceptions
import pytest
import redis
from django.db import transaction

from core import publish

pytestmark = pytest.mark.services


def _queued(redis_url: str, queue: str) -> list[tuple[str, list]]:
    client = redis.Redis.from_url(redis_url)
    bodies = [json.loads(raw) for raw in client.lrange(queue, 0, -1)]
    return [(b["headers"]["task"], b["headers"]["argsrepr"]) for b in reversed(bodies)]


def test_publish_puts_the_named_task_on_the_queue(queue, redis_url):
    assert publish.publish("scoring.rescore_step", 7, 0) is True

    assert _queued(redis_url, queue) == [("scoring.rescore_step", "(7, 0)")]


@pytest.mark.django_db(transaction=True)
def test_publish_on_commit_waits_for_the_commit_and_drops_on_rollback(queue, redis_url):
    with transaction.atomic():
        publish.publish_on_commit("scoring.rescore_step", 1, 0)
        assert _queued(redis_url, queue) == []
    with pytest.raises(RuntimeError), transaction.atomic():
        publish.publish_on_commit("scoring.rescore_step", 2, 0)
        raise RuntimeError("rolled back")

    assert _queued(redis_url, queue) == [("scoring.rescore_step", "(1, 0)")]


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_is_logged_and_never_fails_the_caller(monkeypatch, caplog):
    # The broker is outside our control: fail the way kombu does when Redis refuses.
    def refuse(*args, **kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting: Connection refused.")

    monkeypatch.setattr(publish.current_app, "send_task", refuse)

    with caplog.at_level(logging.WARNING, logger="core.publish"), transaction.atomic():
        publish.publish_on_commit("nurturing.tasks.nurture_send", [1])
    assert publish.publish("scoring.process") is False

    assert caplog.text.count("Could not queue") == 2


def test_publishing_keeps_one_redis_client(queue, redis_url, monkeypatch):
    """kombu's Redis channel built a redis.Redis for every publish (half a millisecond of CPU
    each); leadcrm.broker's keeps the one it made."""
    assert publish.publish("scoring.rescore_step", 0, 0) is True  # the channel's first client
    made = []
    real_init = redis.Redis.__init__

    def init(self, *args, **kwargs):
        made.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", init)
    for n in range(1, 4):
        assert publish.publish("scoring.rescore_step", n, 0) is True

    assert made == []
    assert [args for _, args in _queued(redis_url, queue)] == [f"({n}, 0)" for n in range(4)]


def test_a_channel_makes_a_new_client_when_kombu_replaces_its_pool(queue, redis_url):
    from leadcrm.broker import Channel

    with publish.current_app.producer_or_acquire() as producer:
        channel = producer.channel
        assert isinstance(channel, Channel)
        first = channel._create_client()
        assert channel._create_client() is first
        channel._pool = None  # as kombu's after-fork handler leaves it
        second = channel._create_client()
        assert second is not first
        assert second.connection_pool is channel.pool
        assert second.ping()
