"""Which leads the MQL threshold moves: the IQL leads whose score reached it."""

from leads.models import Stage
from scoring.engine.sql import LEADS, Fragment, Scope, rows


def candidates(cursor, scope: Scope, threshold: int) -> list[tuple[int, int]]:
    """(lead id, score) of the IQL leads in scope with a score of at least `threshold`."""
    cond = scope.sql("id")
    return rows(
        cursor,
        Fragment(
            f"SELECT id, score FROM {LEADS} WHERE {cond.sql} AND stage = %s AND score >= %s "
            "ORDER BY id",
            [*cond.params, Stage.IQL.value, threshold],
        ),
    )
