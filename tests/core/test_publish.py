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
