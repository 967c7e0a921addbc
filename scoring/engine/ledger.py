"""Reconciling the staged rows (scoring.engine.staging) with the ledger, and expiring points.

Rows the staged set no longer contains are deleted, staged rows the ledger lacks are inserted;
rows that did not change are left alone, so they keep their identity. The `_points` variants
return the live points each lead lost or gained, which is what an event pass moves scores by
(scoring.engine.scores.add).
"""

from collections.abc import Sequence
from datetime import datetime

from scoring.engine.sql import LEDGER, Fragment, Scope, id_in, join, rows, run, select_ids
from scoring.engine.staging import TMP


def delete_missing(
    cursor, scope: Scope, *, fit: bool, versions: Sequence[int] | None = None
) -> int:
    """Delete the ledger rows of leads in scope (of `versions`, if given) that the staged rows
    no longer contain: the event rows, or with `fit` the fit rows. Returns how many."""
    return run(cursor, _delete_missing(scope, fit=fit, versions=versions))


def delete_missing_points(
    cursor, scope: Scope, *, fit: bool, versions: Sequence[int] | None = None
) -> dict[int, int]:
    """delete_missing, returning the live points each lead lost."""
    return _summed(cursor, _delete_missing(scope, fit=fit, versions=versions))


def _delete_missing(scope: Scope, *, fit: bool, versions: Sequence[int] | None) -> Fragment:
    where = [scope.sql(f"{LEDGER}.lead_id")]
    if versions is not None:
        where.append(id_in(f"{LEDGER}.version_id", list(versions)))
    where.append(_fit_row_unstaged() if fit else _event_row_unstaged())
    cond = join(where, " AND ")
    return Fragment(f"DELETE FROM {LEDGER} WHERE {cond.sql}", cond.params)


def _fit_row_unstaged() -> Fragment:
    return Fragment(
        f"{LEDGER}.event_id IS NULL AND NOT EXISTS (SELECT 1 FROM {TMP} d WHERE "
        f"d.event_id IS NULL AND d.lead_id = {LEDGER}.lead_id "
        f"AND d.version_id = {LEDGER}.version_id)"
    )


def _event_row_unstaged() -> Fragment:
    return Fragment(
        f"{LEDGER}.event_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {TMP} d WHERE "
        f"d.event_id = {LEDGER}.event_id AND d.version_id = {LEDGER}.version_id "
        f"AND d.lead_id = {LEDGER}.lead_id)"
    )


def insert_new(cursor, now: datetime) -> int:
    """Insert the staged rows the ledger lacks, live unless already past their expiry at
    `now`. Returns how many."""
    return sum(run(cursor, insert) for insert in _inserts(now))


def insert_new_points(cursor, now: datetime) -> dict[int, int]:
    """insert_new, returning the live points each lead gained."""
    gained: dict[int, int] = {}
    for insert in _inserts(now):
        for lead_id, points in _summed(cursor, insert).items():
            gained[lead_id] = gained.get(lead_id, 0) + points
    return gained


def _inserts(now: datetime) -> list[Fragment]:
    """The event rows' INSERT, then the fit rows'.

    ON CONFLICT on the ledger's unique indexes rather than NOT EXISTS: each row probes the
    index, so the plan cannot go wrong when the ledger's statistics are stale (a re-score
    that starts from an empty ledger fills it faster than ANALYZE notices).
    """
    insert = (
        f"INSERT INTO {LEDGER} (lead_id, rule_id, version_id, event_id, points, occurred_at, "
        "expires_at, is_live, created_at) SELECT d.lead_id, d.rule_id, d.version_id, "
        "d.event_id, d.points, d.occurred_at, d.expires_at, "
        "(d.expires_at IS NULL OR d.expires_at > %s), %s "
        f"FROM {TMP} d WHERE "
    )
    return [
        Fragment(
            insert + "d.event_id IS NOT NULL ON CONFLICT (event_id, version_id) "
            "WHERE event_id IS NOT NULL DO NOTHING",
            [now, now],
        ),
        Fragment(
            insert + "d.event_id IS NULL ON CONFLICT (lead_id, version_id) "
            "WHERE event_id IS NULL DO NOTHING",
            [now, now],
        ),
    ]


def _summed(cursor, write: Fragment) -> dict[int, int]:
    """Live points per lead of the ledger rows an INSERT or DELETE wrote."""
    totals = rows(
        cursor,
        Fragment(
            f"WITH changed AS ({write.sql} RETURNING lead_id, points, is_live) "
            "SELECT lead_id, SUM(CASE WHEN is_live THEN points ELSE 0 END) FROM changed "
            "GROUP BY lead_id",
            write.params,
        ),
    )
    return {lead_id: int(total) for lead_id, total in totals}


def expire(cursor, scope: Scope, now: datetime) -> int:
    """Switch off the live rows of leads in scope whose expiry is at or before `now`."""
    cond = scope.sql("lead_id")
    return run(
        cursor,
        Fragment(
            f"UPDATE {LEDGER} SET is_live = %s WHERE {cond.sql} AND is_live = %s "
            "AND expires_at IS NOT NULL AND expires_at <= %s",
            [False, *cond.params, True, now],
        ),
    )


def expiring_leads(cursor, now: datetime, limit: int) -> list[int]:
    """Up to `limit` leads (lowest ids first) with live rows past their expiry at `now`."""
    return select_ids(
        cursor,
        Fragment(
            f"SELECT DISTINCT lead_id FROM {LEDGER} WHERE is_live = %s "
            "AND expires_at IS NOT NULL AND expires_at <= %s ORDER BY lead_id LIMIT %s",
            [True, now, limit],
        ),
    )
