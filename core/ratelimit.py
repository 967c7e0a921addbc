"""Rate limits in Redis: fixed windows, one counter per key and window.

    allowed, retry_after = ratelimit.hit("ingest:source:12", limit=600, window_seconds=60)

A window is a slice of the clock `window_seconds` long (aligned to the epoch, the same slices
for every process); its counter is one Redis key, INCR'd and given an expiry by one Lua script
call (one round trip, whatever the number of keys checked together).
The `limit`-th hit of a window is allowed, the next is refused with the seconds left until the
window ends (for `Retry-After`). At a window's edge a client may get up to twice the limit
within a short time; that is the price of one counter and one round trip a check.

The limits are a shield, never a point of failure: without REDIS_URL they are off (every hit is
allowed; /healthz says so), and a Redis error allows the hit, is logged, and keeps this process
off Redis for a few seconds, so an outage costs one timeout, not one a request.
"""

import hashlib
import ipaddress
import logging
import math
import os
import threading
import time
from functools import cache, lru_cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# After a Redis error this process allows every hit, without asking Redis, for this long.
BREAKER_SECONDS = 5.0

_clock = time.time  # the wall clock (windows are shared by every process); tests replace it
_lock = threading.Lock()
_broken_until = 0.0


@cache
def _client(url: str) -> redis.Redis:
    # Short timeouts: a check runs inside a request and must not hang on an outage.
    return redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.25)


def enabled() -> bool:
    return bool(settings.REDIS_URL)


def status() -> str:
    """For /healthz: "on", or why the limits are off (no Redis configured, or it is down)."""
    if not enabled():
        return "off (no Redis)"
    try:
        _client(settings.REDIS_URL).ping()
    except redis.RedisError as exc:
        return f"off (Redis unreachable: {exc.__class__.__name__})"
    return "on"


def hit(key: str, limit: int, window_seconds: int) -> tuple[bool, int]:
    """Count one hit of `key`; returns (allowed, retry_after seconds: 0 when allowed).

    A `limit` below 1 means no limit (nothing is counted). Never raises on a Redis problem.
    """
    refused = hit_many([(key, limit)], window_seconds)
    return (True, 0) if refused is None else (False, refused[1])


