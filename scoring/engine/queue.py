"""Scoring's queue (events.PendingEvent): the events a pass takes to score, and the events a
re-score has counted."""

from scoring.engine.sql import EVENTS, PENDING, Fragment, Scope, rows, run


def pop(cursor, limit: int) -> list[tuple[int, int]]:
    """Take up to `limit` events off the queue, oldest first: (event id, lead id).

    The queue rows are deleted in the caller's transaction, so a pass that fails puts them
    back. SKIP LOCKED: rows another pass holds are left to it. One statement, so the ids never
    travel to Python and back; the lead by a scalar subquery, an index lookup per event (as a
    join, the planner merge-joined the whole event table from its first row).
    """
    return rows(
        cursor,
        Fragment(
            f"WITH popped AS (DELETE FROM {PENDING} WHERE event_id IN (SELECT event_id "
            f"FROM {PENDING} ORDER BY event_id LIMIT %s FOR UPDATE SKIP LOCKED) "
            "RETURNING event_id) SELECT id, lead_id FROM (SELECT p.event_id AS id, "
            f"(SELECT e.lead_id FROM {EVENTS} e WHERE e.id = p.event_id) AS lead_id "
            "FROM popped p OFFSET 0) q WHERE lead_id IS NOT NULL ORDER BY id",
            [limit],
        ),
    )


def drop(cursor, scope: Scope) -> int:
    """Drop the queued events of leads in scope (a re-score of them has counted them)."""
    cond = scope.sql("e.lead_id")
    return run(
        cursor,
        Fragment(
            f"DELETE FROM {PENDING} WHERE event_id IN (SELECT q.event_id FROM {PENDING} q "
            f"JOIN {EVENTS} e ON e.id = q.event_id WHERE {cond.sql})",
            cond.params,
        ),
    )
