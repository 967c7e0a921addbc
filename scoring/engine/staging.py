"""The staging table: the ledger rows the rules give now, before they are reconciled with the
ledger (scoring.engine.ledger deletes what it no longer contains and inserts what is new, so
rows that did not change keep their identity).

A temporary table of the session, emptied at the start of each pass.
"""

from scoring.engine.sql import Fragment, run, select_ids

TMP = "scoring_tmp_derived"
# The columns of a staged row, in the order every derived SELECT gives them.
COLUMNS = "lead_id, rule_id, version_id, event_id, points, occurred_at, expires_at"


def begin(cursor) -> None:
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {TMP} (lead_id bigint NOT NULL, "
        "rule_id bigint NOT NULL, version_id bigint NOT NULL, event_id bigint, "
        "points integer NOT NULL, occurred_at timestamptz NOT NULL, expires_at timestamptz)"
    )
    cursor.execute(f"CREATE INDEX IF NOT EXISTS {TMP}_ev ON {TMP} (event_id, version_id)")
    cursor.execute(f"CREATE INDEX IF NOT EXISTS {TMP}_lead ON {TMP} (lead_id, version_id)")
    cursor.execute(f"TRUNCATE {TMP}")


def add(cursor, select: Fragment) -> int:
    """Stage the rows of a derived SELECT (scoring.engine.derive)."""
    return run(cursor, Fragment(f"INSERT INTO {TMP} ({COLUMNS}) {select.sql}", select.params))


def done(cursor) -> None:
    # Temporary tables get no autovacuum statistics; the anti-joins need them.
    cursor.execute(f"ANALYZE {TMP}")


def leads(cursor) -> list[int]:
    """The leads that have staged rows."""
    return select_ids(cursor, Fragment(f"SELECT DISTINCT lead_id FROM {TMP}"))
