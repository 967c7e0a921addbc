"""Per-user (and per-address, for anonymous callers) limits on the REST API.

DRF's throttles keep every request's time in a list in the cache and rewrite the whole list on
each request: at the limits here (100,000 an hour, so that a busy person or an integration
syncing thousands of leads never meets it; the limit is there to stop abuse) that is a
megabyte a request. These count in fixed windows instead, one cache counter a window
(`cache.incr`), like core.ratelimit. The cache is Redis when REDIS_URL is set (shared by every
process), local memory otherwise (per process: good enough for development).

A cache failure lets the request through, logged: the limits are a shield, never an outage.
The answer past a limit is DRF's 429 with `Retry-After`, shaped by core.errors as
{"code": "throttled", "message": ...}.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from core import ratelimit

logger = logging.getLogger(__name__)

HOUR = 3600


class _WindowThrottle(SimpleRateThrottle):
    setting: str  # the Django setting holding this scope's requests an hour (0: no limit)
    # Set by SimpleRateThrottle.__init__ from get_rate(): requests and seconds a window.
    num_requests: int
    duration: int

    def timer(self) -> float:  # tests freeze it
        return time.time()

    def get_rate(self) -> str | None:
        per_hour = getattr(settings, self.setting)
        return f"{per_hour}/hour" if per_hour > 0 else None

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        key = f"{settings.RATE_LIMIT_KEY_PREFIX}api:{self.scope}:{ident}:{window}"
        try:
            cache.add(key, 0, timeout=self.duration + 1)
            count = cache.incr(key)
        except Exception as exc:  # noqa: BLE001 - any cache failure: allow, and say so
            logger.warning("API throttle off for this request: the cache failed (%r)", exc)
            return True
        self.window_ends = (window + 1) * self.duration
        return count <= self.num_requests

    def wait(self) -> float:
        return max(1.0, self.window_ends - self.now)


class UserRateThrottle(_WindowThrottle):
    """Signed-in callers (session or token), counted per user."""

    scope = "user"
    setting = "API_RATE_PER_USER_PER_HOUR"

    def get_cache_key(self, request, view) -> str | None:
        user = request.user
        return str(user.pk) if user and user.is_authenticated else None


class AnonRateThrottle(_WindowThrottle):
    """Anonymous callers, counted per client address (an IPv6 /64), found by the same
    trusted-proxy rule as every other per-address limit (core.ratelimit.client_ip)."""

    scope = "anon"
    setting = "API_RATE_ANON_PER_HOUR"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return ratelimit.ip_key(ratelimit.client_ip(request))
