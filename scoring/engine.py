"""The set-based statements scoring is made of. Internal: scoring.services and scoring.selectors
call these inside their transactions; nothing here opens a transaction or takes a lock of its own.

Why raw SQL: scoring must turn a million events into ledger rows without them passing through
Python, i.e. `INSERT ... SELECT` with window functions and anti-joins, which the ORM cannot
express. The ORM builds everything else. Each statement works on a *scope* (a range of lead
ids for the re-score's chunks, or a list of ids for incremental scoring), so memory and lock
time are bounded by the chunk, never by the size of the event history.

Derived rows are staged in a temporary table and then reconciled with the ledger (delete what
the rules no longer give, insert what is new), so rows that did not change keep their identity.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from events.models import Event, PendingEvent
from leads.models import Lead, Stage, StageChange, Temperature
from scoring.models import LedgerEntry
from scoring.rules import PqlCondition, RuleDef, RuleKind, Thresholds
from scoring.sql import Dialect, Fragment, event_conditions, join, lead_conditions

LEDGER = LedgerEntry._meta.db_table
EVENTS = Event._meta.db_table
PENDING = PendingEvent._meta.db_table
LEADS = Lead._meta.db_table
CHANGES = StageChange._meta.db_table
TMP = "scoring_tmp_derived"
_COLUMNS = "lead_id, rule_id, version_id, event_id, points, occurred_at, expires_at"


@dataclass(frozen=True)
class Scope:
    """Leads a statement touches: ids in (after, upto], or an explicit list of ids."""

    after: int | None = None
    upto: int | None = None
    ids: tuple[int, ...] | None = None

    @classmethod
    def of(cls, ids) -> "Scope":
        return cls(ids=tuple(sorted({int(i) for i in ids})))

    def sql(self, d: Dialect, column: str) -> Fragment:
        if self.ids is not None:
            return d.id_in(column, list(self.ids))
        return Fragment(f"{column} > %s AND {column} <= %s", [self.after, self.upto])


class Engine:
    def __init__(self, cursor, vendor: str, adapt_datetime):
        self.cursor = cursor
        self.d = Dialect(vendor)
        self._adapt = adapt_datetime

    def _run(self, fragment: Fragment) -> int:
        self.cursor.execute(fragment.sql, fragment.params)
        return self.cursor.rowcount

    def _rows(self, fragment: Fragment) -> list[tuple]:
        self.cursor.execute(fragment.sql, fragment.params)
        return self.cursor.fetchall()

    def dt(self, value: datetime):
        return self._adapt(value)

    # --- staging ---------------------------------------------------------------------------

    def stage_begin(self) -> None:
        ts = "timestamptz" if self.d.pg else "datetime"
        self.cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {TMP} (lead_id bigint NOT NULL, "
            "rule_id bigint NOT NULL, version_id bigint NOT NULL, event_id bigint, "
            f"points integer NOT NULL, occurred_at {ts} NOT NULL, expires_at {ts})"
        )
        self.cursor.execute(f"CREATE INDEX IF NOT EXISTS {TMP}_ev ON {TMP} (event_id, version_id)")
        self.cursor.execute(f"CREATE INDEX IF NOT EXISTS {TMP}_lead ON {TMP} (lead_id, version_id)")
        self.cursor.execute(f"TRUNCATE {TMP}" if self.d.pg else f"DELETE FROM {TMP}")

    def stage_done(self) -> None:
        if self.d.pg:
            # Temporary tables get no autovacuum statistics; the anti-joins need them.
            self.cursor.execute(f"ANALYZE {TMP}")

    def stage(self, select: Fragment) -> int:
        return self._run(Fragment(f"INSERT INTO {TMP} ({_COLUMNS}) {select.sql}", select.params))

    # --- derivation: the rules as SELECTs of ledger rows ----------------------------------

    def _ruleset(self, rules: Sequence[RuleDef]) -> Fragment:
        rows = []
        for rule in rules:
            rows.append(
                Fragment(
                    "SELECT CAST(%s AS bigint) AS rule_id, CAST(%s AS bigint) AS version_id, "
                    "CAST(%s AS varchar(16)) AS event_type, CAST(%s AS varchar(255)) AS event_name,"
                    " CAST(%s AS integer) AS points, CAST(%s AS integer) AS max_times, "
                    "CAST(%s AS integer) AS days",
                    [
                        rule.rule_id,
                        rule.version_id,
                        rule.event_type,
                        rule.event_name,
                        rule.points,
                        rule.max_times,
                        rule.expires_after_days,
                    ],
                )
            )
        return Fragment(
            " UNION ALL ".join(r.sql for r in rows), [p for r in rows for p in r.params]
        )

    def _dispatch(self, rules: Sequence[RuleDef], conditions) -> Fragment:
        plain = [r.version_id for r in rules if not r.conditions]
        parts = (
            [Fragment(f"r.version_id IN ({', '.join(['%s'] * len(plain))})", plain)]
            if plain
            else []
        )
        for rule in rules:
            if rule.conditions:
                cond = conditions(self.d, rule)
                parts.append(
                    Fragment(f"r.version_id = %s AND ({cond.sql})", [rule.version_id, *cond.params])
                )
        return join(parts, " OR ")

    def derive_events(
        self,
        rules: Sequence[RuleDef],
        scope: Scope,
        *,
        event_ids: Sequence[int] | None = None,
    ) -> list[Fragment]:
        """SELECTs of the ledger rows `rules` give the events of leads in `scope`.

        Capped rules rank all of a lead's matching events (the first `max_times` by time win),
        so they always look at the leads' whole history. For incremental scoring, `event_ids`
        are the new events (uncapped rules look at those only) and `scope` the leads whose
        capped rules they may change (see capped_leads).
        """
        event_rules = [r for r in rules if r.kind is RuleKind.EVENT]
        selects = []
        for capped in (False, True):
            group = [r for r in event_rules if (r.max_times is not None) == capped]
            if not group:
                continue
            if event_ids is not None and not capped:
                where = self.d.id_in("e.id", list(event_ids))
            else:
                where = scope.sql(self.d, "e.lead_id")
            selects.append(self._derive_event_group(group, where, capped))
        return selects

    def capped_leads(self, rules: Sequence[RuleDef], event_ids: Sequence[int]) -> list[int]:
        """Leads whose ranking of a capped rule's events the new events may change.

        A capped rule's ledger rows are the lead's first `max_times` matching events by time.
        New events of the rule's type and name can only change that when fewer than
        `max_times` of those rows are earlier than the earliest new one; a lead that already
        earned the rule its full number of times before (the usual case: a tenth visit to the
        pricing page) is left alone. Property conditions are left to the ranking.
        """
        capped = [r for r in rules if r.kind is RuleKind.EVENT and r.max_times is not None]
        if not capped or not event_ids:
            return []
        ruleset = self._ruleset(capped)
        ids = self.d.id_in("e.id", list(event_ids))
        rows = self._rows(
            Fragment(
                "SELECT DISTINCT n.lead_id FROM (SELECT e.lead_id AS lead_id, "
                "r.version_id AS version_id, r.max_times AS max_times, "
                f"MIN(e.occurred_at) AS t0 FROM {EVENTS} e JOIN ({ruleset.sql}) r "
                f"ON e.type = r.event_type AND e.name = r.event_name WHERE {ids.sql} "
                "AND e.lead_id IS NOT NULL GROUP BY e.lead_id, r.version_id, r.max_times) n "
                f"WHERE (SELECT COUNT(*) FROM {LEDGER} x WHERE x.lead_id = n.lead_id "
                "AND x.version_id = n.version_id AND x.event_id IS NOT NULL "
                "AND x.occurred_at < n.t0) < n.max_times ORDER BY n.lead_id",
                [*ruleset.params, *ids.params],
            )
        )
        return [row[0] for row in rows]

    def _derive_event_group(self, rules, where: Fragment, capped: bool) -> Fragment:
        ruleset = self._ruleset(rules)
        parts = [Fragment("e.lead_id IS NOT NULL"), where]
        parts.append(self._dispatch(rules, lambda d, r: event_conditions(d, r, "e")))
        cond = join(parts, " AND ")
        expires = self.d.plus_days("e.occurred_at", "r.days")
        rank = (
            ", r.max_times AS max_times, ROW_NUMBER() OVER (PARTITION BY e.lead_id, r.version_id "
            "ORDER BY e.occurred_at, e.id) AS rn"
            if capped
            else ""
        )
        inner = (
            "SELECT e.lead_id AS lead_id, r.rule_id AS rule_id, r.version_id AS version_id, "
            "e.id AS event_id, r.points AS points, e.occurred_at AS occurred_at, "
            f"{expires} AS expires_at{rank} FROM {EVENTS} e JOIN ({ruleset.sql}) r "
            f"ON e.type = r.event_type AND e.name = r.event_name WHERE {cond.sql}"
        )
        params = [*ruleset.params, *cond.params]
        if capped:
            inner = f"SELECT {_COLUMNS} FROM ({inner}) m WHERE m.rn <= m.max_times"
        return Fragment(inner, params)

    def derive_fit(self, rules: Sequence[RuleDef], scope: Scope, now: datetime) -> Fragment | None:
        fit = [r for r in rules if r.kind is RuleKind.ATTRIBUTE]
        if not fit:
            return None
        ruleset = self._ruleset(fit)
        cond = join(
            [
                scope.sql(self.d, "l.id"),
                self._dispatch(fit, lambda d, r: lead_conditions(d, r, "l")),
            ],
            " AND ",
        )
        null_ts = "CAST(NULL AS timestamptz)" if self.d.pg else "NULL"
        sql = (
            "SELECT l.id AS lead_id, r.rule_id AS rule_id, r.version_id AS version_id, "
            "CAST(NULL AS bigint) AS event_id, r.points AS points, "
            f"CAST(%s AS {'timestamptz' if self.d.pg else 'text'}) AS occurred_at, "
            f"{null_ts} AS expires_at FROM {LEADS} l JOIN ({ruleset.sql}) r ON 1 = 1 "
            f"WHERE {cond.sql}"
        )
        return Fragment(sql, [self.dt(now), *ruleset.params, *cond.params])

    # --- reconciling the staged rows with the ledger --------------------------------------

    def ledger_delete_missing(
        self, scope: Scope, *, fit: bool, versions: Sequence[int] | None = None, summed=False
    ):
        """Delete ledger rows of leads in scope that the staged rows no longer contain.

        Returns how many, or with `summed` (PostgreSQL) the live points lost per lead."""
        where = [scope.sql(self.d, f"{LEDGER}.lead_id")]
        if versions is not None:
            where.append(self.d.id_in(f"{LEDGER}.version_id", list(versions)))
        if fit:
            where.append(
                Fragment(
                    f"{LEDGER}.event_id IS NULL AND NOT EXISTS (SELECT 1 FROM {TMP} d WHERE "
                    f"d.event_id IS NULL AND d.lead_id = {LEDGER}.lead_id "
                    f"AND d.version_id = {LEDGER}.version_id)"
                )
            )
        else:
            where.append(
                Fragment(
                    f"{LEDGER}.event_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {TMP} d WHERE "
                    f"d.event_id = {LEDGER}.event_id AND d.version_id = {LEDGER}.version_id "
                    f"AND d.lead_id = {LEDGER}.lead_id)"
                )
            )
        cond = join(where, " AND ")
        delete = Fragment(f"DELETE FROM {LEDGER} WHERE {cond.sql}", cond.params)
        return self._summed(delete) if summed else self._run(delete)

    def _summed(self, write: Fragment) -> dict[int, int]:
        """Live points per lead of the ledger rows an INSERT or DELETE wrote (PostgreSQL)."""
        rows = self._rows(
            Fragment(
                f"WITH changed AS ({write.sql} RETURNING lead_id, points, is_live) "
                "SELECT lead_id, SUM(CASE WHEN is_live THEN points ELSE 0 END) FROM changed "
                "GROUP BY lead_id",
                write.params,
            )
        )
        return {lead_id: int(total) for lead_id, total in rows}

    def staged_leads(self) -> list[int]:
        return [row[0] for row in self._rows(Fragment(f"SELECT DISTINCT lead_id FROM {TMP}"))]

    def ledger_insert_new(self, now: datetime, *, summed: bool = False):
        """Insert the staged rows the ledger lacks. Live unless already past their expiry.

        ON CONFLICT on the ledger's unique indexes rather than NOT EXISTS: each row probes the
        index, so the plan cannot go wrong when the ledger's statistics are stale (a re-score
        that starts from an empty ledger fills it faster than ANALYZE notices).

        Returns how many, or with `summed` (PostgreSQL) the live points gained per lead.
        """
        at = self.dt(now)
        insert = (
            f"INSERT INTO {LEDGER} (lead_id, rule_id, version_id, event_id, points, occurred_at, "
            "expires_at, is_live, created_at) SELECT d.lead_id, d.rule_id, d.version_id, "
            "d.event_id, d.points, d.occurred_at, d.expires_at, "
            "(d.expires_at IS NULL OR d.expires_at > %s), %s "
            f"FROM {TMP} d WHERE "
        )
        run = self._summed if summed else self._run
        events = run(
            Fragment(
                insert + "d.event_id IS NOT NULL ON CONFLICT (event_id, version_id) "
                "WHERE event_id IS NOT NULL DO NOTHING",
                [at, at],
            )
        )
        fits = run(
            Fragment(
                insert + "d.event_id IS NULL ON CONFLICT (lead_id, version_id) "
                "WHERE event_id IS NULL DO NOTHING",
                [at, at],
            )
        )
        if summed:
            return {k: events.get(k, 0) + fits.get(k, 0) for k in events.keys() | fits.keys()}
        return events + fits

    def ledger_expire(self, scope: Scope, now: datetime) -> int:
        cond = scope.sql(self.d, "lead_id")
        return self._run(
            Fragment(
                f"UPDATE {LEDGER} SET is_live = %s WHERE {cond.sql} AND is_live = %s "
                "AND expires_at IS NOT NULL AND expires_at <= %s",
                [False, *cond.params, True, self.dt(now)],
            )
        )

    def expiring_leads(self, now: datetime, limit: int) -> list[int]:
        rows = self._rows(
            Fragment(
                f"SELECT DISTINCT lead_id FROM {LEDGER} WHERE is_live = %s "
                "AND expires_at IS NOT NULL AND expires_at <= %s ORDER BY lead_id LIMIT %s",
                [True, self.dt(now), limit],
            )
        )
        return [row[0] for row in rows]

    # --- events --------------------------------------------------------------------------

    def pending_pop(self, limit: int) -> list[tuple[int, int]]:
        """Take up to `limit` events off scoring's queue, oldest first: (event id, lead id).

        The queue rows are deleted in the caller's transaction, so a pass that fails puts
        them back. SKIP LOCKED: rows another pass holds are left to it.
        """
        if self.d.pg:
            # One statement: the ids never travel to Python and back. The lead by a scalar
            # subquery, an index lookup per event (as a join, the planner merge-joined the
            # whole event table from its first row).
            return self._rows(
                Fragment(
                    f"WITH popped AS (DELETE FROM {PENDING} WHERE event_id IN (SELECT event_id "
                    f"FROM {PENDING} ORDER BY event_id LIMIT %s FOR UPDATE SKIP LOCKED) "
                    "RETURNING event_id) SELECT id, lead_id FROM (SELECT p.event_id AS id, "
                    f"(SELECT e.lead_id FROM {EVENTS} e WHERE e.id = p.event_id) AS lead_id "
                    "FROM popped p OFFSET 0) q WHERE lead_id IS NOT NULL ORDER BY id",
                    [limit],
                )
            )
        self.cursor.execute(
            f"DELETE FROM {PENDING} WHERE event_id IN (SELECT event_id FROM {PENDING} "
            "ORDER BY event_id LIMIT %s) RETURNING event_id",
            [limit],
        )
        ids = [row[0] for row in self.cursor.fetchall()]
        if not ids:
            return []
        cond = self.d.id_in("id", ids)
        return self._rows(
            Fragment(
                f"SELECT id, lead_id FROM {EVENTS} WHERE {cond.sql} AND lead_id IS NOT NULL "
                "ORDER BY id",
                cond.params,
            )
        )

    def pending_drop(self, scope: Scope) -> int:
        """Drop the queued events of leads in scope (a re-score of them has counted them)."""
        cond = scope.sql(self.d, "e.lead_id")
        return self._run(
            Fragment(
                f"DELETE FROM {PENDING} WHERE event_id IN (SELECT q.event_id FROM {PENDING} q "
                f"JOIN {EVENTS} e ON e.id = q.event_id WHERE {cond.sql})",
                cond.params,
            )
        )

    # --- leads ---------------------------------------------------------------------------

    def leads_lock(self, scope: Scope) -> None:
        """Lock the leads in id order first, so concurrent writers cannot deadlock with us.

        NO KEY UPDATE: we change scores, never keys, so ingestion inserting events for these
        leads (its foreign key check takes KEY SHARE) is not held up by a re-score chunk.
        """
        if not self.d.pg:
            return  # SQLite serialises writers on the whole database
        cond = scope.sql(self.d, "id")
        self._rows(
            Fragment(
                f"SELECT id FROM {LEADS} WHERE {cond.sql} ORDER BY id FOR NO KEY UPDATE",
                cond.params,
            )
        )

    @staticmethod
    def _band(total: str, thresholds: Thresholds) -> Fragment:
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

    def scores_add(self, deltas: dict[int, int], thresholds: Thresholds) -> int:
        """Add each lead's change of live points to its score (PostgreSQL), and set the band.

        Exact because scoring passes take turns (services' settings lock) and every pass keeps
        score = sum of live ledger rows at its commit: the new sum is the old score plus what
        this pass inserted minus what it deleted. Cheaper than summing each lead's ledger."""
        changed = sorted((lead_id, delta) for lead_id, delta in deltas.items() if delta)
        if not changed:
            return 0
        band = self._band(f"{LEADS}.score + d.delta", thresholds)
        return self._run(
            Fragment(
                f"UPDATE {LEADS} SET score = {LEADS}.score + d.delta, temperature = {band.sql} "
                "FROM (SELECT unnest(%s::bigint[]) AS lead_id, unnest(%s::integer[]) AS delta) d "
                f"WHERE {LEADS}.id = d.lead_id",
                [*band.params, [i for i, _ in changed], [d for _, d in changed]],
            )
        )

    def scores_refresh(self, scope: Scope, thresholds: Thresholds) -> int:
        """Set score = sum of live ledger rows, and the temperature band, where they differ."""
        cond = scope.sql(self.d, "l.id")
        band_fragment = self._band("s.total", thresholds)
        band, band_params = band_fragment.sql, band_fragment.params
        sql = (
            f"UPDATE {LEADS} SET score = s.total, temperature = {band} FROM ("
            "SELECT l.id AS lead_id, COALESCE(SUM(CASE WHEN x.is_live THEN x.points ELSE 0 END), 0)"
            f" AS total FROM {LEADS} l LEFT JOIN {LEDGER} x ON x.lead_id = l.id WHERE {cond.sql} "
            f"GROUP BY l.id) s WHERE {LEADS}.id = s.lead_id AND ({LEADS}.score <> s.total "
            f"OR {LEADS}.temperature <> {band})"
        )
        return self._run(Fragment(sql, [*band_params, *cond.params, *band_params]))

    def mql_candidates(self, scope: Scope, threshold: int) -> list[tuple[int, int]]:
        cond = scope.sql(self.d, "id")
        return self._rows(
            Fragment(
                f"SELECT id, score FROM {LEADS} WHERE {cond.sql} AND stage = %s AND score >= %s "
                "ORDER BY id",
                [*cond.params, Stage.IQL.value, threshold],
            )
        )

    def pql_candidates(
        self,
        scope: Scope,
        conditions: Sequence[PqlCondition],
        *,
        event_ids: Sequence[int] | None = None,
    ) -> list[int]:
        """Leads in IQL/MQL for which some moment meets every PQL condition (see rules.pql_met).

        The moments tried are the leads' own events of the conditions' names. With `event_ids`
        (incremental scoring) only moments whose windows contain a new event are tried: before
        the batch no moment of a lead still in IQL/MQL met the conditions (it would have
        moved), so only a window that gained an event can meet them now.
        """
        if not conditions:
            return []
        if not self.d.pg:
            if event_ids is not None:
                # The leads of the new events, whether or not they earned points.
                ids = self.d.id_in("id", list(event_ids))
                rows = self._rows(
                    Fragment(
                        f"SELECT DISTINCT lead_id FROM {EVENTS} WHERE {ids.sql} "
                        "AND lead_id IS NOT NULL",
                        ids.params,
                    )
                )
                scope = Scope.of(row[0] for row in rows)
            return self._pql_candidates_correlated(scope, conditions)
        names = sorted({c.event_name for c in conditions})
        marks = ", ".join(["%s"] * len(names))
        events_scope = scope.sql(self.d, "e.lead_id")
        prefix = Fragment("")
        if event_ids is not None:
            widest = max(c.within_days for c in conditions)
            # Per lead still in IQL/MQL, its new events of the conditions' names span [t0, t1].
            # A window [t - days, t] gains a new event only for t in [t0, t1 + days], so only
            # those moments are tried and only events in [t0 - widest, t1 + widest] are read.
            since = Fragment(
                f"SELECT e.lead_id, MIN(e.occurred_at) AS t0, MAX(e.occurred_at) AS t1 "
                f"FROM {EVENTS} e JOIN {LEADS} l ON l.id = e.lead_id WHERE "
                f"{self.d.id_in('e.id', list(event_ids)).sql} AND e.type = 'track' "
                f"AND e.name IN ({marks}) AND l.stage IN (%s, %s) GROUP BY e.lead_id",
                [list(event_ids), *names, Stage.IQL.value, Stage.MQL.value],
            )
            # Cheap first: a lead with fewer than N events of a name in that whole span cannot
            # meet "at least N". Each count stops at N rows (an index range scan), so a lead
            # with a long history but a missing condition costs a few index entries, not a
            # window over its history.
            upper = self.d.plus_days("s.t1", str(int(widest)))
            enough, enough_params = [], []
            for cond in sorted(conditions, key=lambda c: c.min_count):
                lower = self.d.minus_days("s.t0", cond.within_days)
                enough.append(
                    f"(SELECT COUNT(*) FROM (SELECT 1 FROM {EVENTS} x WHERE x.lead_id = s.lead_id "
                    "AND x.type = 'track' AND x.name = %s "
                    f"AND x.occurred_at >= {lower} AND x.occurred_at <= {upper} LIMIT %s) z) >= %s"
                )
                enough_params += [cond.event_name, cond.min_count, cond.min_count]
            prefix = Fragment(
                f"WITH s AS MATERIALIZED ({since.sql}), c AS MATERIALIZED (SELECT s.lead_id, "
                f"s.t0, s.t1 FROM s WHERE {' AND '.join(enough)}) ",
                [*since.params, *enough_params],
            )
            source = Fragment(
                f"FROM c JOIN {EVENTS} e ON e.lead_id = c.lead_id "
                f"AND e.occurred_at >= {self.d.minus_days('c.t0', widest)} "
                f"AND e.occurred_at <= {self.d.plus_days('c.t1', str(int(widest)))} "
                f"WHERE e.type = 'track' AND e.name IN ({marks})",
                names,
            )
            moment_from = "c.t0"
        else:
            # Only leads with enough events of every name at all are windowed.
            having = " AND ".join("COUNT(*) FILTER (WHERE name = %s) >= %s" for _ in conditions)
            enough = Fragment(
                f"SELECT lead_id FROM {EVENTS} WHERE {scope.sql(self.d, 'lead_id').sql} "
                f"AND type = 'track' AND name IN ({marks}) GROUP BY lead_id HAVING {having}",
                [
                    *scope.sql(self.d, "lead_id").params,
                    *names,
                    *[p for c in conditions for p in (c.event_name, c.min_count)],
                ],
            )
            source = Fragment(
                f"FROM {EVENTS} e JOIN {LEADS} l ON l.id = e.lead_id "
                "WHERE l.stage IN (%s, %s) AND e.type = 'track' "
                f"AND e.name IN ({marks}) AND {events_scope.sql} "
                f"AND e.lead_id IN ({enough.sql})",
                [Stage.IQL.value, Stage.MQL.value, *names, *events_scope.params, *enough.params],
            )
            moment_from = None
        counts, params = [], []
        # A RANGE frame over time per distinct number of days (conditions with the same days
        # share one window pass): the events in [t - days, t], peers of t included.
        days = sorted({int(c.within_days) for c in conditions})
        windows = [
            f"w{d} AS (PARTITION BY e.lead_id ORDER BY e.occurred_at RANGE BETWEEN "
            f"{d} * INTERVAL '1 day' PRECEDING AND CURRENT ROW)"
            for d in days
        ]
        for i, cond in enumerate(conditions):
            counts.append(
                f"COUNT(*) FILTER (WHERE e.name = %s) OVER w{int(cond.within_days)} AS n{i}"
            )
            params.append(cond.event_name)
        met = " AND ".join(f"m.n{i} >= %s" for i in range(len(conditions)))
        moment = f", {moment_from} AS t" if moment_from else ""
        later = " AND m.occurred_at >= m.t" if moment_from else ""
        reentry = self._after_reentry("m.lead_id", "m.occurred_at")
        rows = self._rows(
            Fragment(
                f"{prefix.sql}SELECT DISTINCT m.lead_id FROM (SELECT e.lead_id, e.occurred_at"
                f"{moment}, {', '.join(counts)} {source.sql} WINDOW {', '.join(windows)}) m "
                f"WHERE {met}{later} AND {reentry.sql} ORDER BY m.lead_id",
                [
                    *prefix.params,
                    *params,
                    *source.params,
                    *[c.min_count for c in conditions],
                    *reentry.params,
                ],
            )
        )
        return [row[0] for row in rows]

    def _after_reentry(self, lead: str, moment: str) -> Fragment:
        """`moment` is later than the lead's last move back into IQL/MQL (a recycle or a
        reopen), if it had one: conditions met before a rep sent the lead back do not send it
        to PQL again; new activity after that can."""
        never = "CAST('-infinity' AS timestamptz)" if self.d.pg else "''"
        return Fragment(
            f"{moment} > COALESCE((SELECT MAX(h.changed_at) FROM {CHANGES} h "
            f"WHERE h.lead_id = {lead} AND h.to_stage IN (%s, %s) "
            f"AND h.from_stage NOT IN ('', %s)), {never})",
            [Stage.IQL.value, Stage.MQL.value, Stage.IQL.value],
        )

    def _pql_candidates_correlated(
        self, scope: Scope, conditions: Sequence[PqlCondition]
    ) -> list[int]:
        """SQLite's version: a correlated count per moment and condition (quadratic in a
        lead's events, which the embedded set-up's small data can afford)."""
        names = sorted({c.event_name for c in conditions})
        c_scope = scope.sql(self.d, "c.lead_id")
        where = [
            c_scope,
            Fragment("l.stage IN (%s, %s)", [Stage.IQL.value, Stage.MQL.value]),
            Fragment(f"c.type = 'track' AND c.name IN ({', '.join(['%s'] * len(names))})", names),
            self._after_reentry("c.lead_id", "c.occurred_at"),
        ]
        for cond in conditions:
            inner_scope = scope.sql(self.d, "lead_id")
            where.append(
                Fragment(
                    f"c.lead_id IN (SELECT lead_id FROM {EVENTS} WHERE {inner_scope.sql} AND "
                    "type = 'track' AND name = %s GROUP BY lead_id HAVING COUNT(*) >= %s)",
                    [*inner_scope.params, cond.event_name, cond.min_count],
                )
            )
            start = self.d.minus_days("c.occurred_at", cond.within_days)
            where.append(
                Fragment(
                    f"(SELECT COUNT(*) FROM {EVENTS} e WHERE e.lead_id = c.lead_id AND "
                    f"e.type = 'track' AND e.name = %s AND e.occurred_at >= {start} AND "
                    "e.occurred_at <= c.occurred_at) >= %s",
                    [cond.event_name, cond.min_count],
                )
            )
        cond = join(where, " AND ")
        rows = self._rows(
            Fragment(
                f"SELECT DISTINCT c.lead_id FROM {EVENTS} c JOIN {LEADS} l ON l.id = c.lead_id "
                f"WHERE {cond.sql} ORDER BY c.lead_id",
                cond.params,
            )
        )
        return [row[0] for row in rows]

    # --- read-only: what a rule set would give --------------------------------------------

    def scores_under(self, rules: Sequence[RuleDef], scope: Scope, now: datetime) -> dict[int, int]:
        """Live points per lead in scope under `rules`, computed without writing anything."""
        selects = self.derive_events(rules, scope)
        fit = self.derive_fit(rules, scope, now)
        if fit is not None:
            selects.append(fit)
        if not selects:
            return {}
        union = Fragment(
            " UNION ALL ".join(
                f"SELECT {_COLUMNS} FROM ({s.sql}) q{i}" for i, s in enumerate(selects)
            ),
            [p for s in selects for p in s.params],
        )
        rows = self._rows(
            Fragment(
                "SELECT lead_id, SUM(CASE WHEN expires_at IS NULL OR expires_at > %s THEN points "
                f"ELSE 0 END) FROM ({union.sql}) u GROUP BY lead_id",
                [self.dt(now), *union.params],
            )
        )
        return {lead_id: int(total) for lead_id, total in rows}
