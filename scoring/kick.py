"""Getting scoring tasks onto the broker without ever failing the caller.

Ingestion kicks scoring after every committed request. One task per kick would put thousands of
tasks a second on the broker, so kicks are coalesced: the first kick in a window sets a short
flag (Redis `SET NX PX`) and enqueues one task that runs when the window closes; later kicks in
the window only add their lead ids to a Redis set that task drains. An event committed before a
kick is therefore seen by the task of that kick's window (it starts after the window ends).

A broker or Redis outage is logged and swallowed: the periodic sweep (scoring.tasks.sweep)
scores whatever was accepted meanwhile, and re-checks leads changed since its last run.
"""

import logging
from collections.abc import Iterable
from functools import cache
from typing import cast

import redis
from django.conf import settings
from django.core.cache import cache as django_cache

from core import publish

logger = logging.getLogger(__name__)

# Scoring's published tasks, by name (scoring/tasks.py registers them under these names).
SCORING_PROCESS = "scoring.process"
RESCORE_STEP = "scoring.rescore_step"
SIMULATE_RUN = "scoring.simulate_run"


def _prefix() -> str:
    return settings.SCORING_KEY_PREFIX


def _window_ms() -> int:
    return settings.SCORING_KICK_WINDOW_MS


@cache
def _redis_client(url: str) -> redis.Redis:
    # Short timeouts: a kick runs inside ingestion's request and must not hang on an outage.
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


def _redis() -> redis.Redis | None:
    url = settings.REDIS_URL
    return _redis_client(url) if url else None


def kick(*, lead_ids: Iterable[int] = ()) -> None:
    ids = sorted({int(i) for i in lead_ids})
    window = _window_ms()
    client = _redis()
    try:
        if client is None:
            # Embedded set-up (no Redis): coalesce per process; lead ids ride in the task.
            if django_cache.add(_prefix() + "kick", 1, timeout=window / 1000):
                publish.publish(SCORING_PROCESS, countdown=window / 1000, lead_ids=ids)
            elif ids:
                publish.publish(SCORING_PROCESS, lead_ids=ids)
            return
        pipe = client.pipeline(transaction=False)
        if ids:
            pipe.sadd(_prefix() + "dirty-leads", *ids)
        pipe.set(_prefix() + "kick", 1, nx=True, px=window)
        first_in_window = pipe.execute()[-1]
    except publish.BROKER_ERRORS as exc:
        logger.warning("Scoring kick failed (%s); the periodic sweep catches up.", exc)
        return
    if first_in_window:
        publish.publish(SCORING_PROCESS, countdown=window / 1000)


def dirty_leads_pop(limit: int = 50000) -> list[int]:
    """Lead ids queued by kicks. A Redis outage here means an empty list: the sweep re-checks
    changed leads by their updated_at anyway."""
    client = _redis()
    if client is None:
        return []
    try:
        # SPOP with a count answers a list of members (a set over RESP3); redis-py's annotation
        # leaves the list out, as if a count made no difference.
        popped = cast(Iterable[bytes | str], client.spop(_prefix() + "dirty-leads", limit) or [])
    except publish.BROKER_ERRORS as exc:
        logger.warning("Could not read queued lead ids (%s); the sweep re-checks them.", exc)
        return []
    return [int(i) for i in popped]
