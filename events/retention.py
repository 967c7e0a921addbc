"""Raw event retention: events received longer ago than LEADCRM_EVENT_RETENTION_DAYS are
deleted, in batches, by a periodic job (leadcrm/schedule.py). 0 keeps events forever.

What survives: the leads, their stage history, scores and the scoring ledger (whose rows keep
the id of the event that earned them: no database constraint ties them, so the points stay),
and every report built from those. A re-score rebuilds the ledger from the events still kept,
so points of deleted events are not earned again then.
"""

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from events.models import Event, PendingEvent

_EVENTS = Event._meta.db_table
_PENDING = PendingEvent._meta.db_table

# One batch: the oldest ids first (ids grow with arrival), scoring's queue rows with them.
_PURGE_SQL = f"""
WITH doomed AS (
    SELECT id FROM {_EVENTS} WHERE received_at < %s ORDER BY id LIMIT %s
), unqueued AS (
    DELETE FROM {_PENDING} WHERE event_id IN (SELECT id FROM doomed)
)
DELETE FROM {_EVENTS} WHERE id IN (SELECT id FROM doomed)
"""


def retention_cutoff(now: datetime | None = None) -> datetime | None:
    """Events received before this instant are past retention; None: kept forever."""
    days = settings.LEADCRM_EVENT_RETENTION_DAYS
    if days == 0:
        return None
    return (now or timezone.now()) - timedelta(days=days)


def events_purge(
    *, now: datetime | None = None, batch: int | None = None, budget_seconds: float = 60.0
) -> int:
    """Delete events received before the retention cutoff (strictly before: an event received
    at the cutoff instant stays), one batch a transaction, so that no lock is held long and
    ingestion never waits; stops after `budget_seconds` (the next run goes on). Returns how
    many were deleted."""
    cutoff = retention_cutoff(now)
    if cutoff is None:
        return 0
    batch = batch or settings.LEADCRM_EVENT_RETENTION_BATCH
    deadline = time.monotonic() + budget_seconds
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_PURGE_SQL, [cutoff, batch])
            count = cursor.rowcount
        deleted += count
        if count < batch or time.monotonic() > deadline:
            return deleted
