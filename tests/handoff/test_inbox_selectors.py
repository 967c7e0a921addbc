"""handoff.selectors.inbox: what the inbox lists, at its boundaries."""

from datetime import UTC, datetime, timedelta

import pytest

from handoff.models import Assignment, HandoffSettings, Mode, Task
from handoff.selectors.inbox import QUEUE_PAGE_SIZE, inbox_get, lead_actions
from leads.models import Stage
from tests.factories import LeadFactory
from tests.handoff.inbox_data import accepted, waiting

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 3, 11, 0, 0, tzinfo=UTC)  # the end of NOW's day (TIME_ZONE is UTC)


def test_tasks_due_today_end_just_before_midnight(rep):
    lead = accepted(rep)
    for title, due in [
        ("last instant of today", MIDNIGHT - timedelta(microseconds=1)),
        ("midnight: tomorrow", MIDNIGHT),
        ("yesterday, still open", NOW - timedelta(days=1)),
    ]:
        Task.objects.create(lead=lead, assignee=rep, title=title, due_at=due)

    inbox = inbox_get(user=rep, now=NOW)

    assert [t.title for t in inbox.tasks] == ["yesterday, still open", "last instant of today"]
    assert inbox.today.isoformat() == "2026-03-10"


def test_queue_pages_hold_25_and_an_odd_page_number_gives_the_first(rep):
    for _ in range(QUEUE_PAGE_SIZE + 1):
        waiting(rep)

    assert len(inbox_get(user=rep).queue.object_list) == 25
    assert len(inbox_get(user=rep, page=2).queue.object_list) == 1
    assert inbox_get(user=rep, page="nonsense").queue.number == 1
    assert inbox_get(user=rep, page=99).queue.number == 2


def test_queue_holds_only_pending_assignments(rep):
    pending = waiting(rep)
    decided = waiting(rep)
    Assignment.objects.filter(pk=decided.pk).update(status="rejected")

    assert list(inbox_get(user=rep).queue.object_list) == [pending]


def test_pool_is_for_reps_in_pool_mode_only(rep, manager, pool_mode):
    LeadFactory(stage=Stage.MQL)

    assert (inbox_get(user=rep).pool_total, inbox_get(user=manager).pool_total) == (1, 0)


@pytest.mark.parametrize(
    "stage, mine, expected",
    [
        (Stage.MQL, True, {"accept", "reject", "log", "task"}),
        (Stage.SAL, True, {"qualify", "log", "task"}),
        (Stage.SQL, True, {"close", "log", "task"}),
        (Stage.SAL, False, set()),
    ],
)
def test_lead_page_actions_follow_the_stage_and_the_owner(rep, other_rep, stage, mine, expected):
    owner = rep if mine else other_rep
    assignment = waiting(owner, stage=stage)

    actions = lead_actions(lead=assignment.lead, user=rep, assignment=assignment)

    assert actions == expected


def test_a_pool_lead_is_claimable_in_pool_mode_only(rep):
    lead = LeadFactory(stage=Stage.MQL)
    assign_mode = lead_actions(lead=lead, user=rep, assignment=None)

    HandoffSettings.objects.update_or_create(pk=1, defaults={"mode": Mode.POOL})

    assert assign_mode == frozenset()
    assert lead_actions(lead=lead, user=rep, assignment=None) == {"accept"}
