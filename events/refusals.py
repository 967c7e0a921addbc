"""Messages and requests ingestion refused, counted per source and day, for the sources page.

Only refusals are counted (a request from an origin the source does not allow, over a limit,
malformed, or a batch's rejected messages), so the accepted hot path pays nothing. Kept in the
Redis the rate limits use: one hash a day (`<RATE_LIMIT_KEY_PREFIX>source-refusals:<day>`, field:
the source's id), kept 35 days. Like the limits, never a point of failure: without Redis nothing
is counted (the page says so), and a Redis error is logged and ignored.
"""

from datetime import date, timedelta

import redis
from django.conf import settings
from django.utils import timezone

from core import ratelimit

KEEP_SECONDS = 35 * 86400


def _key(day: date) -> str:
    return f"{settings.RATE_LIMIT_KEY_PREFIX}source-refusals:{day.isoformat()}"


def refusals_count(*, source_id: int, count: int = 1) -> None:
    """Add `count` refusals to the source's tally for today (the site's zone)."""
    client = ratelimit.client()
    if client is None or count < 1:
        return
    key = _key(timezone.localdate())
    try:
        pipe = client.pipeline(transaction=False)
        pipe.hincrby(key, str(source_id), count)
        pipe.expire(key, KEEP_SECONDS)
        pipe.execute()
    except redis.RedisError as exc:
        ratelimit.trip(exc)


def refusals_per_day(*, source_ids: list[int], first: date, days: int) -> dict[int, list[int]]:
    """Refusals of each source on each day from `first` (oldest first); an empty dict when
    they are not counted (no Redis, or it does not answer)."""
    client = ratelimit.client()
    if client is None:
        return {}
    fields = [str(source_id) for source_id in source_ids]
    try:
        pipe = client.pipeline(transaction=False)
        for i in range(days):
            pipe.hmget(_key(first + timedelta(days=i)), fields)
        answers = pipe.execute()
    except redis.RedisError as exc:
        ratelimit.trip(exc)
        return {}
    return {
        source_id: [int(day[index] or 0) for day in answers]
        for index, source_id in enumerate(source_ids)
    }
