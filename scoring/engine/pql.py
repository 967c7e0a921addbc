"""Which leads the PQL conditions move: leads in IQL/MQL for which some moment meets every
condition "at least N events of X within D days" (the SQL of rules.pql_met).

The moments tried are the leads' own `track` events of the conditions' names; at a moment t,
each condition counts its events in [t - D days, t] with a RANGE window over time (conditions
with the same D share one window pass). Only moments after the lead's last move back into
IQL/MQL count, so a re-score does not send a recycled lead back to PQL on the activity that
sent it there before.

Two ways to find the moments:

- every moment of the leads in a scope (a re-score chunk, the simulation, a fit check): only
  leads with enough events of every name in their whole history are windowed;
- incremental (a pass over new events): before the pass no moment of a lead still in IQL/MQL met
  the conditions (it would have moved), so only moments whose windows gained a new event are
  tried, after a cheap bounded count per condition.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from events.models import EventType
from leads.models import Stage
from scoring.engine.sql import (
    CHANGES,
    EVENTS,
    LEADS,
    Fragment,
    Scope,
    id_in,
    minus_days,
    plus_days,
    select_ids,
)
from scoring.rules import PROMOTABLE, PqlCondition

# The conditions count `track` events (rules.pql_met is given those). A constant of the SQL text.
_TRACK = f"'{EventType.TRACK.value}'"


@dataclass(frozen=True)
class _Moments:
    """Where the tried moments come from: `source` is the FROM ... WHERE of the events read
    (the moments, and what their windows count), `prefix` a WITH clause `source` reads from,
    and `earliest` the SQL of each lead's first moment worth trying (None: every moment)."""

    source: Fragment
    prefix: Fragment = field(default_factory=lambda: Fragment(""))
    earliest: str | None = None


def candidates(
    cursor,
    scope: Scope,
    conditions: Sequence[PqlCondition],
    *,
    event_ids: Sequence[int] | None = None,
) -> list[int]:
    """Lead ids in IQL/MQL for which some moment meets every condition: of the leads in `scope`,
    or with `event_ids` (incremental scoring), of the leads of those new events."""
    if not conditions:
        return []
    if event_ids is None:
        moments = _every_moment(scope, conditions)
    else:
        moments = _moments_near_new_events(event_ids, conditions)
    return select_ids(cursor, _met(moments, conditions))


# --- every moment of a scope ----------------------------------------------------------------


def _every_moment(scope: Scope, conditions: Sequence[PqlCondition]) -> _Moments:
    """Every event of the conditions' names of the scope's leads in IQL/MQL, for the leads with
    enough of every name in their whole history (the others cannot meet the conditions)."""
    names = _names(conditions)
    events_scope = scope.sql("e.lead_id")
    enough = _enough_in_history(scope, conditions)
    return _Moments(
        Fragment(
            f"FROM {EVENTS} e JOIN {LEADS} l ON l.id = e.lead_id "
            f"WHERE l.stage IN ({_marks(PROMOTABLE)}) AND e.type = {_TRACK} "
            f"AND e.name IN ({_marks(names)}) AND {events_scope.sql} "
            f"AND e.lead_id IN ({enough.sql})",
            [*_values(PROMOTABLE), *names, *events_scope.params, *enough.params],
        )
    )


def _enough_in_history(scope: Scope, conditions: Sequence[PqlCondition]) -> Fragment:
    """The leads in scope with at least N events of each condition's name, at any time."""
    names = _names(conditions)
    lead_scope = scope.sql("lead_id")
    having = " AND ".join("COUNT(*) FILTER (WHERE name = %s) >= %s" for _ in conditions)
    return Fragment(
        f"SELECT lead_id FROM {EVENTS} WHERE {lead_scope.sql} "
        f"AND type = {_TRACK} AND name IN ({_marks(names)}) GROUP BY lead_id HAVING {having}",
        [
            *lead_scope.params,
            *names,
            *[p for c in conditions for p in (c.event_name, c.min_count)],
        ],
    )


# --- incremental: only windows that gained a new event --------------------------------------


def _moments_near_new_events(
    event_ids: Sequence[int], conditions: Sequence[PqlCondition]
) -> _Moments:
    """Per lead, the moments from its earliest new event t0 on, reading only its events in
    [t0 - widest, t1 + widest] (t1 its latest new event, widest the longest window).

    A window [t - D, t] gains a new event only for t in [t0, t1 + D]: earlier moments are
    dropped by `earliest`, later ones by the upper bound. `s` (the new events' span per lead)
    and `c` (the spans that pass the bounded counts) are materialised: each is read once.
    """
    widest = _widest(conditions)
    spans, enough = _new_event_spans(event_ids, conditions), _enough_near_span(conditions)
    return _Moments(
        Fragment(
            f"FROM c JOIN {EVENTS} e ON e.lead_id = c.lead_id "
            f"AND e.occurred_at >= {minus_days('c.t0', widest)} "
            f"AND e.occurred_at <= {plus_days('c.t1', str(widest))} "
            f"WHERE e.type = {_TRACK} AND e.name IN ({_marks(_names(conditions))})",
            _names(conditions),
        ),
        prefix=Fragment(
            f"WITH s AS MATERIALIZED ({spans.sql}), c AS MATERIALIZED (SELECT s.lead_id, "
            f"s.t0, s.t1 FROM s WHERE {enough.sql}) ",
            [*spans.params, *enough.params],
        ),
        earliest="c.t0",
    )


