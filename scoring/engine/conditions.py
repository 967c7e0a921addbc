"""A rule's conditions (scoring.rules) as SQL: on event properties, lead fields and traits.

Each fragment means exactly what rules.value_matches means: a value of the wrong JSON type never
matches (a text "60" is not more than 50), text compares with ASCII case folded (translate(),
not lower(), which would fold other letters too), and a missing value matches nothing. Values
and property names travel as query parameters.
"""

import json
from typing import Any

from scoring.engine.sql import Fragment, join
from scoring.rules import (
    LEAD_NUMBER_FIELDS,
    NUMERIC_OPERATORS,
    TRAIT_PREFIX,
    Condition,
    Operator,
    RuleDef,
    ascii_lower,
)

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_COMPARE = {
    Operator.GT: ">",
    Operator.GTE: ">=",
    Operator.LT: "<",
    Operator.LTE: "<=",
}


def event_conditions(rule: RuleDef, alias: str) -> Fragment:
    """The rule's property conditions on events aliased `alias` (TRUE when it has none)."""
    if not rule.conditions:
        return Fragment("1 = 1")
    column = f"{alias}.properties"
    return join([_json_condition(column, c.field, c) for c in rule.conditions], " AND ")


def lead_conditions(rule: RuleDef, alias: str) -> Fragment:
    """The rule's conditions on the fields and traits of leads aliased `alias`."""
    return join([_lead_condition(cond, alias) for cond in rule.conditions], " AND ")


def _lead_condition(cond: Condition, alias: str) -> Fragment:
    if cond.field.startswith(TRAIT_PREFIX):
        return _json_condition(f"{alias}.traits", cond.field[len(TRAIT_PREFIX) :], cond)
    if cond.field == "email_domain":
        return _column_condition(_email_domain(f"{alias}.email"), False, cond)
    numeric = cond.field in LEAD_NUMBER_FIELDS
    return _column_condition(f"{alias}.{cond.field}", numeric, cond)


def _lower(expr: str) -> str:
    return f"translate({expr}, '{_UPPER}', '{_LOWER}')"


def _contains(haystack: str) -> str:
    return f"strpos({haystack}, %s) > 0"


def _email_domain(column: str) -> str:
    # Everything after the first "@", or the whole text without one (as rules.lead_value).
    return f"substr({column}, strpos({column}, '@') + 1)"


# --- JSON values (event properties, lead traits) -------------------------------------------


def _json_condition(column: str, key: str, cond: Condition) -> Fragment:
    """`column -> key` meets `cond`: any of its values (OR)."""
    texts = [v for v in cond.values if isinstance(v, str)]
    if cond.operator is Operator.IN and len(texts) > 1:
        # One lowering and one IN for all the texts, not an OR of equalities.
        others = [v for v in cond.values if not isinstance(v, str)]
        parts = [_json_texts_in(column, key, texts)]
        parts += [_json_one(column, key, Operator.EQUALS, v) for v in others]
        return join(parts, " OR ")
    return join([_json_one(column, key, cond.operator, v) for v in cond.values], " OR ")


def _json_texts_in(column: str, key: str, texts: list[str]) -> Fragment:
    marks = ", ".join(["%s"] * len(texts))
    return Fragment(
        f"jsonb_typeof({column} -> %s) = 'string' AND {_lower(f'({column} ->> %s)')} IN ({marks})",
        [key, key, *[ascii_lower(t) for t in texts]],
    )


def _json_one(column: str, key: str, op: Operator, value: Any) -> Fragment:
    typ, text, node = f"jsonb_typeof({column} -> %s)", f"({column} ->> %s)", f"({column} -> %s)"
    if op in NUMERIC_OPERATORS or _is_number(value):
        # jsonb compares numbers numerically; the type test keeps text out of it.
        sign = _COMPARE.get(op, "=")
        return Fragment(
            f"{typ} = 'number' AND {node} {sign} %s::jsonb", [key, key, json.dumps(value)]
        )
    if isinstance(value, bool):
        return Fragment(f"{typ} = 'boolean' AND {text} = %s", [key, key, str(value).lower()])
    if op is Operator.CONTAINS:
        return Fragment(
            f"{typ} = 'string' AND {_contains(_lower(text))}", [key, key, ascii_lower(value)]
        )
    return Fragment(f"{typ} = 'string' AND {_lower(text)} = %s", [key, key, ascii_lower(value)])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- lead columns ---------------------------------------------------------------------------


def _column_condition(expr: str, numeric: bool, cond: Condition) -> Fragment:
    """The lead column (or expression) `expr` meets `cond`: any of its values (OR)."""
    if not numeric and cond.operator is Operator.IN:
        marks = ", ".join(["%s"] * len(cond.values))
        # rule_parse lets only texts be compared with a text column; str() is for the types.
        texts = [ascii_lower(str(v)) for v in cond.values]
        return Fragment(f"{_lower(expr)} IN ({marks})", texts)
    return join([_column_one(expr, numeric, cond.operator, v) for v in cond.values], " OR ")


def _column_one(expr: str, numeric: bool, op: Operator, value: Any) -> Fragment:
    if numeric:
        return Fragment(f"{expr} {_COMPARE.get(op, '=')} %s", [value])
    if op is Operator.CONTAINS:
        return Fragment(_contains(_lower(expr)), [ascii_lower(value)])
    return Fragment(f"{_lower(expr)} = %s", [ascii_lower(value)])
