import uuid

import pytest
import redis
from django.db.models import Sum

from leadcrm.celery import app as celery_app
from leads.models import Lead
from scoring import kick, playbook
from scoring.models import LedgerEntry


@pytest.fixture
def sent(monkeypatch):
    """What scoring hands to the broker, as (task name, args) (the broker is not under test)."""
    messages = []
    monkeypatch.setattr(kick, "_send", lambda task, *args, **kw: messages.append((task.name, args)))
    return messages


@pytest.fixture
def default_playbook(db):
    playbook.playbook_load()


def live_sum(lead: Lead) -> int:
    total = LedgerEntry.objects.filter(lead=lead, is_live=True).aggregate(s=Sum("points"))["s"]
    return total or 0


def assert_scores_match_ledger() -> None:
    """The invariant: every lead's score is the sum of its live ledger rows."""
    for lead in Lead.objects.all():
        assert lead.score == live_sum(lead), f"lead {lead.pk}: {lead.score} != {live_sum(lead)}"


def ledger_of(lead: Lead) -> list[tuple[str, int, bool]]:
    """The lead's ledger as (rule key, points, live), sorted."""
    rows = LedgerEntry.objects.filter(lead=lead).select_related("rule")
    return sorted((row.rule.key or row.rule.name, row.points, row.is_live) for row in rows)


def _forget_cached_queues() -> None:
    # kombu caches the queue/route objects on first use; drop them so a new default applies.
    for name in ("queues", "default_queue", "router", "producer_pool"):
        celery_app.amqp.__dict__.pop(name, None)


@pytest.fixture
def queue(redis_url, settings):
    """A queue (and kick key prefix) of this test alone: tasks sent by this process go there."""
    name = f"leadcrm-test-{uuid.uuid4().hex[:12]}"
    old = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = name
    _forget_cached_queues()
    settings.SCORING_KEY_PREFIX = f"{name}:"
    yield name
    celery_app.conf.task_default_queue = old
    _forget_cached_queues()
    client = redis.Redis.from_url(redis_url)
    client.delete(name, f"_kombu.binding.{name}", *client.keys(f"{name}:*"))