def _new_event_spans(event_ids: Sequence[int], conditions: Sequence[PqlCondition]) -> Fragment:
    """`s`: per lead still in IQL/MQL, the span [t0, t1] of its new events of the conditions'
    names. A lead without such a new event has no window that changed."""
    names = _names(conditions)
    ids = id_in("e.id", list(event_ids))
    return Fragment(
        "SELECT e.lead_id, MIN(e.occurred_at) AS t0, MAX(e.occurred_at) AS t1 "
        f"FROM {EVENTS} e JOIN {LEADS} l ON l.id = e.lead_id WHERE "
        f"{ids.sql} AND e.type = {_TRACK} "
        f"AND e.name IN ({_marks(names)}) AND l.stage IN ({_marks(PROMOTABLE)}) "
        "GROUP BY e.lead_id",
        [*ids.params, *names, *_values(PROMOTABLE)],
    )


def _enough_near_span(conditions: Sequence[PqlCondition]) -> Fragment:
    """`c`'s filter on `s`: for each condition, at least N events of its name in
    [t0 - D, t1 + widest], the events any changed window can count.

    Cheap first: each count stops at N rows (LIMIT, an index range scan), so a lead with a long
    history but a missing condition costs a few index entries, not a window over its history.
    The smallest N are tried first.
    """
    upper = plus_days("s.t1", str(_widest(conditions)))
    counts, params = [], []
    for cond in sorted(conditions, key=lambda c: c.min_count):
        counts.append(
            f"(SELECT COUNT(*) FROM (SELECT 1 FROM {EVENTS} x WHERE x.lead_id = s.lead_id "
            f"AND x.type = {_TRACK} AND x.name = %s "
            f"AND x.occurred_at >= {minus_days('s.t0', cond.within_days)} "
            f"AND x.occurred_at <= {upper} LIMIT %s) z) >= %s"
        )
        params += [cond.event_name, cond.min_count, cond.min_count]
    return Fragment(" AND ".join(counts), params)


# --- the window pass ------------------------------------------------------------------------


def _met(moments: _Moments, conditions: Sequence[PqlCondition]) -> Fragment:
    """The leads with a tried moment (after their last re-entry) where every count reaches its
    N: the events of `moments` windowed per lead by time."""
    counts = _window_counts(conditions)
    met = " AND ".join(f"m.n{i} >= %s" for i in range(len(conditions)))
    moment = f", {moments.earliest} AS t" if moments.earliest else ""
    later = " AND m.occurred_at >= m.t" if moments.earliest else ""
    reentry = _after_reentry("m.lead_id", "m.occurred_at")
    return Fragment(
        f"{moments.prefix.sql}SELECT DISTINCT m.lead_id FROM (SELECT e.lead_id, e.occurred_at"
        f"{moment}, {counts.sql} {moments.source.sql} WINDOW {_windows(conditions)}) m "
        f"WHERE {met}{later} AND {reentry.sql} ORDER BY m.lead_id",
        [
            *moments.prefix.params,
            *counts.params,
            *moments.source.params,
            *[c.min_count for c in conditions],
            *reentry.params,
        ],
    )


def _windows(conditions: Sequence[PqlCondition]) -> str:
    """One RANGE frame over time per distinct number of days, `w<days>`: the events in
    [t - days, t], peers of t included."""
    days = sorted({int(c.within_days) for c in conditions})
    return ", ".join(
        f"w{d} AS (PARTITION BY e.lead_id ORDER BY e.occurred_at RANGE BETWEEN "
        f"{d} * INTERVAL '1 day' PRECEDING AND CURRENT ROW)"
        for d in days
    )


def _window_counts(conditions: Sequence[PqlCondition]) -> Fragment:
    """`n<i>`: the events of condition i's name in its window."""
    return Fragment(
        ", ".join(
            f"COUNT(*) FILTER (WHERE e.name = %s) OVER w{int(cond.within_days)} AS n{i}"
            for i, cond in enumerate(conditions)
        ),
        [cond.event_name for cond in conditions],
    )


def _after_reentry(lead: str, moment: str) -> Fragment:
    """`moment` is later than the lead's last move back into IQL/MQL (a recycle or a reopen),
    if it had one: conditions met before a rep sent the lead back do not send it to PQL again;
    new activity after that can. (A from_stage of '' is the lead's creation; from IQL, an
    advance.)"""
    return Fragment(
        f"{moment} > COALESCE((SELECT MAX(h.changed_at) FROM {CHANGES} h "
        f"WHERE h.lead_id = {lead} AND h.to_stage IN ({_marks(PROMOTABLE)}) "
        f"AND h.from_stage NOT IN ('', %s)), CAST('-infinity' AS timestamptz))",
        [*_values(PROMOTABLE), Stage.IQL.value],
    )


def _names(conditions: Sequence[PqlCondition]) -> list[str]:
    return sorted({c.event_name for c in conditions})


def _widest(conditions: Sequence[PqlCondition]) -> int:
    return int(max(c.within_days for c in conditions))


def _marks(values: Sequence) -> str:
    return ", ".join(["%s"] * len(values))


def _values(stages: Sequence[Stage]) -> list[str]:
    return [stage.value for stage in stages]
