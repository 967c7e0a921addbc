"""Each lead's journey, kept by PostgreSQL: the `leads.Journey` row (the stages the lead
reached, the stage of its last history row, and when it first entered IQL, SQL and CUSTOMER,
beside its cohort keys) and every history row's `left_at` (when the stay it starts ended) and
`lead_created_at` (its lead's, copied: a cohort's stays are read without a join).

The reports read these instead of folding the whole history on every request. Triggers, not
Python, keep them: history is written by the services, the demo and bench seeds and bulk SQL,
and a trigger runs in the very statement that writes, whoever wrote it, so the summary can
never disagree with the history it sums. The SQL is generated from the Python constants below
(the bits, the recycle moves of `leads.lifecycle`) and installed, idempotently, after every
`migrate` (`install`, connected to `post_migrate` by the app), so the database always runs the
code's version, in test databases built without migrations too.

What the triggers do:

- a lead inserted gets its journey row (in the same statement);
- a lead whose created_at, source, utm_campaign or owner changes has them copied to its row;
- history rows inserted, deleted, or moved to another lead / stage / time make each lead
  touched recompute its row and its rows' `left_at` from its whole history (a few rows a lead;
  one set-based statement for a bulk insert or delete, a row-level trigger for the rare move).
  Updating only `left_at` fires nothing, so the recompute's own update does not recurse.
  PL/pgSQL, whose statements' plans a connection keeps (an SQL function plans every call).
"""

from typing import Any

from django.db import connection

from leads.lifecycle import FUNNEL, recycle_move
from leads.models import Journey, Lead, Stage, StageChange

# A bit for every stage a lead can reach, and one for "sales handed it back to nurture".
BIT: dict[str, int] = {
    stage: 1 << index for index, stage in enumerate([*FUNNEL, Stage.DISQUALIFIED])
}
RECYCLED = 1 << len(BIT)

# History rows that hand a lead back to nurture (lifecycle.is_recycle): into MQL from PQL, SAL,
# SQL, or MQL -> MQL (sales returned an assigned lead it never accepted).
RECYCLE_FROM: list[str] = [stage for stage in Stage.values if recycle_move(stage) is not None]

# The first entries the journey row keeps, as its column names.
FIRST_ENTRIES = {Stage.IQL: "iql_at", Stage.SQL: "sql_at", Stage.CUSTOMER: "customer_at"}

LEAD = Lead._meta.db_table
HISTORY = StageChange._meta.db_table
JOURNEY = Journey._meta.db_table


def row_bits(from_stage: str, to_stage: str) -> int:
    """What one history row adds to a journey's `reached` (the Python twin of `_BITS_SQL`)."""
    recycled = RECYCLED if to_stage == Stage.MQL and from_stage in RECYCLE_FROM else 0
    return BIT.get(to_stage, 0) | recycled


