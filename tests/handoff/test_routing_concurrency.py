"""Concurrent routing on PostgreSQL: threads with connections of their own, real commits.

Two routing passes, or two managers, racing for the same reps never fill a rep beyond their
capacity, and a lead is never assigned twice.
"""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from accounts.models import Role
from handoff.models import Assignment, AssignmentStatus
from handoff.selectors import routing as selectors
from handoff.services import routing, routing_setup
from leads.models import Lead, Stage
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(*calls) -> list:
    """Run each call in its own thread (its own connection), started at the same moment;
    returns each call's result or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - handed back to the test to assert on
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n, c)) for n, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def waiting(count: int) -> list[int]:
    start = timezone.now() - timedelta(hours=1)
    return [
        LeadFactory(stage=Stage.MQL, stage_entered_at=start + timedelta(seconds=n)).pk
        for n in range(count)
    ]


@pytest.fixture(autouse=True)
def _slow_down_the_race(monkeypatch):
    """Widen the window between reading the reps' load and writing the assignments, so a
    missing lock would show: every pass sleeps a little after planning."""
    plan = routing.matching.plan

    def slow_plan(**kwargs):
        result = plan(**kwargs)
        threading.Event().wait(0.2)
        return result

    monkeypatch.setattr(routing.matching, "plan", slow_plan)


def test_two_route_calls_at_once_never_overfill_a_rep():
    reps = [UserFactory(username=f"r{n}", role=Role.REP, capacity=5) for n in range(2)]
    routing_setup.routing_rule_create(
        actor=None, name="all", reps=[r.pk for r in reps], is_default=True
    )
    first, second = waiting(12), waiting(12)

    results = run_together(
        lambda: routing.leads_route(lead_ids=first),
        lambda: routing.leads_route(lead_ids=second),
    )

    assert sum(results) == 10, results
    for rep in reps:
        assert selectors.rep_load(rep_id=rep.pk) == 5
    assert Assignment.objects.count() == 10


def test_the_same_leads_routed_twice_at_once_are_assigned_once():
    reps = [UserFactory(username=f"r{n}", role=Role.REP, capacity=50) for n in range(3)]
    routing_setup.routing_rule_create(
        actor=None, name="all", reps=[r.pk for r in reps], is_default=True
    )
    ids = waiting(30)

    results = run_together(
        lambda: routing.leads_route(lead_ids=ids),
        lambda: routing.leads_route(lead_ids=ids),
        lambda: routing.pool_route(),
    )

    assert sum(results) == 30, results
    per_lead = Counter(Assignment.objects.values_list("lead_id", flat=True))
    assert set(per_lead.values()) == {1}
    loads = Counter(Lead.objects.values_list("owner__username", flat=True))
    assert sorted(loads.values()) == [10, 10, 10]


def test_two_managers_racing_for_the_last_slot_one_wins(manager, admin_user):
    rep = UserFactory(username="rep", role=Role.REP, capacity=1)
    first, second = waiting(2)

    results = run_together(
        lambda: routing.lead_assign(lead_id=first, owner_id=rep.pk, actor=manager),
        lambda: routing.lead_assign(lead_id=second, owner_id=rep.pk, actor=admin_user),
    )

    won = [r for r in results if isinstance(r, Assignment)]
    lost = [r for r in results if isinstance(r, routing.NotAssignable)]
    assert (len(won), len(lost)) == (1, 1), results
    assert lost[0].detail.code == "rep_full"
    assert selectors.rep_load(rep_id=rep.pk) == 1
    assert Assignment.objects.filter(status=AssignmentStatus.PENDING).count() == 1


def test_routing_and_a_manager_racing_for_the_last_slot(manager):
    rep = UserFactory(username="rep", role=Role.REP, capacity=1)
    routing_setup.routing_rule_create(actor=None, name="all", reps=[rep.pk], is_default=True)
    routed, assigned = waiting(2)

    results = run_together(
        lambda: routing.leads_route(lead_ids=[routed]),
        lambda: routing.lead_assign(lead_id=assigned, owner_id=rep.pk, actor=manager),
    )

    assert selectors.rep_load(rep_id=rep.pk) == 1, results
    assert connection.vendor == "postgresql"
