"""What earns points: rule definitions, their validation, and their meaning, in pure Python.

No ORM here. The engine (scoring/engine/) evaluates the same definitions set-based in SQL
(scoring/engine/conditions.py, derive.py, pql.py); the functions below are the reference
semantics the tests hold the SQL to, and they decide what the SQL does not: temperature bands
and the next stage.

Comparisons of text ignore the case of ASCII letters only (A-Z); the SQL uses translate() to do
exactly the same.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from leads.lifecycle import FUNNEL, MOVES, MoveKind
from leads.models import Stage

Scalar = str | int | float | bool


class RuleKind(StrEnum):
    EVENT = "event"  # points for something the lead did (an event)
    ATTRIBUTE = "attribute"  # fit: points for who the lead is (a field or trait)


class Operator(StrEnum):
    EQUALS = "equals"
    CONTAINS = "contains"  # text contains the value, or any of a list of values
    IN = "in"  # equals one of a list
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"


EVENT_TYPES = ("track", "page", "screen")
NUMERIC_OPERATORS = frozenset({Operator.GT, Operator.GTE, Operator.LT, Operator.LTE})

# Lead fields an attribute rule may test. `email_domain` is the part of the email after "@";
# `traits.<key>` reads the lead's free-form traits.
LEAD_TEXT_FIELDS = frozenset(
    {
        "email",
        "email_domain",
        "first_name",
        "last_name",
        "title",
        "phone",
        "country",
        "company_name",
        "company_domain",
        "source",
        "direction",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    }
)
LEAD_NUMBER_FIELDS = frozenset({"company_size"})
TRAIT_PREFIX = "traits."
# Property and trait keys end up in JSON paths; a plain alphabet keeps them unambiguous.
KEY_RE = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_$ .\-]{0,99}$")

MAX_POINTS = 1000
MAX_DAYS = 3650
MAX_TIMES = 10000
MAX_CONDITIONS = 10
MAX_LIST = 100

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class Condition:
    field: str
    operator: Operator
    value: Scalar | tuple[Scalar, ...]

    @property
    def values(self) -> tuple[Scalar, ...]:
        return self.value if isinstance(self.value, tuple) else (self.value,)


@dataclass(frozen=True)
class RuleDef:
    """One rule version: what it matches and what it is worth."""

    kind: RuleKind
    points: int
    event_type: str = ""
    event_name: str = ""
    conditions: tuple[Condition, ...] = ()
    max_times: int | None = None
    expires_after_days: int | None = None
    # Identity in the database (0 for a draft that is only simulated).
    rule_id: int = 0
    version_id: int = 0
    name: str = ""

    def definition(self) -> dict[str, Any]:
        """The versioned part, as stored in a RuleVersion row and accepted by rule_parse."""
        return {
            "kind": str(self.kind),
            "event_type": self.event_type,
            "event_name": self.event_name,
            "conditions": [
                {
                    "field": c.field,
                    "operator": str(c.operator),
                    "value": list(c.value) if isinstance(c.value, tuple) else c.value,
                }
                for c in self.conditions
            ],
            "points": self.points,
            "max_times": self.max_times,
            "expires_after_days": self.expires_after_days,
        }


@dataclass(frozen=True)
class PqlCondition:
    """At least `min_count` track events named `event_name` within `within_days` days."""

    event_name: str
    min_count: int
    within_days: int


@dataclass(frozen=True)
class Thresholds:
    mql_threshold: int = 50
    warm_at: int = 25
    hot_at: int = 50
    pql_conditions: tuple[PqlCondition, ...] = ()


class RuleError(ValueError):
    """Invalid rule input; `fields` maps each bad field to its messages."""

    def __init__(self, fields: Mapping[str, list[str]]):
        self.fields = dict(fields)
        first = next(iter(self.fields.items()), ("", ["Invalid rule."]))
        super().__init__(f"{first[0]}: {first[1][0]}" if first[0] else first[1][0])


# --- Parsing and validation ---------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int_in(data: Mapping, key: str, errors: dict, *, low: int, high: int, optional: bool):
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors[key] = [f"Must be a whole number from {low} to {high}."]
        return None
    return value


def _field_error(kind: RuleKind, name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return "Name a field."
    if kind is RuleKind.EVENT:
        return None if KEY_RE.match(name) else "Not a valid property name."
    if name in LEAD_TEXT_FIELDS or name in LEAD_NUMBER_FIELDS:
        return None
    if name.startswith(TRAIT_PREFIX) and KEY_RE.match(name[len(TRAIT_PREFIX) :]):
        return None
    return "Not a lead field: use a field such as title, email_domain, or traits.<name>."


def _value_error(kind: RuleKind, field_name: str, op: Operator, value: Any) -> str | None:
    number_field = kind is RuleKind.ATTRIBUTE and field_name in LEAD_NUMBER_FIELDS
    text_field = kind is RuleKind.ATTRIBUTE and field_name in LEAD_TEXT_FIELDS
    if op in NUMERIC_OPERATORS:
        if text_field:
            return f"{field_name} is text: use equals, contains or in."
        return None if _is_number(value) else "Must be a number."
    if op is Operator.CONTAINS:
        if number_field:
            return f"{field_name} is a number: use equals, in, gt, gte, lt or lte."
        items = value if isinstance(value, list) else [value]
        ok = items and len(items) <= MAX_LIST and all(isinstance(v, str) and v for v in items)
        return None if ok else "Must be a non-empty text or a list of non-empty texts."
    items = value if op is Operator.IN else [value]
    if op is Operator.IN and (not isinstance(value, list) or not 0 < len(value) <= MAX_LIST):
        return f"Must be a list of 1 to {MAX_LIST} values."
    for item in items:
        if number_field and not _is_number(item):
            return f"{field_name} is a number: compare it with numbers."
        if text_field and not (isinstance(item, str) and item):
            return f"{field_name} is text: compare it with non-empty texts."
        if not (_is_number(item) or (isinstance(item, str) and item) or isinstance(item, bool)):
            return "Values must be non-empty texts, numbers or true/false."
        if op is Operator.IN and isinstance(item, bool):
            return "Use equals for true/false."
    return None


def _freeze(value: Any) -> Scalar | tuple[Scalar, ...]:
    return tuple(value) if isinstance(value, list) else value


def _parse_condition(kind: RuleKind, raw: Any, errors: list[str]) -> Condition | None:
    if not isinstance(raw, Mapping):
        errors.append("Each condition is an object with field, operator and value.")
        return None
    name, op_raw, value = raw.get("field"), raw.get("operator"), raw.get("value")
    problem = _field_error(kind, name)
    if problem is None and (
        not isinstance(op_raw, str) or op_raw not in Operator._value2member_map_
    ):
        problem = f"Unknown operator {op_raw!r}: use one of {', '.join(Operator)}."
    # With no problem so far both are texts; the isinstance() calls only tell the type checker.
    if problem is None and isinstance(name, str) and isinstance(op_raw, str):
        problem = _value_error(kind, name, Operator(op_raw), value)
        if problem is None:
            return Condition(field=name, operator=Operator(op_raw), value=_freeze(value))
    errors.append(f"{name or '?'}: {problem}")
    return None


def _parse_conditions(kind: RuleKind, raw: Any, errors: dict) -> tuple[Condition, ...]:
    if raw is None:
        raw = []
    if not isinstance(raw, list) or len(raw) > MAX_CONDITIONS:
        errors["conditions"] = [f"Must be a list of at most {MAX_CONDITIONS} conditions."]
        return ()
    problems: list[str] = []
    parsed = [_parse_condition(kind, item, problems) for item in raw]
    if problems:
        errors["conditions"] = problems
    if kind is RuleKind.ATTRIBUTE and not raw and "conditions" not in errors:
        errors["conditions"] = ["An attribute rule needs at least one condition."]
    return tuple(c for c in parsed if c is not None)


def _parse_event_target(data: Mapping, errors: dict) -> tuple[str, str]:
    event_type, event_name = data.get("event_type") or "track", data.get("event_name")
    if event_type not in EVENT_TYPES:
        errors["event_type"] = [f"Must be one of {', '.join(EVENT_TYPES)}."]
    if not isinstance(event_name, str) or not event_name.strip() or len(event_name) > 255:
        errors["event_name"] = ["Name the event (or the page/screen), at most 255 characters."]
        event_name = ""
    return event_type, (event_name or "").strip()


def rule_parse(data: Mapping[str, Any], *, rule_id: int = 0, version_id: int = 0) -> RuleDef:
    """Validate a rule definition (as the API receives it) into a RuleDef, or raise RuleError."""
    errors: dict[str, list[str]] = {}
    kind_raw = data.get("kind")
    # The type first: a list or an object is unhashable, and the lookup would raise.
    if not isinstance(kind_raw, str) or kind_raw not in RuleKind._value2member_map_:
        raise RuleError({"kind": ["Must be 'event' or 'attribute'."]})
    kind = RuleKind(kind_raw)
    points = _int_in(data, "points", errors, low=-MAX_POINTS, high=MAX_POINTS, optional=False)
    if points == 0:
        errors["points"] = ["A rule worth 0 points does nothing."]
    event_type = event_name = ""
    max_times = days = None
    if kind is RuleKind.EVENT:
        event_type, event_name = _parse_event_target(data, errors)
        max_times = _int_in(data, "max_times", errors, low=1, high=MAX_TIMES, optional=True)
        days = _int_in(data, "expires_after_days", errors, low=1, high=MAX_DAYS, optional=True)
    else:
        for key in ("event_type", "event_name", "max_times", "expires_after_days"):
            if data.get(key) not in (None, ""):
                errors[key] = ["Only event rules have this: a fit rule counts once and lasts."]
    conditions = _parse_conditions(kind, data.get("conditions"), errors)
    if errors:
        raise RuleError(errors)
    return RuleDef(
        kind=kind,
        points=points,
        event_type=event_type,
        event_name=event_name,
        conditions=conditions,
        max_times=max_times,
        expires_after_days=days,
        rule_id=rule_id,
        version_id=version_id,
        name=str(data.get("name") or ""),
    )


def pql_parse(raw: Any) -> tuple[PqlCondition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_CONDITIONS:
        raise RuleError({"pql_conditions": [f"Must be a list of at most {MAX_CONDITIONS}."]})
    parsed: list[PqlCondition] = []
    problems: list[str] = []
    for item in raw:
        errors: dict[str, list[str]] = {}
        name = item.get("event_name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            errors["event_name"] = ["Name the event."]
        source = item if isinstance(item, Mapping) else {}
        count = _int_in(source, "min_count", errors, low=1, high=MAX_TIMES, optional=False)
        days = _int_in(source, "within_days", errors, low=1, high=MAX_DAYS, optional=False)
        if errors or not isinstance(name, str):  # a name that is not a text is in `errors`
            problems.extend(f"{key}: {msgs[0]}" for key, msgs in errors.items())
            continue
        parsed.append(PqlCondition(event_name=name.strip(), min_count=count, within_days=days))
    if problems:
        raise RuleError({"pql_conditions": problems})
    return tuple(parsed)


def thresholds_parse(data: Mapping[str, Any], *, base: Thresholds | None = None) -> Thresholds:
    """Validate thresholds; keys missing from `data` keep their value in `base`."""
    base = base or Thresholds()
    merged = {
        "mql_threshold": base.mql_threshold,
        "warm_at": base.warm_at,
        "hot_at": base.hot_at,
        **{k: v for k, v in data.items() if k in ("mql_threshold", "warm_at", "hot_at")},
    }
    errors: dict[str, list[str]] = {}
    limit = MAX_POINTS * 100
    for key in ("mql_threshold", "warm_at", "hot_at"):
        _int_in(merged, key, errors, low=-limit, high=limit, optional=False)
    if not errors and merged["warm_at"] >= merged["hot_at"]:
        errors["warm_at"] = ["warm_at must be below hot_at."]
    pql = base.pql_conditions
    if "pql_conditions" in data:
        try:
            pql = pql_parse(data["pql_conditions"])
        except RuleError as exc:
            errors.update(exc.fields)
    if errors:
        raise RuleError(errors)
    return Thresholds(
        mql_threshold=merged["mql_threshold"],
        warm_at=merged["warm_at"],
        hot_at=merged["hot_at"],
        pql_conditions=pql,
    )


# --- Meaning ------------------------------------------------------------------------------------

MISSING = object()


def value_matches(condition: Condition, value: Any) -> bool:
    """Does one value (a property, trait or lead field; MISSING if absent) meet the condition?"""
    op = condition.operator
    if op in NUMERIC_OPERATORS:
        if not _is_number(value):
            return False
        target = condition.value
        return {
            Operator.GT: value > target,
            Operator.GTE: value >= target,
            Operator.LT: value < target,
            Operator.LTE: value <= target,
        }[op]
    if op is Operator.CONTAINS:
        if not isinstance(value, str):
            return False
        text = ascii_lower(value)
        return any(ascii_lower(str(t)) in text for t in condition.values)
    return any(_equals(value, target) for target in condition.values)


def _equals(value: Any, target: Scalar) -> bool:
    if isinstance(target, bool):
        return isinstance(value, bool) and value is target
    if _is_number(target):
        return _is_number(value) and value == target
    # `target` is a text here (a Scalar that is neither bool nor number).
    return (
        isinstance(value, str)
        and isinstance(target, str)
        and ascii_lower(value) == ascii_lower(target)
    )


@dataclass(frozen=True)
class EventFacts:
    id: int
    type: str
    name: str
    occurred_at: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)


def event_matches(rule: RuleDef, event: EventFacts) -> bool:
    if rule.kind is not RuleKind.EVENT:
        return False
    if event.type != rule.event_type or event.name != rule.event_name:
        return False
    props = event.properties if isinstance(event.properties, Mapping) else {}
    return all(value_matches(c, props.get(c.field, MISSING)) for c in rule.conditions)


def lead_value(lead: Mapping[str, Any], name: str) -> Any:
    """A lead field as attribute rules see it (the lead given as a dict of its fields)."""
    if name == "email_domain":
        email = lead.get("email") or ""
        # Everything after the first "@", or the whole text without one: the SQL does the same.
        return email[email.find("@") + 1 :]
    if name.startswith(TRAIT_PREFIX):
        traits = lead.get("traits")
        traits = traits if isinstance(traits, Mapping) else {}
        return traits.get(name[len(TRAIT_PREFIX) :], MISSING)
    value = lead.get(name)
    return MISSING if value is None else value


def lead_matches(rule: RuleDef, lead: Mapping[str, Any]) -> bool:
    if rule.kind is not RuleKind.ATTRIBUTE:
        return False
    return all(value_matches(c, lead_value(lead, c.field)) for c in rule.conditions)


def expires_at(rule: RuleDef, occurred_at: datetime) -> datetime | None:
    if rule.expires_after_days is None:
        return None
    return occurred_at + timedelta(days=rule.expires_after_days)


def awarded_events(rule: RuleDef, events: Iterable[EventFacts]) -> list[EventFacts]:
    """The lead's events that earn the rule's points: the first `max_times` matches in time."""
    matches = sorted(
        (e for e in events if event_matches(rule, e)), key=lambda e: (e.occurred_at, e.id)
    )
    return matches if rule.max_times is None else matches[: rule.max_times]


@dataclass(frozen=True)
class Award:
    """One ledger row as the rules define it."""

    lead_id: int
    version_id: int
    event_id: int | None
    points: int
    expires_at: datetime | None

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


def lead_awards(
    rules: Sequence[RuleDef], lead_id: int, lead: Mapping[str, Any], events: Sequence[EventFacts]
) -> list[Award]:
    """Every ledger row one lead earns under a rule set: the definition incremental scoring and
    the full re-score must both produce."""
    awards = []
    for rule in rules:
        if rule.kind is RuleKind.ATTRIBUTE:
            if lead_matches(rule, lead):
                awards.append(Award(lead_id, rule.version_id, None, rule.points, None))
            continue
        for event in awarded_events(rule, events):
            expiry = expires_at(rule, event.occurred_at)
            awards.append(Award(lead_id, rule.version_id, event.id, rule.points, expiry))
    return awards


def temperature_for(score: int, thresholds: Thresholds) -> str:
    if score >= thresholds.hot_at:
        return "hot"
    if score >= thresholds.warm_at:
        return "warm"
    return "cold"


def pql_met(conditions: Sequence[PqlCondition], events: Iterable[tuple[str, datetime]]) -> bool:
    """Is there a moment t at which, for every condition, at least `min_count` events of its name
    happened in [t - within_days, t]? (track events as (name, occurred_at).)

    Only event times need checking: each condition holds on intervals that start at one of its
    events, so if all hold at some t they all hold at the latest such start before t.
    """
    if not conditions:
        return False
    names = {c.event_name for c in conditions}
    relevant = sorted((when, name) for name, when in events if name in names)
    for t, _ in relevant:
        if all(_count_in_window(relevant, c, t) >= c.min_count for c in conditions):
            return True
    return False


def _count_in_window(events: list[tuple[datetime, str]], cond: PqlCondition, t: datetime) -> int:
    start = t - timedelta(days=cond.within_days)
    return sum(1 for when, name in events if name == cond.event_name and start <= when <= t)


# The stages scoring moves leads out of: those the lifecycle advances from (IQL, MQL), in funnel
# order. Automatic moves only go forward, so a lead in any other stage is left where it is.
PROMOTABLE: tuple[Stage, ...] = tuple(
    sorted(
        {source for (source, _), move in MOVES.items() if move.kind is MoveKind.ADVANCE},
        key=FUNNEL.index,
    )
)


def next_stage(*, stage: str, score: int, pql: bool, thresholds: Thresholds) -> str:
    """Where scoring moves a lead: forward only, and only out of IQL / MQL."""
    if stage in PROMOTABLE and pql:
        return Stage.PQL.value
    if stage == Stage.IQL and score >= thresholds.mql_threshold:
        return Stage.MQL.value
    return stage


# --- Explanation --------------------------------------------------------------------------------

_OP_WORDS = {
    Operator.EQUALS: "is",
    Operator.CONTAINS: "contains",
    Operator.IN: "is one of",
    Operator.GT: "is more than",
    Operator.GTE: "is at least",
    Operator.LT: "is less than",
    Operator.LTE: "is at most",
}


def _describe_condition(c: Condition) -> str:
    values = ", ".join(f"“{v}”" if isinstance(v, str) else str(v).lower() for v in c.values)
    words = "contains any of" if c.operator is Operator.CONTAINS and len(c.values) > 1 else None
    return f"{c.field.replace('_', ' ')} {words or _OP_WORDS[c.operator]} {values}"


def describe(rule: RuleDef) -> str:
    """One sentence a marketer can read: what the rule gives points for."""
    points = f"{rule.points:+d} point{'s' if abs(rule.points) != 1 else ''}"
    where = " and ".join(_describe_condition(c) for c in rule.conditions)
    if rule.kind is RuleKind.ATTRIBUTE:
        return f"{points} when {where}."
    what = {"track": "each “{}” event", "page": "each view of the page “{}”"}.get(
        rule.event_type, "each view of the screen “{}”"
    )
    text = f"{points} for {what.format(rule.event_name)}"
    if where:
        text += f" where {where}"
    extras = []
    if rule.max_times is not None:
        extras.append(f"at most {rule.max_times} time{'s' if rule.max_times != 1 else ''}")
    if rule.expires_after_days is not None:
        extras.append(f"points last {rule.expires_after_days} days")
    return text + (f" ({'; '.join(extras)})" if extras else "") + "."


def describe_pql(conditions: Sequence[PqlCondition]) -> str:
    parts = [f"{c.min_count}× {c.event_name} within {c.within_days} days" for c in conditions]
    return f"{Stage.PQL.value}: " + " and ".join(parts)
