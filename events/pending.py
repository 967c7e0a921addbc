"""Scoring's queue of events (events.models.PendingEvent): the one place that adds to it."""

from django.db import connection

from events.models import PendingEvent

# Rows a statement carries: far below PostgreSQL's 65,535 parameters, and a short statement.
CHUNK = 1000


def events_queue_for_scoring(*, event_ids) -> None:
    """Put events (now linked to a lead) in scoring's queue; already queued ones stay once."""
    ids = sorted({int(i) for i in event_ids})
    if not ids:
        return
    pending = PendingEvent._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            cursor.execute(
                f"INSERT INTO {pending} (event_id) VALUES {', '.join(['(%s)'] * len(chunk))} "
                "ON CONFLICT (event_id) DO NOTHING",
                chunk,
            )
