"""Coalesced kicks: background work on leads that many requests ask for within moments, done by
one task.

A request that changes leads asks for follow-up work on them (score them, start their nurture
series). One task per ask would put a task on the broker for every request, and a task costs
the worker more than the work on one lead. Instead the first ask in a window sets a short flag
(Redis `SET NX PX`) and queues one task that runs when the window closes; every ask adds its
lead ids to a Redis set that the task empties (`pop`). An id added before an ask is therefore
seen by the task of that ask's window (it starts after the window ends).

Without Redis (the embedded set-up, whose broker is a folder) asks coalesce within the process
and the ids ride in the tasks. A broker or Redis outage is logged and swallowed, never the
caller's failure: each kind of work has a periodic job that finds what was missed.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import cast

import redis
from django.conf import settings
from django.core.cache import cache as django_cache

from core import publish


@cache
def _redis_client(url: str) -> redis.Redis:
    # Short timeouts: a kick runs inside a request and must not hang on an outage.
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


def _redis() -> redis.Redis | None:
    url = settings.REDIS_URL
    return _redis_client(url) if url else None


@dataclass(frozen=True)
class Kick:
    """One kind of coalesced work: its task (called with `lead_ids=` when the ids ride in it),
    and, read on each call (tests and deployments change them), its Redis key prefix, its
    window and its queue."""

    task: str
    prefix: Callable[[], str]
    window_ms: Callable[[], int]
    logger: logging.Logger
    failed: str  # the warning when Redis fails: "<what> failed (%s); <who catches up>."
    queue: Callable[[], str | None] = lambda: None

    def __call__(self, lead_ids: Iterable[int] = ()) -> None:
        """Ask for the work on `lead_ids` (none: only whatever waits). Never raises."""
        ids = sorted({int(i) for i in lead_ids})
        window = self.window_ms()
        client = _redis()
        try:
            if client is None:
                if django_cache.add(self.prefix() + "kick", 1, timeout=window / 1000):
                    self._publish(countdown=window / 1000, lead_ids=ids)
                elif ids:
                    self._publish(lead_ids=ids)
                return
            pipe = client.pipeline(transaction=False)
            if ids:
                pipe.sadd(self._set(), *ids)
            pipe.set(self.prefix() + "kick", 1, nx=True, px=window)
            first_in_window = pipe.execute()[-1]
        except publish.BROKER_ERRORS as exc:
            self.logger.warning(self.failed, exc)
            return
        if first_in_window:
            self._publish(countdown=window / 1000)

    def pop(self, limit: int = 50000) -> list[int]:
        """Lead ids the kicks queued, taken off the set (at most `limit`). An outage means an
        empty list: the periodic job finds the work again."""
        client = _redis()
        if client is None:
            return []
        try:
            # SPOP with a count answers a list of members (a set over RESP3); redis-py's
            # annotation leaves the list out, as if a count made no difference.
            popped = cast(Iterable[bytes | str], client.spop(self._set(), limit) or [])
        except publish.BROKER_ERRORS as exc:
            self.logger.warning("Could not read queued lead ids (%s); a periodic job will.", exc)
            return []
        return [int(i) for i in popped]

    def _set(self) -> str:
        return self.prefix() + "dirty-leads"

    def _publish(self, **kwargs) -> None:
        queue = self.queue()
        if queue:
            kwargs["queue"] = queue
        publish.publish(self.task, **kwargs)