def hit_many(checks: list[tuple[str, int]], window_seconds: int) -> tuple[int, int] | None:
    """Count one hit of each `(key, limit)`, in order, in ONE Redis command (a Lua script):
    None when every one is within its limit, else (index of the first over it, retry_after
    seconds). As checking them one by one: the keys after a refused one are not counted, so
    that, say, a noisy client over its address's limit does not use up its site's budget. A
    `limit` below 1 is no limit and is not counted. Never raises on a Redis problem.
    """
    counted = _limited(checks, window_seconds)
    if not counted or not enabled() or _clock() < _broken_until:
        return None
    now = _clock()
    window = int(now // window_seconds)
    try:
        refused = _script(settings.REDIS_URL)(
            keys=_counter_keys(counted, window_seconds, window),
            args=[window_seconds + 1, *(limit for _, _, limit in counted)],
        )
    except redis.RedisError as exc:
        _trip(exc)
        return None
    if not refused:
        return None
    return _refusal(counted, int(refused), window_seconds, window, now)


def _limited(checks: list[tuple[str, int]], window_seconds: int) -> list[tuple[int, str, int]]:
    """The checks that have a limit, as (their index in `checks`, key, limit)."""
    if window_seconds < 1:
        raise ValueError("a rate limit window is at least one second")
    return [(index, key, limit) for index, (key, limit) in enumerate(checks) if limit >= 1]


def _counter_keys(counted: list[tuple[int, str, int]], window_seconds: int, window: int) -> list:
    """The Redis counters of `counted` in this window."""
    prefix = settings.RATE_LIMIT_KEY_PREFIX
    return [f"{prefix}{key}:{window_seconds}:{window}" for _, key, _ in counted]


def _refusal(
    counted: list[tuple[int, str, int]], position: int, window_seconds: int, window: int, now: float
) -> tuple[int, int]:
    """(index of the check refused, retry_after seconds) for a script's 1-based `position`."""
    ends = (window + 1) * window_seconds
    return counted[position - 1][0], max(1, math.ceil(ends - now))


# KEYS: the counters, in order; ARGV[1]: their expiry (s); ARGV[2..]: their limits. Returns the
# 1-based position of the first counter over its limit (those after it are left alone), or 0.
_HIT_MANY = """
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  if count > tonumber(ARGV[i + 1]) then return i end
end
return 0
"""


def guarded_push(
    checks: list[tuple[str, int]],
    window_seconds: int,
    *,
    list_key: str,
    values: list[str],
    max_length: int,
    flag_key: str,
    flag_ms: int,
) -> tuple[tuple[int, int] | None, int] | None:
    """`hit_many`, then, when every check is within its limit, push `values` onto the list
    `list_key` (unless it already holds `max_length`) and set `flag_key` for `flag_ms` unless
    it is set: ONE Redis command for a request's limits and what it hands on.

    Returns (refused, pushed): refused as hit_many's (nothing pushed then); pushed -1 when the
    list was full (nothing pushed), 1 when pushed and the flag was not set (now it is), 0 when
    pushed under a flag already set. None when Redis is off, broken or fails (nothing is known
    to be counted or pushed; the breaker opens as for a failed limit check).
    """
    counted = _limited(checks, window_seconds)
    if not enabled() or _clock() < _broken_until:
        return None
    now = _clock()
    window = int(now // window_seconds)
    try:
        refused, pushed = _push_script(settings.REDIS_URL)(
            keys=[list_key, flag_key, *_counter_keys(counted, window_seconds, window)],
            args=[
                window_seconds + 1,
                len(counted),
                *(limit for _, _, limit in counted),
                max_length,
                flag_ms,
                *values,
            ],
        )
    except redis.RedisError as exc:
        _trip(exc)
        return None
    if refused:
        return _refusal(counted, int(refused), window_seconds, window, now), 0
    return None, int(pushed)


# KEYS[1]: the list, KEYS[2]: the flag, KEYS[3..]: the counters; ARGV[1]: the counters' expiry,
# ARGV[2]: how many counters (n), ARGV[3..2+n]: their limits, then the list's most length, the
# flag's life (ms), the values. Returns {refused counter's 1-based position or 0, pushed}.
_GUARDED_PUSH = """
local n = tonumber(ARGV[2])
for i = 1, n do
  local key = KEYS[2 + i]
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  if count > tonumber(ARGV[2 + i]) then return {i, 0} end
end
if #ARGV < n + 5 then return {0, 0} end
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[n + 3]) then return {0, -1} end
redis.call('RPUSH', KEYS[1], unpack(ARGV, n + 5))
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[n + 4]) then return {0, 1} end
return {0, 0}
"""


class _Script:
    """A Lua script, run as EVALSHA on this thread's own connection to the limits' Redis (made
    by the client's pool: its address, database, password, TLS and timeouts).

    It runs on every browser request: redis-py's client-level call (a pooled connection taken
    and given back, the retry wrapper, its event hooks) cost about 100 us of CPU, four times
    the command's own; on a connection of its own, with hiredis parsing, about 35 us.
    """

    def __init__(self, url: str, source: str):
        self.url, self.source = url, source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._local = threading.local()

    def _connection(self):
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # first use in this thread, or forked
            local.connection = _client(self.url).connection_pool.make_connection()
            local.pid = os.getpid()
        return local.connection

    def __call__(self, *, keys: list, args: list):
        # Once more on a new connection when the kept one was closed (a Redis restart, an idle
        # timeout), as redis-py's client retries: a script that ran twice counted a hit twice,
        # and pushed rows the drain's insert stores once.
        for attempt in (1, 2):
            connection = self._connection()
            try:
                return self._run(connection, keys, args)
            except redis.exceptions.ResponseError:
                raise  # an answer: the connection is in step
            except redis.ConnectionError:
                connection.disconnect()
                if attempt == 2:
                    raise
            except BaseException:
                connection.disconnect()  # a reply may be left half read: start afresh
                raise
        raise AssertionError("unreachable")

    def _run(self, connection, keys: list, args: list):
        try:
            connection.send_command("EVALSHA", self.sha, len(keys), *keys, *args)
            return connection.read_response()
        except redis.exceptions.NoScriptError:  # a restarted server: EVAL caches it again
            connection.send_command("EVAL", self.source, len(keys), *keys, *args)
            return connection.read_response()


@cache
def _push_script(url: str) -> _Script:
    return _Script(url, _GUARDED_PUSH)


@cache
def _script(url: str) -> _Script:
    return _Script(url, _HIT_MANY)


def client() -> redis.Redis | None:
    """The Redis the limits count in, for other counters kept the same way (never failing
    their caller): None when the limits are off (no REDIS_URL) or the breaker is open."""
    if not enabled() or _clock() < _broken_until:
        return None
    return _client(settings.REDIS_URL)


def trip(exc: Exception) -> None:
    """A Redis error: log it once and leave Redis alone for BREAKER_SECONDS."""
    _trip(exc)


def _trip(exc: Exception) -> None:
    global _broken_until
    with _lock:
        if _clock() < _broken_until:
            return
        _broken_until = _clock() + BREAKER_SECONDS
    logger.warning(
        "Rate limits are off for %.0f s: Redis failed (%s: %s).",
        BREAKER_SECONDS,
        exc.__class__.__name__,
        exc,
    )


def reset_breaker() -> None:
    global _broken_until
    _broken_until = 0.0


def client_ip(request) -> str | None:
    """The address the request came from: REMOTE_ADDR, or with TRUSTED_PROXY_HOPS reverse
    proxies in front of leadcrm, the address the outermost of them saw (X-Forwarded-For,
    counted from the right: entries further left are whatever the client sent). None when
    that is not an IP address."""
    address = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_HOPS
    if hops > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        forwarded = [part.strip() for part in forwarded if part.strip()]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    return _address(address)


# Both below parse an address (ipaddress: about 15 us each) on every browser request, for the
# few addresses a server sees again and again: kept, as pure functions of their text.
@lru_cache(maxsize=4096)
def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def ip_key(ip: str | None) -> str:
    """The rate-limit key of an address (from client_ip): an IPv6 address counts by its /64
    (one subscriber gets a whole /64 and could rotate through it)."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
