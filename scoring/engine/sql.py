"""The building blocks of scoring's statements: SQL fragments with their parameters, the tables
they work on, the scope of leads a statement touches, and running a statement on a cursor.

Every user value travels as a query parameter. A list of ids is one array parameter
(`= ANY(%s)`), however long, so statements keep one text and the parameter count stays small.
"""

from dataclasses import dataclass, field
from typing import Any

from events.models import Event, PendingEvent
from leads.models import Lead, StageChange
from scoring.models import LedgerEntry

LEDGER = LedgerEntry._meta.db_table
EVENTS = Event._meta.db_table
PENDING = PendingEvent._meta.db_table
LEADS = Lead._meta.db_table
CHANGES = StageChange._meta.db_table


@dataclass
class Fragment:
    sql: str
    params: list[Any] = field(default_factory=list)


def join(fragments: list[Fragment], glue: str) -> Fragment:
    return Fragment(
        glue.join(f"({f.sql})" for f in fragments), [p for f in fragments for p in f.params]
    )


def id_in(column: str, ids: list[int]) -> Fragment:
    """`column` is one of the ids, with the whole list as one parameter."""
    if not ids:
        return Fragment("1 = 0")
    return Fragment(f"{column} = ANY(%s)", [list(ids)])


# Whole days added to a timestamp, exactly (sessions run in UTC). `days` is SQL: a column or a
# number written by the caller.
def plus_days(column: str, days: str) -> str:
    return f"({column} + {days} * INTERVAL '1 day')"


def minus_days(column: str, days: int) -> str:
    return f"({column} - {int(days)} * INTERVAL '1 day')"


@dataclass(frozen=True)
class Scope:
    """Leads a statement touches: ids in (after, upto], or an explicit list of ids."""

    after: int | None = None
    upto: int | None = None
    ids: tuple[int, ...] | None = None

    @classmethod
    def of(cls, ids) -> "Scope":
        return cls(ids=tuple(sorted({int(i) for i in ids})))

    def sql(self, column: str) -> Fragment:
        if self.ids is not None:
            return id_in(column, list(self.ids))
        return Fragment(f"{column} > %s AND {column} <= %s", [self.after, self.upto])


def run(cursor, fragment: Fragment) -> int:
    """Execute a write; how many rows it touched."""
    cursor.execute(fragment.sql, fragment.params)
    return cursor.rowcount


def rows(cursor, fragment: Fragment) -> list[tuple]:
    cursor.execute(fragment.sql, fragment.params)
    return cursor.fetchall()


def select_ids(cursor, fragment: Fragment) -> list[int]:
    """The first column of every row (a SELECT of ids)."""
    return [row[0] for row in rows(cursor, fragment)]
