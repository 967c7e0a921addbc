"""Celery's Redis transport, keeping one Redis client object a channel.

kombu's Redis channel builds a new `redis.Redis` for every message it publishes (its
`_create_client`, from `conn_or_acquire`): the socket comes from the channel's pool, but the
client object is made afresh, and redis-py 8 sets up some 170 reply callbacks on each one,
about half a millisecond of CPU a publish, a form submission or an identify call publishes two
or three tasks. This channel keeps the one it made while its pool is the same (a client only
holds the pool: it is as safe to share between threads as the pool is) and builds another when
kombu replaces the pool (after a fork). Selected by `CELERY_BROKER_TRANSPORT` in settings when
the broker is Redis; everything else is kombu's.
"""

import redis
from kombu.transport import redis as kombu_redis

# (`_create_client` is kombu's own, which its type stubs leave out.)


class Channel(kombu_redis.Channel):
    _kept_client: redis.Redis | None = None

    def _create_client(self, asynchronous=False):
        if asynchronous:  # the consumer's, made once by kombu itself
            return super()._create_client(asynchronous=True)  # type: ignore[misc]
        kept = self._kept_client
        if kept is None or kept.connection_pool is not self.pool:
            kept = self._kept_client = super()._create_client()  # type: ignore[misc]
        return kept


class Transport(kombu_redis.Transport):
    Channel = Channel
