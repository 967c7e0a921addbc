"""Deadlines as the inbox shows them: "in 23 min", "overdue by 5 min".

static/js/inbox.js words them the same way in the browser every 30 seconds; keep the two alike.
"""

import math
from datetime import UTC, datetime

from django import template
from django.utils import timezone

register = template.Library()

SOON_SECONDS = 15 * 60  # a deadline this close is shown as urgent


def countdown_text(seconds: float) -> str:
    """A deadline `seconds` away (negative: past): whole minutes up to an hour, then hours and
    minutes, then days and hours. A future deadline counts the minute it is in (59 s is
    "in 1 min"); a past one only the minutes gone by (59 s late is "overdue")."""
    if seconds == 0:
        return "due now"
    if seconds > 0:
        return f"in {_span(math.ceil(seconds / 60))}"
    minutes = math.floor(-seconds / 60)
    return f"overdue by {_span(minutes)}" if minutes else "overdue"


def _span(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def countdown_state(seconds: float) -> str:
    """ "overdue" once past (the deadline's own instant is still in time), "soon" within
    15 minutes, else "ok"."""
    if seconds < 0:
        return "overdue"
    return "soon" if seconds <= SOON_SECONDS else "ok"


def _seconds_left(deadline: datetime) -> float:
    return (deadline - timezone.now()).total_seconds()


@register.filter
def countdown(deadline: datetime | None) -> str:
    return countdown_text(_seconds_left(deadline)) if deadline else ""


@register.filter
def deadline_state(deadline: datetime | None) -> str:
    return countdown_state(_seconds_left(deadline)) if deadline else ""


@register.filter
def iso(moment: datetime | None) -> str:
    """An instant for <time datetime=...> and the browser's Date.parse: UTC, to the millisecond."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds") if moment else ""
