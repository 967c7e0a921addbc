# TEMPORARY (web-forms): replaced by the CONSENT helper's version at merge
"""A fixed-window rate limiter on Redis: `hit(key, limit, window_seconds)`.

Off (always allowed) without REDIS_URL, and when Redis cannot be reached: a limit protects the
service, it must never take it down.
"""

import logging
import math
import time
from functools import lru_cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def hit(key: str, limit: int, window_seconds: int) -> tuple[bool, int]:
    """Count one hit of `key`; (allowed, retry_after seconds). The `limit`-th hit of a window
    is allowed, the next one is not, until the window ends."""
    if not settings.REDIS_URL:
        return True, 0
    now = time.time()
    window = int(now // window_seconds)
    slot = f"{key}:{window}"
    try:
        pipe = _client(settings.REDIS_URL).pipeline()
        pipe.incr(slot)
        pipe.expire(slot, window_seconds + 1)
        count = int(pipe.execute()[0])
    except redis.RedisError as exc:
        logger.warning("rate limit %s not checked (%s): allowed", key, exc)
        return True, 0
    if count <= limit:
        return True, 0
    return False, max(1, math.ceil((window + 1) * window_seconds - now))
