"""Getting scoring tasks onto the broker without ever failing the caller.

Ingestion kicks scoring after every committed request. One task per kick would put thousands of
tasks a second on the broker, so kicks are coalesced (core/coalesce.py): the first kick in a
window enqueues one task that runs when the window closes; later kicks in the window only add
their lead ids to the Redis set that task drains.

A broker or Redis outage is logged and swallowed: the periodic sweep (scoring.tasks.sweep)
scores whatever was accepted meanwhile, and re-checks leads changed since its last run.
"""

import logging
from collections.abc import Iterable

from django.conf import settings

from core.coalesce import Kick

logger = logging.getLogger(__name__)

# Scoring's published tasks, by name (scoring/tasks.py registers them under these names).
SCORING_PROCESS = "scoring.process"
RESCORE_STEP = "scoring.rescore_step"
SIMULATE_RUN = "scoring.simulate_run"

_KICK = Kick(
    task=SCORING_PROCESS,
    prefix=lambda: settings.SCORING_KEY_PREFIX,
    window_ms=lambda: settings.SCORING_KICK_WINDOW_MS,
    logger=logger,
    failed="Scoring kick failed (%s); the periodic sweep catches up.",
)


def kick(*, lead_ids: Iterable[int] = ()) -> None:
    _KICK(lead_ids)


def dirty_leads_pop(limit: int = 50000) -> list[int]:
    """Lead ids queued by kicks. A Redis outage here means an empty list: the sweep re-checks
    changed leads by their updated_at anyway."""
    return _KICK.pop(limit)
