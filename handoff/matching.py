"""Which routing rule takes a lead, and which rep of its group gets it. Pure: no ORM.

- A rule matches when every condition it sets holds (empty conditions match anything): the
  lead's country is one of its countries (ignoring case), its company size and score are within
  the range (bounds included; a lead without a company size matches no size range), its source
  and stage are among the listed ones. Rules are tried by position; the default rule is tried
  last and catches the rest.
- Inside the group a rep is eligible when routing has room with them (active, a rep, not away:
  the caller only passes those), they have free capacity, the lead is within their territory
  (if they have one) and they did not let this lead lapse before.
- Round robin weighted by free capacity: the eligible rep with the most free capacity gets the
  lead; ties go to the one assigned least recently (never assigned first), then the lowest id.
  With equal capacities this is a plain round robin; a rep with more room gets leads until the
  others catch up.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class LeadFacts:
    id: int
    country: str
    company_size: int | None
    source: str
    stage: str
    score: int


@dataclass(frozen=True)
class Rule:
    id: int
    rep_ids: tuple[int, ...]
    is_default: bool = False
    countries: frozenset[str] = frozenset()  # casefolded
    size_min: int | None = None
    size_max: int | None = None
    sources: frozenset[str] = frozenset()
    stages: frozenset[str] = frozenset()
    score_min: int | None = None
    score_max: int | None = None


@dataclass
class RepSlot:
    """A rep as routing sees them during one pass; `load` and `last` move as it assigns."""

    id: int
    capacity: int
    load: int
    # When they were last given a lead: (time, order within the pass); None: never.
    last: tuple[datetime, int] | None = None
    countries: frozenset[str] = frozenset()  # casefolded; empty: anywhere
    size_min: int | None = None
    size_max: int | None = None

    @property
    def free(self) -> int:
        return self.capacity - self.load

    def covers(self, lead: LeadFacts) -> bool:
        """The lead is within this rep's territory (no territory: everything is)."""
        if self.countries and lead.country.strip().casefold() not in self.countries:
            return False
        return _within(lead.company_size, self.size_min, self.size_max)


@dataclass
class Plan:
    """What a routing pass decided: (lead id, rep id, rule id) in order, and who is left."""

    picks: list[tuple[int, int, int]] = field(default_factory=list)
    slots: dict[int, RepSlot] = field(default_factory=dict)

    @property
    def free(self) -> int:
        return sum(max(slot.free, 0) for slot in self.slots.values())


def _within(value: int | None, low: int | None, high: int | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def rule_matches(rule: Rule, lead: LeadFacts) -> bool:
    if rule.is_default:
        return True
    if rule.countries and lead.country.strip().casefold() not in rule.countries:
        return False
    if rule.sources and lead.source not in rule.sources:
        return False
    if rule.stages and lead.stage not in rule.stages:
        return False
    return _within(lead.company_size, rule.size_min, rule.size_max) and _within(
        lead.score, rule.score_min, rule.score_max
    )


def rule_for(rules: Sequence[Rule], lead: LeadFacts) -> Rule | None:
    """The first matching rule by position, else the default rule, else None (the pool)."""
    for rule in rules:
        if not rule.is_default and rule_matches(rule, lead):
            return rule
    return next((rule for rule in rules if rule.is_default), None)


def _rank(slot: RepSlot) -> tuple:
    never = slot.last is None
    return (-slot.free, not never, slot.last or (datetime.min, 0), slot.id)


def rep_pick(candidates: Iterable[RepSlot], lead: LeadFacts, lapsed: set[int]) -> RepSlot | None:
    """The rep who gets `lead`, or None when nobody in the group may take it."""
    eligible = [
        slot for slot in candidates if slot.free > 0 and slot.id not in lapsed and slot.covers(lead)
    ]
    return min(eligible, key=_rank, default=None)


def plan(
    *,
    leads: Iterable[LeadFacts],
    rules: Sequence[Rule],
    slots: dict[int, RepSlot],
    lapsed: dict[int, set[int]],
    now: datetime,
) -> Plan:
    """Route `leads` in the order given (oldest first); `lapsed` maps lead id -> reps who let
    it lapse. Leads that no rule takes, or nobody in the group has room for, are left out."""
    result = Plan(slots=slots)
    for lead in leads:
        rule = rule_for(rules, lead)
        if rule is None:
            continue
        group = (slots[rep_id] for rep_id in rule.rep_ids if rep_id in slots)
        slot = rep_pick(group, lead, lapsed.get(lead.id, set()))
        if slot is None:
            continue
        slot.load += 1
        slot.last = (now, len(result.picks))
        result.picks.append((lead.id, slot.id, rule.id))
    return result
