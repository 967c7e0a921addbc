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
- a drain stores what waits when it starts and stops at its first short batch: it does not
  chase the rows that come in while it stores (a few at a time, each few a transaction and
  five round trips: that cost the worker 0.3 ms an event under steady traffic). Each of those
  rows has a drain of its own to come: it was pushed after this drain's kick flag expired, so
  it (or a row just before it) kicked another. A drain kicked while one runs finds the lock
  taken and leaves a mark instead; the running one sees it as it lets go and does one more
  pass (both steps in Redis scripts, so the mark is never left behind a released lock);
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
# The kicked drain runs this much after the kick flag expires: every row pushed while the flag
# lives (and so kicked nothing) is in the list when the drain looks, across clocks that differ
# by a few milliseconds (the web host's, Redis's, the worker's).
KICK_MARGIN = 0.05
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
# KEYS[1]: the lock, KEYS[2]: the mark "a drain came while the lock was taken"; ARGV[1]: our
# token, ARGV[2]: the lock's expiry (s). 1: the lock is ours; 0: it was taken, the mark is set.
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
return 0
"""
# KEYS: as _ACQUIRE's; ARGV[1]: our token, ARGV[2]: 1 to let go whatever the mark says (a
# drain that failed). Deletes the lock if it is still ours, unless a drain left the mark since
# (then it clears the mark and keeps the lock: 2, one more pass); 1: let go; 0: not ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] ~= '1' and redis.call('DEL', KEYS[2]) == 1 then return 2 end
redis.call('DEL', KEYS[1])
return 1
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
        publish.publish(DRAIN_TASK, countdown=KICK_SECONDS + KICK_MARGIN)
    return Outcome(buffered=True)


def waiting() -> int:
    """Rows in the buffer now (0 when it is off)."""
    if not enabled():
        return 0
    return int(_client(settings.REDIS_URL).llen(settings.INGEST_BUFFER_KEY))


def drain(store) -> int:
    """Store the rows waiting, BATCH at a time, each batch in `store(rows)` (one transaction,
    events.services.events_store_buffered, which returns how many of them were new), trimming a
    batch once stored, until a batch comes back short. Returns how many new rows were stored
    (0 when another drain holds the lock: that one does another pass for this one)."""
    if not settings.REDIS_URL:
        return 0
    client = _client(settings.REDIS_URL)
    key = settings.INGEST_BUFFER_KEY
    locks = [f"{key}:drain", f"{key}:again"]
    token = uuid.uuid4().hex
    if not _script(settings.REDIS_URL, _ACQUIRE)(keys=locks, args=[token, LOCK_SECONDS]):
        return 0
    release = _script(settings.REDIS_URL, _RELEASE)
    done, held = 0, True
    try:
        while held:
            done += _pass(client, key, locks[0], store)
            held = release(keys=locks, args=[token, 0]) == 2
    finally:
        if held:  # store() failed: let go, the rows wait for the next drain
            release(keys=locks, args=[token, 1])
    return done


def _pass(client: redis.Redis, key: str, lock: str, store) -> int:
    """Store batches from the head of the list until one is short (or another drain has
    trimmed under us); how many new rows."""
    trim = _script(settings.REDIS_URL, _TRIM)
    done = 0
    while raw := cast(list[bytes], client.lrange(key, 0, BATCH - 1)):
        done += store([jsonfast.loads(row) for row in raw])
        if not trim(keys=[key], args=[len(raw), raw[0], raw[-1]]) or len(raw) < BATCH:
            break  # another drain has the list now, or we have caught up
        client.expire(lock, LOCK_SECONDS)
    return done
