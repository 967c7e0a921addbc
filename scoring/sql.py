"""Rule definitions (scoring.rules) compiled to SQL fragments, for PostgreSQL and SQLite.

Each fragment means exactly what scoring.rules.value_matches means: a value of the wrong JSON
type never matches (a text "60" is not more than 50), text compares with ASCII case folded,
and a missing value matches nothing. Every user value travels as a query parameter; property
names do too on PostgreSQL, and on SQLite go into a quoted JSON path (rules.KEY_RE keeps them
free of quotes).
"""

import json
from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class Fragment:
    sql: str
    params: list[Any] = field(default_factory=list)

    def __iter__(self):
        return iter((self.sql, self.params))


def join(fragments: list[Fragment], glue: str) -> Fragment:
    return Fragment(
        glue.join(f"({f.sql})" for f in fragments), [p for f in fragments for p in f.params]
    )


class Dialect:
    """The few places PostgreSQL and SQLite differ."""

    def __init__(self, vendor: str):
        if vendor not in ("postgresql", "sqlite"):
            raise NotImplementedError(f"scoring needs PostgreSQL or SQLite, not {vendor}")
        self.pg = vendor == "postgresql"

    # text
    def lower(self, expr: str) -> str:
        return f"translate({expr}, '{_UPPER}', '{_LOWER}')" if self.pg else f"lower({expr})"

    def contains(self, haystack: str) -> str:
        return f"strpos({haystack}, %s) > 0" if self.pg else f"instr({haystack}, %s) > 0"

    def email_domain(self, column: str) -> str:
        if self.pg:
            return f"substr({column}, strpos({column}, '@') + 1)"
        return f"substr({column}, instr({column}, '@') + 1)"

    # dates: whole days added to a timestamp, exactly (sessions run in UTC)
    def plus_days(self, column: str, days: str) -> str:
        if self.pg:
            return f"({column} + {days} * INTERVAL '1 day')"
        # SQLite keeps 'YYYY-MM-DD HH:MM:SS[.ffffff]' text; move the date, keep the time as is.
        return (
            f"(CASE WHEN {days} IS NULL THEN NULL ELSE "
            f"date(substr({column}, 1, 10), '+' || ({days}) || ' days') "
            f"|| substr({column}, 11) END)"
        )

    def minus_days(self, column: str, days: int) -> str:
        if self.pg:
            return f"({column} - {int(days)} * INTERVAL '1 day')"
        return f"(date(substr({column}, 1, 10), '-{int(days)} days') || substr({column}, 11))"

    def id_in(self, column: str, ids: list[int]) -> Fragment:
        """`column` is one of the ids, with the whole list as one parameter."""
        if not ids:
            return Fragment("1 = 0")
        if self.pg:
            return Fragment(f"{column} = ANY(%s)", [list(ids)])
        return Fragment(f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(list(ids))])

    # JSON values
    def json_condition(self, column: str, key: str, cond: Condition) -> Fragment:
        texts = [v for v in cond.values if isinstance(v, str)]
        if cond.operator is Operator.IN and len(texts) > 1:
            # One lowering and one IN for all the texts, not an OR of equalities.
            others = [v for v in cond.values if not isinstance(v, str)]
            parts = [self._json_texts_in(column, key, texts)]
            parts += [self._json_one(column, key, Operator.EQUALS, v) for v in others]
            return join(parts, " OR ")
        parts = [self._json_one(column, key, cond.operator, v) for v in cond.values]
        return join(parts, " OR ")

    def _json_texts_in(self, column: str, key: str, texts: list[str]) -> Fragment:
        marks = ", ".join(["%s"] * len(texts))
        lowered = [ascii_lower(t) for t in texts]
        if self.pg:
            return Fragment(
                f"jsonb_typeof({column} -> %s) = 'string' AND "
                f"{self.lower(f'({column} ->> %s)')} IN ({marks})",
                [key, key, *lowered],
            )
        path = '$."' + key + '"'
        return Fragment(
            f"json_type({column}, '{path}') = 'text' AND "
            f"{self.lower(f'json_extract({column}, {path!r})')} IN ({marks})",
            lowered,
        )

    def _json_one(self, column: str, key: str, op: Operator, value: Any) -> Fragment:
        if self.pg:
            typ, text, node = (
                f"jsonb_typeof({column} -> %s)",
                f"({column} ->> %s)",
                f"({column} -> %s)",
            )
            is_num, is_text = "= 'number'", "= 'string'"
        else:
            path = '$."' + key + '"'
            typ, text = f"json_type({column}, '{path}')", f"json_extract({column}, '{path}')"
            node, is_num, is_text = text, "IN ('integer', 'real')", "= 'text'"
        key_params = [key] if self.pg else []
        if op in NUMERIC_OPERATORS or _is_number(value):
            sign = _COMPARE.get(op, "=")
            # jsonb compares numbers numerically; the type test keeps text out of it.
            rhs = "%s::jsonb" if self.pg else "%s"
            param = json.dumps(value) if self.pg else value
            return Fragment(f"{typ} {is_num} AND {node} {sign} {rhs}", key_params * 2 + [param])
        if isinstance(value, bool):
            if self.pg:
                return Fragment(
                    f"{typ} = 'boolean' AND {text} = %s", key_params * 2 + [str(value).lower()]
                )
            return Fragment(f"{typ} = '{'true' if value else 'false'}'")
        lowered = self.lower(text)
        if op is Operator.CONTAINS:
            return Fragment(
                f"{typ} {is_text} AND {self.contains(lowered)}",
                key_params * 2 + [ascii_lower(value)],
            )
        return Fragment(
            f"{typ} {is_text} AND {lowered} = %s", key_params * 2 + [ascii_lower(value)]
        )

    # lead columns
    def column_condition(self, expr: str, numeric: bool, cond: Condition) -> Fragment:
        if not numeric and cond.operator is Operator.IN:
            marks = ", ".join(["%s"] * len(cond.values))
            return Fragment(
                f"{self.lower(expr)} IN ({marks})", [ascii_lower(v) for v in cond.values]
            )
        parts = []
        for value in cond.values:
            if numeric:
                parts.append(Fragment(f"{expr} {_COMPARE.get(cond.operator, '=')} %s", [value]))
            elif cond.operator is Operator.CONTAINS:
                parts.append(Fragment(self.contains(self.lower(expr)), [ascii_lower(value)]))
            else:
                parts.append(Fragment(f"{self.lower(expr)} = %s", [ascii_lower(value)]))
        return join(parts, " OR ")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def event_conditions(dialect: Dialect, rule: RuleDef, alias: str) -> Fragment:
    """The rule's property conditions on events aliased `alias` (TRUE when it has none)."""
    if not rule.conditions:
        return Fragment("1 = 1")
    column = f"{alias}.properties"
    return join([dialect.json_condition(column, c.field, c) for c in rule.conditions], " AND ")


def lead_conditions(dialect: Dialect, rule: RuleDef, alias: str) -> Fragment:
    parts = []
    for cond in rule.conditions:
        if cond.field.startswith(TRAIT_PREFIX):
            key = cond.field[len(TRAIT_PREFIX) :]
            parts.append(dialect.json_condition(f"{alias}.traits", key, cond))
        elif cond.field == "email_domain":
            parts.append(
                dialect.column_condition(dialect.email_domain(f"{alias}.email"), False, cond)
            )
        else:
            numeric = cond.field in LEAD_NUMBER_FIELDS
            parts.append(dialect.column_condition(f"{alias}.{cond.field}", numeric, cond))
    return join(parts, " AND ")
