"""playbook.demo_handoff_decisions: inboxes, accepted leads with activities and tasks,
rejections and a qualified lead; idempotent."""

import pytest

from accounts.models import User
from handoff.models import Activity, Assignment, Discovery, Rejection, Task
from handoff.selectors.queue import handoff_queue
from leads.models import Lead
from playbook.demo import demo_users_ensure
from playbook.demo_handoff_decisions import demo_handoff_decisions

pytestmark = pytest.mark.django_db


def _counts() -> tuple:
    return tuple(
        model.objects.count() for model in (Lead, Assignment, Rejection, Activity, Task, Discovery)
    )


def test_the_demo_fills_inboxes_and_shows_every_decision_once():
    demo_users_ensure()

    assert demo_handoff_decisions() == 10
    assert demo_handoff_decisions() == 0

    assert _counts() == (10, 10, 2, 6, 3, 1)
    rep1, rep2 = User.objects.get(username="rep1"), User.objects.get(username="rep2")
    assert handoff_queue(user=rep1).count() == 3
    assert handoff_queue(user=rep2).count() == 2
    statuses = sorted(Assignment.objects.values_list("status", flat=True))
    assert statuses == ["accepted"] * 3 + ["pending"] * 5 + ["rejected"] * 2
    assert sorted(Lead.objects.values_list("stage", flat=True)) == sorted(
        ["MQL", "PQL", "MQL", "PQL", "MQL", "SAL", "SAL", "MQL", "DISQUALIFIED", "SQL"]
    )
    assert sorted(Rejection.objects.values_list("reason", "qualified_by")) == [
        ("no_budget", "scoring: MQL threshold 50"),
        ("not_a_fit", "scoring: MQL threshold 50"),
    ]
