"""Browser page views and tracks, accepted into Redis and stored in PostgreSQL in batches.

A website sends one call a request, mostly page views and tracks, and each one stored on its
own is a PostgreSQL statement planned and committed for a single row. When the buffer is on
(`INGEST_BROWSER_BUFFER`, with `REDIS_URL`), ingestion validates such a call as before (a bad
one is still a 400), then appends the row it would have inserted, its `received_at` and
message id included, to a Redis list in one command, and answers. A worker task
(`events.buffer_drain`, kicked at most every half second while rows come, and swept by beat)
stores the list in order, `BATCH` rows a transaction, through ingestion's own insert
statement (the same lead lookup, the same scoring queue), then trims what it stored.

Nothing accepted is lost, and nothing is stored twice:

- rows are trimmed only after their transaction commits; a drain that dies in between leaves
  them for the next one, whose insert skips the message ids already stored (ON CONFLICT on
  the source's message id, as for an SDK's retry). One drain runs at a time (a lock in Redis
  with an expiry); a second one after an expired lock costs time, not duplicates;
- when the buffer cannot take a row (Redis down or slow, or `INGEST_BUFFER_MAX` rows already
  waiting because no worker drains), the request stores it itself, as without the buffer;
- accepted rows live in Redis until drained (usually well under a second): a deployment keeps
  Redis's data on disk (docker-compose.yml: append-only file, fsync every second), as it
  already must for the Celery queue.

Identify, alias and group calls, batches and server keys never come here: they change leads
and keep their transaction.
"""

import logging
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import redis
from django.conf import settings

from core import publish, ratelimit
from events import jsonfast

logger = logging.getLogger(__name__)

DRAIN_TASK = "events.buffer_drain"
BATCH = 1000  # rows a drain stores in one transaction
# At most one drain is kicked in this long, run this long after its kick: a second's traffic
# goes in a few batches, and a request pays for publishing a task once a second at most.
KICK_SECONDS = 0.5
LOCK_SECONDS = 120  # a drain that dies holding the lock holds it this long at most

# KEYS[1]: the list; ARGV[1]: how many rows were stored; ARGV[2], ARGV[3]: the first and last of
# them. Trims them only if they still head the list (a second drain, started after our lock
# expired, may have trimmed them already: trimming again would drop rows nobody stored).
_TRIM = """
local n = tonumber(ARGV[1])
if redis.call('LINDEX', KEYS[1], 0) == ARGV[2] and redis.call('LINDEX', KEYS[1], n - 1) == ARGV[3]
then
  redis.call('LTRIM', KEYS[1], n, -1)
  return 1
end
return 0
"""
# KEYS[1]: the lock; ARGV[1]: our token. Deletes the lock only if it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def enabled() -> bool:
    return settings.INGEST_BROWSER_BUFFER and bool(settings.REDIS_URL)


@cache
def _client(url: str) -> redis.Redis:
    # The drain's (a push goes through core.ratelimit's client, with the limits it counts).
    return redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=5.0)


@cache
def _script(url: str, source: str):
    return _client(url).register_script(source)


@dataclass(frozen=True)
class Outcome:
    buffered: bool  # the rows are in the buffer: the request answers at once
    refused: tuple[int, int] | None = None  # a limit refused it (ratelimit.hit_many's answer)


def accept(
    rows: list[dict[str, Any]], *, limits: list[tuple[str, int]], window_seconds: int = 60
) -> Outcome:
    """Count the request's rate `limits` and, within them, append `rows` (ingestion's insert
    rows) to the buffer: one Redis command (core.ratelimit.guarded_push). Never raises.

    Not buffered when a limit refuses the request (nothing pushed), when there are no rows (a
    request whose calls were all invalid: only counted), when the buffer is full, or when Redis
    fails (then nothing is known to be counted: the limits fail open, as they do on any Redis
    failure). A push that timed out may still have landed: the caller then stores the rows too,
    and the drain's insert skips their message ids. The first push in KICK_SECONDS kicks a
    drain, to run KICK_SECONDS later (published, not waited for)."""
    key = settings.INGEST_BUFFER_KEY
    answer = ratelimit.guarded_push(
        limits,
        window_seconds,
        list_key=key,
        values=[jsonfast.dumps(row) for row in rows],
        max_length=settings.INGEST_BUFFER_MAX,
        flag_key=f"{key}:kicked",
        flag_ms=int(KICK_SECONDS * 1000),
    )
    if answer is None:
        logger.warning("Event buffer unavailable (Redis): the request stores its own")
        return Outcome(buffered=False)
    refused, pushed = answer
    if refused is not None or not rows:
        return Outcome(buffered=False, refused=refused)
    if pushed < 0:
        logger.warning(
            "Event buffer full (%s rows): the request stores its own", settings.INGEST_BUFFER_MAX
        )
        return Outcome(buffered=False)
    if pushed:
        # Never fails the request: with the broker down, beat's sweep drains the buffer.
        publish.publish(DRAIN_TASK, countdown=KICK_SECONDS)
    return Outcome(buffered=True)


def waiting() -> int:
    """Rows in the buffer now (0 when it is off)."""
    if not enabled():
        return 0
    return int(_client(settings.REDIS_URL).llen(settings.INGEST_BUFFER_KEY))


def drain(store) -> int:
    """Store every row waiting, BATCH at a time, each batch in `store(rows)` (one transaction,
    events.services.events_store_buffered, which returns how many of them were new), trimming a
    batch once stored. Returns how many new rows were stored (0 when another drain holds the
    lock)."""
    if not settings.REDIS_URL:
        return 0
    client = _client(settings.REDIS_URL)
    key = settings.INGEST_BUFFER_KEY
    lock = f"{key}:drain"
    token = uuid.uuid4().hex
    if not client.set(lock, token, nx=True, ex=LOCK_SECONDS):
        return 0
    done = 0
    try:
        trim = _script(settings.REDIS_URL, _TRIM)
        while raw := cast(list[bytes], client.lrange(key, 0, BATCH - 1)):
            done += store([jsonfast.loads(row) for row in raw])
            if not trim(keys=[key], args=[len(raw), raw[0], raw[-1]]):
                break  # another drain has the list now
            client.expire(lock, LOCK_SECONDS)
    finally:
        _script(settings.REDIS_URL, _RELEASE)(keys=[lock], args=[token])
    return done
