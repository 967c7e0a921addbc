"""Scoring's queue of events (events.models.PendingEvent): the one place that adds to it."""

from django.db import connection

from events.models import PendingEvent


def chunk_size(columns: int) -> int:
    """Rows of `columns` parameters one statement may carry (SQLite caps parameters)."""
    return max(1, min(1000, (connection.features.max_query_params or 10**6) // columns - 1))


def events_queue_for_scoring(*, event_ids) -> None:
    """Put events (now linked to a lead) in scoring's queue; already queued ones stay once."""
    ids = sorted({int(i) for i in event_ids})
    if not ids:
        return
    pending = PendingEvent._meta.db_table
    size = chunk_size(1)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            cursor.execute(
                f"INSERT INTO {pending} (event_id) VALUES {', '.join(['(%s)'] * len(chunk))} "
                "ON CONFLICT (event_id) DO NOTHING",
                chunk,
            )