def _quoted(values: list[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)  # our own constants: no user input


_BITS_SQL = (
    "CASE sc.to_stage "
    + " ".join(f"WHEN '{stage}' THEN {bit}" for stage, bit in BIT.items())
    + " ELSE 0 END"
    + f" | CASE WHEN sc.to_stage = '{Stage.MQL}' AND sc.from_stage IN ({_quoted(RECYCLE_FROM)})"
    + f" THEN {RECYCLED} ELSE 0 END"
)
_FIRSTS_SQL = ",\n            ".join(
    f"min(sc.changed_at) FILTER (WHERE sc.to_stage = '{stage}') AS {column}"
    for stage, column in FIRST_ENTRIES.items()
)
_FIRST_COLUMNS = ", ".join(FIRST_ENTRIES.values())
_KEY_COLUMNS = ("created_at", "source", "utm_campaign", "owner_id")
_KEYS = ", ".join(_KEY_COLUMNS)
_MOVED_COLUMNS = ("lead_id", "from_stage", "to_stage", "changed_at")
_SUMMARY_COLUMNS = ("reached", "last_stage", *FIRST_ENTRIES.values())


def _row(alias: str, columns: tuple[str, ...]) -> str:
    """`(alias.a, alias.b, ...)`"""
    return "(" + ", ".join(f"{alias}.{column}" for column in columns) + ")"


def _refresh_statements(ids: str) -> tuple[str, str]:
    """The journey refresh's two statements (the journeys, then the history rows' `left_at`)
    for the leads in the array `ids` (an expression: the function's parameter, or `$1` in
    dynamic SQL)."""
    journeys = f"""
    UPDATE {JOURNEY} AS j
    SET reached = h.reached, last_stage = h.last_stage,
        {", ".join(f"{c} = h.{c}" for c in FIRST_ENTRIES.values())}
    FROM (
        SELECT ids.id AS lead_id, coalesce(bit_or({_BITS_SQL}), 0) AS reached,
            coalesce((array_agg(sc.to_stage ORDER BY sc.changed_at DESC, sc.id DESC))[1], '')
                AS last_stage,
            {_FIRSTS_SQL}
        FROM (SELECT DISTINCT unnest({ids}) AS id) AS ids
        LEFT JOIN {HISTORY} AS sc ON sc.lead_id = ids.id
        GROUP BY ids.id
    ) AS h
    WHERE j.lead_id = h.lead_id
        AND {_row("j", _SUMMARY_COLUMNS)} IS DISTINCT FROM {_row("h", _SUMMARY_COLUMNS)}"""
    stays = f"""
    UPDATE {HISTORY} AS sc SET left_at = n.left_at, lead_created_at = n.lead_created_at
    FROM (
        SELECT h.id, l.created_at AS lead_created_at,
            lead(h.changed_at) OVER (PARTITION BY h.lead_id ORDER BY h.changed_at, h.id)
                AS left_at
        FROM {HISTORY} AS h JOIN {LEAD} AS l ON l.id = h.lead_id
        WHERE h.lead_id = ANY({ids})
    ) AS n
    WHERE sc.id = n.id
        AND (sc.left_at, sc.lead_created_at) IS DISTINCT FROM (n.left_at, n.lead_created_at)"""
    return journeys, stays


# A refresh of more leads than this plans its statements for the batch at hand (dynamic SQL).
# PL/pgSQL keeps a connection's plans: after a few calls it may settle on a generic plan made
# while the tables were small (an empty test database, a new install), nested loops that
# then walk the whole history once per row of a bulk write (the demo's 2,000 leads took
# minutes, and timed out tests, on the embedded PostgreSQL). A trigger's few leads keep the
# cached plans: planning them on every stage change would cost each one.
BULK_REFRESH = 64
_BULK_JOURNEYS, _BULK_STAYS = _refresh_statements("$1")
_JOURNEYS, _STAYS = _refresh_statements("lead_ids")

INSTALL_SQL = f"""
CREATE OR REPLACE FUNCTION leads_journey_refresh(lead_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(lead_ids) > {BULK_REFRESH} THEN
        EXECUTE $q$ {_BULK_JOURNEYS} $q$ USING lead_ids;
        EXECUTE $q$ {_BULK_STAYS} $q$ USING lead_ids;
        RETURN;
    END IF;
    {_JOURNEYS};
    {_STAYS};
END $$;

CREATE OR REPLACE FUNCTION leads_history_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM leads_journey_refresh(ARRAY(SELECT lead_id FROM new_rows));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION leads_history_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM leads_journey_refresh(ARRAY(SELECT lead_id FROM old_rows));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION leads_history_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM leads_journey_refresh(ARRAY[OLD.lead_id, NEW.lead_id]);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION leads_lead_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {JOURNEY} (lead_id, {_KEYS}, reached, last_stage)
    SELECT id, {_KEYS}, 0, '' FROM new_rows;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION leads_lead_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {JOURNEY}
    SET {", ".join(f"{key} = NEW.{key}" for key in _KEY_COLUMNS)}
    WHERE lead_id = NEW.id;
    IF OLD.created_at IS DISTINCT FROM NEW.created_at THEN
        UPDATE {HISTORY} SET lead_created_at = NEW.created_at WHERE lead_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER leads_history_journey_insert AFTER INSERT ON {HISTORY}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION leads_history_inserted();
CREATE OR REPLACE TRIGGER leads_history_journey_delete AFTER DELETE ON {HISTORY}
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION leads_history_deleted();
CREATE OR REPLACE TRIGGER leads_history_journey_update
    AFTER UPDATE OF {", ".join(_MOVED_COLUMNS)} ON {HISTORY}
    FOR EACH ROW
    WHEN ({_row("OLD", _MOVED_COLUMNS)} IS DISTINCT FROM {_row("NEW", _MOVED_COLUMNS)})
    EXECUTE FUNCTION leads_history_moved();
CREATE OR REPLACE TRIGGER leads_lead_journey_insert AFTER INSERT ON {LEAD}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION leads_lead_inserted();
CREATE OR REPLACE TRIGGER leads_lead_journey_keys AFTER UPDATE ON {LEAD}
    FOR EACH ROW
    WHEN ({_row("OLD", _KEY_COLUMNS)} IS DISTINCT FROM {_row("NEW", _KEY_COLUMNS)})
    EXECUTE FUNCTION leads_lead_keys_changed();
"""

# Every lead that has no journey row yet gets one, and every journey is recomputed: for the
# migration that brings the table to a database with leads, and for `rebuild`.
BACKFILL_SQL = f"""
INSERT INTO {JOURNEY} (lead_id, {_KEYS}, reached, last_stage)
SELECT id, {_KEYS}, 0, '' FROM {LEAD}
ON CONFLICT (lead_id) DO NOTHING;
SELECT leads_journey_refresh(ARRAY(SELECT id FROM {LEAD}));
ANALYZE {JOURNEY};
"""


UNINSTALL_SQL = f"""
DROP TRIGGER IF EXISTS leads_history_journey_insert ON {HISTORY};
DROP TRIGGER IF EXISTS leads_history_journey_delete ON {HISTORY};
DROP TRIGGER IF EXISTS leads_history_journey_update ON {HISTORY};
DROP TRIGGER IF EXISTS leads_lead_journey_insert ON {LEAD};
DROP TRIGGER IF EXISTS leads_lead_journey_keys ON {LEAD};
DROP FUNCTION IF EXISTS leads_history_inserted(), leads_history_deleted(),
    leads_history_moved(), leads_lead_inserted(), leads_lead_keys_changed(),
    leads_journey_refresh(bigint[]);
"""


def installed(cursor: Any) -> bool:
    """Does the schema the triggers use exist (not so before leads migration 0011, or during
    a migration back before it)?"""
    if JOURNEY not in connection.introspection.table_names(cursor):
        return False
    columns = connection.introspection.get_table_description(cursor, HISTORY)
    return any(column.name == "lead_created_at" for column in columns)


def install(*, backfill: bool = False) -> None:
    """Create or replace the functions and triggers (idempotent); with `backfill`, also fill
    every lead's journey from its history."""
    with connection.cursor() as cursor:
        if not installed(cursor):
            return
        cursor.execute(INSTALL_SQL)
        if backfill:
            cursor.execute(BACKFILL_SQL)


def uninstall() -> None:
    """Drop the triggers and their functions (the migration's way back)."""
    with connection.cursor() as cursor:
        cursor.execute(UNINSTALL_SQL)


def on_post_migrate(*, using: str = "default", **_: Any) -> None:
    """`post_migrate` receiver: the database runs this code's triggers after every migrate."""
    if using == connection.alias:
        install()
