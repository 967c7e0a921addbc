"""How the inbox words a deadline (static/js/inbox.js words it the same way in the browser)."""

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from handoff.templatetags.handoff_inbox import countdown_state, countdown_text


@pytest.mark.parametrize(
    "seconds, words",
    [
        (0, "due now"),
        (0.001, "in 1 min"),
        (59, "in 1 min"),
        (60, "in 1 min"),
        (61, "in 2 min"),
        (23 * 60, "in 23 min"),
        (59 * 60, "in 59 min"),
        (59 * 60 + 1, "in 1 h"),
        (60 * 60, "in 1 h"),
        (60 * 60 + 1, "in 1 h 1 min"),
        (2 * 3600 + 5 * 60, "in 2 h 5 min"),
        (24 * 3600, "in 1 d"),
        (50 * 3600, "in 2 d 2 h"),
        (-0.001, "overdue"),
        (-59, "overdue"),
        (-60, "overdue by 1 min"),
        (-5 * 60 - 59, "overdue by 5 min"),
        (-3 * 3600, "overdue by 3 h"),
        (-26 * 3600, "overdue by 1 d 2 h"),
    ],
)
def test_countdown_words(seconds, words):
    assert countdown_text(seconds) == words


@pytest.mark.parametrize(
    "seconds, state",
    [
        (-0.001, "overdue"),
        (0, "soon"),  # the deadline's own instant is still in time
        (15 * 60, "soon"),
        (15 * 60 + 0.001, "ok"),
    ],
)
def test_countdown_state(seconds, state):
    assert countdown_state(seconds) == state


def test_deadline_renders_as_a_time_element_the_script_can_read():
    due = timezone.now() + timedelta(minutes=23, seconds=30)

    html = Template('{% include "handoff/_deadline.html" %}').render(Context({"due": due}))

    stamp = due.isoformat(timespec="milliseconds")
    assert html == (
        f'<time datetime="{stamp}" data-countdown data-state="ok" '
        f'title="{due:%Y-%m-%d %H:%M} UTC">in 24 min</time>'
    )
