"""The set-based statements scoring is made of (PostgreSQL). Internal: scoring.services and
scoring.selectors call these on their cursor inside their transactions; nothing here opens a
transaction or takes a lock of its own, except the row locks scores.lock takes.

Why raw SQL: scoring must turn a million events into ledger rows without them passing through
Python, i.e. `INSERT ... SELECT` with window functions and anti-joins, which the ORM cannot
express. The ORM builds everything else. Each statement works on a *scope* (a range of lead
ids for the re-score's chunks, or a list of ids for incremental scoring), so memory and lock
time are bounded by the chunk, never by the size of the event history.

A pass derives the ledger rows the rules give, stages them in a temporary table and then
reconciles them with the ledger (delete what the rules no longer give, insert what is new), so
rows that did not change keep their identity. Then scores, then stage moves.

- `sql`: fragments, tables, `Scope`, running a statement
- `conditions`: a rule's conditions on event properties, lead fields and traits
- `derive`: the rules as SELECTs of ledger rows; what a rule set would score
- `staging`: the temporary table of derived rows
- `ledger`: reconciling staged rows with the ledger; expiring points
- `queue`: taking events off scoring's queue
- `scores`: locking leads, moving scores and temperature bands
- `mql`, `pql`: which leads the MQL threshold and the PQL conditions move
"""

from scoring.engine.sql import Scope

__all__ = ["Scope"]
