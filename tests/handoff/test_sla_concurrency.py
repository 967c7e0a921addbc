"""Two SLA jobs at once (two beats, a redelivered task) on PostgreSQL: each breach is marked,
escalated and taken back once, and the job never waits on rows someone else holds."""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from handoff.models import Assignment, AssignmentStatus, SlaNotice
from handoff.services import sla
from leads.models import Lead
from tests.factories import AssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=5)
NOTHING = {"accept_breaches": 0, "touch_breaches": 0, "reassigned": 0, "notices_requeued": 0}


@pytest.fixture
def published(monkeypatch):
    calls: list[tuple[str, tuple]] = []
    lock = threading.Lock()

    def record(name, *args, **kwargs):
        with lock:
            calls.append((name, args))

    monkeypatch.setattr("core.publish.publish", record)
    return calls


def in_thread(target, *args) -> threading.Thread:
    def run():
        try:
            target(*args)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def make(rep, *, accept_h: float, reassign_h: float, **fields) -> Assignment:
    return AssignmentFactory(
        rep=rep,
        assigned_at=T0,
        accept_due_at=T0 + timedelta(hours=accept_h),
        reassign_due_at=T0 + timedelta(hours=reassign_h),
        **fields,
    )


def test_two_concurrent_jobs_mark_escalate_and_take_back_each_row_once(published):
    rep = UserFactory(username="rep", role="rep")
    late = [make(rep, accept_h=1, reassign_h=8) for _ in range(40)]
    gone = [make(rep, accept_h=1, reassign_h=3) for _ in range(40)]
    untouched = [
        make(
            rep,
            accept_h=1,
            reassign_h=3,
            status=AssignmentStatus.ACCEPTED,
            decided_at=T0,
            first_touch_due_at=T0 + timedelta(hours=2),
            lead__stage="SAL",
        )
        for _ in range(40)
    ]
    barrier = threading.Barrier(2)
    results: list[dict] = []

    def job():
        barrier.wait()
        results.append(sla.sla_check(now=NOW))

    threads = [in_thread(job), in_thread(job)]
    for thread in threads:
        thread.join(30)

    assert len(results) == 2
    totals = Counter()
    for result in results:
        totals.update(result)
    assert dict(totals) == {
        "accept_breaches": 80,
        "touch_breaches": 40,
        "reassigned": 40,
        "notices_requeued": 0,
    }
    kinds = Counter(SlaNotice.objects.values_list("kind", flat=True))
    assert kinds == {"accept": 80, "touch": 40, "reassigned": 40}
    notified = [i for name, (ids,) in published if name == "handoff.sla_notify" for i in ids]
    assert sorted(notified) == sorted(SlaNotice.objects.values_list("id", flat=True))
    routed = [i for name, (ids,) in published if name == "handoff.route_leads" for i in ids]
    assert sorted(routed) == sorted(a.lead_id for a in gone)
    assert Assignment.objects.filter(status="reassigned").count() == 40
    assert not Lead.objects.filter(pk__in=routed, owner__isnull=False).exists()
    assert (
        Lead.objects.filter(pk__in=[a.lead_id for a in late + untouched], owner=rep).count() == 80
    )


def test_a_job_running_while_another_holds_the_rows_skips_them_without_waiting(published):
    row = make(UserFactory(username="rep", role="rep"), accept_h=1, reassign_h=3)
    first_done, second_done = threading.Event(), threading.Event()
    first: list[dict] = []

    def slow_job():
        with transaction.atomic():
            first.append(sla.sla_check(now=NOW))
            first_done.set()
            second_done.wait(20)  # commits only once the second job has finished

    holder = in_thread(slow_job)
    assert first_done.wait(20)
    second: list[dict] = []
    racer = in_thread(lambda: second.append(sla.sla_check(now=NOW)))
    racer.join(10)
    finished_while_held = not racer.is_alive()
    second_done.set()
    holder.join(20)

    assert finished_while_held  # it did not wait for the first job's locks
    assert second == [NOTHING]
    assert first == [{**NOTHING, "accept_breaches": 1, "reassigned": 1}]
    assert sla.sla_check(now=NOW + timedelta(minutes=1)) == NOTHING
    assert Counter(SlaNotice.objects.values_list("kind", flat=True)) == {
        "accept": 1,
        "reassigned": 1,
    }
    assert Assignment.objects.get(pk=row.pk).status == AssignmentStatus.REASSIGNED


def test_a_lead_someone_is_deciding_on_is_taken_back_the_next_minute(published):
    row = make(UserFactory(username="rep", role="rep"), accept_h=1, reassign_h=3)
    locked, release = threading.Event(), threading.Event()

    def rep_deciding():
        # What the rep's accept does first: lock the lead.
        with transaction.atomic():
            Lead.objects.select_for_update().get(pk=row.lead_id)
            locked.set()
            release.wait(20)

    holder = in_thread(rep_deciding)
    assert locked.wait(20)
    try:
        during = sla.sla_check(now=NOW)
    finally:
        release.set()
        holder.join(20)
    after = sla.sla_check(now=NOW + timedelta(minutes=1))

    assert during == {**NOTHING, "accept_breaches": 1}
    assert after == {**NOTHING, "reassigned": 1}
    assert Lead.objects.get(pk=row.lead_id).owner_id is None
