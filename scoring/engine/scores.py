"""Leads' scores and temperature bands: locking the leads a pass changes, moving their scores
by the points a pass inserted and deleted, or setting them to the sum of their live ledger rows.
"""

from leads.models import Temperature
from scoring.engine.sql import LEADS, LEDGER, Fragment, Scope, rows, run
from scoring.rules import Thresholds


def lock(cursor, scope: Scope) -> None:
    """Lock the leads in id order first, so concurrent writers cannot deadlock with us.

    NO KEY UPDATE: we change scores, never keys, so ingestion inserting events for these
    leads (its foreign key check takes KEY SHARE) is not held up by a re-score chunk.
    """
    cond = scope.sql("id")
    rows(
        cursor,
        Fragment(
            f"SELECT id FROM {LEADS} WHERE {cond.sql} ORDER BY id FOR NO KEY UPDATE", cond.params
        ),
    )


def add(cursor, deltas: dict[int, int], thresholds: Thresholds) -> int:
    """Add each lead's change of live points to its score, and set the band.

    Exact because scoring passes take turns (services' settings lock) and every pass keeps
    score = sum of live ledger rows at its commit: the new sum is the old score plus what
    this pass inserted minus what it deleted. Cheaper than summing each lead's ledger."""
    changed = sorted((lead_id, delta) for lead_id, delta in deltas.items() if delta)
    if not changed:
        return 0
    band = _band(f"{LEADS}.score + d.delta", thresholds)
    return run(
        cursor,
        Fragment(
            f"UPDATE {LEADS} SET score = {LEADS}.score + d.delta, temperature = {band.sql} "
            "FROM (SELECT unnest(%s::bigint[]) AS lead_id, unnest(%s::integer[]) AS delta) d "
            f"WHERE {LEADS}.id = d.lead_id",
            [*band.params, [i for i, _ in changed], [d for _, d in changed]],
        ),
    )


def refresh(cursor, scope: Scope, thresholds: Thresholds) -> int:
    """Set score = sum of live ledger rows, and the temperature band, where they differ."""
    cond = scope.sql("l.id")
    band = _band("s.total", thresholds)
    sql = (
        f"UPDATE {LEADS} SET score = s.total, temperature = {band.sql} FROM ("
        "SELECT l.id AS lead_id, COALESCE(SUM(CASE WHEN x.is_live THEN x.points ELSE 0 END), 0)"
        f" AS total FROM {LEADS} l LEFT JOIN {LEDGER} x ON x.lead_id = l.id WHERE {cond.sql} "
        f"GROUP BY l.id) s WHERE {LEADS}.id = s.lead_id AND ({LEADS}.score <> s.total "
        f"OR {LEADS}.temperature <> {band.sql})"
    )
    return run(cursor, Fragment(sql, [*band.params, *cond.params, *band.params]))


def _band(total: str, thresholds: Thresholds) -> Fragment:
    """The temperature for the score `total` (as rules.temperature_for)."""
    return Fragment(
        f"CASE WHEN {total} >= %s THEN %s WHEN {total} >= %s THEN %s ELSE %s END",
        [
            thresholds.hot_at,
            Temperature.HOT.value,
            thresholds.warm_at,
            Temperature.WARM.value,
            Temperature.COLD.value,
        ],
    )
