"""Writes of scoring: the ledger, lead scores, re-scores. (Filled in by the scoring work.)"""

from collections.abc import Iterable


def scoring_kick(*, lead_ids: Iterable[int] = ()) -> None:
    """Ask for scoring soon: unscored events, and fit rules of `lead_ids` whose fields changed.

    Called by ingestion after its transaction commits. Must never raise for a broker outage:
    unscored events are found again by the periodic sweep.
    """
