"""The rules as SELECTs of ledger rows: which rows the rules give the events and fields of a
scope of leads (staged, then reconciled with the ledger), and what a rule set would score.

Rules travel as an inline table of parameters (one row per rule version), joined to the events
on (type, name); property conditions are dispatched per version.
"""

from collections.abc import Callable, Sequence
from datetime import datetime

from scoring.engine.conditions import event_conditions, lead_conditions
from scoring.engine.sql import (
    EVENTS,
    LEADS,
    LEDGER,
    Fragment,
    Scope,
    id_in,
    join,
    plus_days,
    rows,
    select_ids,
)
from scoring.engine.staging import COLUMNS
from scoring.rules import RuleDef, RuleKind


def events(
    rules: Sequence[RuleDef], scope: Scope, *, event_ids: Sequence[int] | None = None
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
            where = id_in("e.id", list(event_ids))
        else:
            where = scope.sql("e.lead_id")
        selects.append(_event_group(group, where, capped))
    return selects


def _event_group(rules: Sequence[RuleDef], where: Fragment, capped: bool) -> Fragment:
    """The rows of uncapped rules, or of capped ones (their first `max_times` events win)."""
    ruleset = _ruleset(rules)
    cond = join([Fragment("e.lead_id IS NOT NULL"), where, _dispatch(rules, _on_events)], " AND ")
    rank = (
        ", r.max_times AS max_times, ROW_NUMBER() OVER (PARTITION BY e.lead_id, r.version_id "
        "ORDER BY e.occurred_at, e.id) AS rn"
        if capped
        else ""
    )
    inner = (
        "SELECT e.lead_id AS lead_id, r.rule_id AS rule_id, r.version_id AS version_id, "
        "e.id AS event_id, r.points AS points, e.occurred_at AS occurred_at, "
        f"{plus_days('e.occurred_at', 'r.days')} AS expires_at{rank} FROM {EVENTS} e "
        f"JOIN ({ruleset.sql}) r ON e.type = r.event_type AND e.name = r.event_name "
        f"WHERE {cond.sql}"
    )
    if capped:
        inner = f"SELECT {COLUMNS} FROM ({inner}) m WHERE m.rn <= m.max_times"
    return Fragment(inner, [*ruleset.params, *cond.params])


def _on_events(rule: RuleDef) -> Fragment:
    return event_conditions(rule, "e")


def _on_leads(rule: RuleDef) -> Fragment:
    return lead_conditions(rule, "l")


def fit(rules: Sequence[RuleDef], scope: Scope, now: datetime) -> Fragment | None:
    """The SELECT of the rows the fit (attribute) rules give the leads in `scope`, dated `now`;
    None without fit rules."""
    fit_rules = [r for r in rules if r.kind is RuleKind.ATTRIBUTE]
    if not fit_rules:
        return None
    ruleset = _ruleset(fit_rules)
    cond = join([scope.sql("l.id"), _dispatch(fit_rules, _on_leads)], " AND ")
    sql = (
        "SELECT l.id AS lead_id, r.rule_id AS rule_id, r.version_id AS version_id, "
        "CAST(NULL AS bigint) AS event_id, r.points AS points, "
        "CAST(%s AS timestamptz) AS occurred_at, "
        f"CAST(NULL AS timestamptz) AS expires_at FROM {LEADS} l JOIN ({ruleset.sql}) r "
        f"ON 1 = 1 WHERE {cond.sql}"
    )
    return Fragment(sql, [now, *ruleset.params, *cond.params])


def capped_leads(cursor, rules: Sequence[RuleDef], event_ids: Sequence[int]) -> list[int]:
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
    ruleset = _ruleset(capped)
    ids = id_in("e.id", list(event_ids))
    return select_ids(
        cursor,
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
        ),
    )


def scores_under(cursor, rules: Sequence[RuleDef], scope: Scope, now: datetime) -> dict[int, int]:
    """Live points per lead in scope under `rules`, computed without writing anything."""
    totals: dict[int, int] = {}
    for lead_id, _version_id, points in points_under(cursor, rules, scope, now):
        totals[lead_id] = totals.get(lead_id, 0) + points
    return totals


def points_under(
    cursor, rules: Sequence[RuleDef], scope: Scope, now: datetime
) -> list[tuple[int, int, int]]:
    """(lead, rule version, live points) for every lead in scope that a rule gives points to
    under `rules`, computed without writing anything."""
    selects = events(rules, scope)
    fit_select = fit(rules, scope, now)
    if fit_select is not None:
        selects.append(fit_select)
    if not selects:
        return []
    union = Fragment(
        " UNION ALL ".join(f"SELECT {COLUMNS} FROM ({s.sql}) q{i}" for i, s in enumerate(selects)),
        [p for s in selects for p in s.params],
    )
    found = rows(
        cursor,
        Fragment(
            "SELECT lead_id, version_id, SUM(CASE WHEN expires_at IS NULL OR expires_at > %s "
            f"THEN points ELSE 0 END) FROM ({union.sql}) u GROUP BY lead_id, version_id",
            [now, *union.params],
        ),
    )
    return [(lead_id, version_id, int(points)) for lead_id, version_id, points in found]


# --- the rules as SQL -----------------------------------------------------------------------

_RULE_ROW = (
    "SELECT CAST(%s AS bigint) AS rule_id, CAST(%s AS bigint) AS version_id, "
    "CAST(%s AS varchar(16)) AS event_type, CAST(%s AS varchar(255)) AS event_name, "
    "CAST(%s AS integer) AS points, CAST(%s AS integer) AS max_times, "
    "CAST(%s AS integer) AS days"
)


def _ruleset(rules: Sequence[RuleDef]) -> Fragment:
    """The rules as an inline table `r` (rule_id, version_id, event_type, event_name, points,
    max_times, days)."""
    params = [
        p
        for r in rules
        for p in (
            r.rule_id,
            r.version_id,
            r.event_type,
            r.event_name,
            r.points,
            r.max_times,
            r.expires_after_days,
        )
    ]
    return Fragment(" UNION ALL ".join([_RULE_ROW] * len(rules)), params)


def _dispatch(rules: Sequence[RuleDef], conditions: Callable[[RuleDef], Fragment]) -> Fragment:
    """Each row of `r` meets its own version's conditions: versions without conditions in one
    IN, the others one by one."""
    plain = [r.version_id for r in rules if not r.conditions]
    parts = (
        [Fragment(f"r.version_id IN ({', '.join(['%s'] * len(plain))})", plain)] if plain else []
    )
    for rule in rules:
        if rule.conditions:
            cond = conditions(rule)
            parts.append(
                Fragment(f"r.version_id = %s AND ({cond.sql})", [rule.version_id, *cond.params])
            )
    return join(parts, " OR ")
