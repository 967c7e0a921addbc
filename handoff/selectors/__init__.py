"""Reads of the sales hand-off, scoped by who asks."""

from typing import Any

from django.db.models import Exists, Q

from handoff.models import HandoffSettings, Mode
from leads.models import Stage
from leads.selectors import lead_returned_to_nurture_q


def handoff_settings() -> HandoffSettings:
    """The one settings row (created with the defaults on first read)."""
    row, _ = HandoffSettings.objects.get_or_create(pk=1)
    return row


def pool_q() -> Q:
    """The unassigned pool: unowned MQL/PQL leads, except those sales handed back to nurture
    (a rejection, a recycle), which return when they qualify again. No query of its own."""
    unowned = Q(owner__isnull=True, stage__in=[Stage.MQL, Stage.PQL])
    return unowned & ~lead_returned_to_nurture_q()


def rep_pool_scope(user: Any) -> Q:
    """A `core.hooks.lead_rep_scope` receiver: in pool mode a rep also sees the unassigned
    pool (`pool_q`, the leads they claim from); in assign mode only their own. The mode is read
    inside the same statement (no query of its own; no settings row means the default mode)."""
    pool_mode = Exists(HandoffSettings.objects.filter(pk=1, mode=Mode.POOL))
    return Q(pool_mode) & pool_q()
