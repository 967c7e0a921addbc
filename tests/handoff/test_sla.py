"""The SLA job: breaches marked once at their deadline's own instant, leads taken back after the
reassign deadline, escalation emails and routing queued after the commit."""

from datetime import UTC, datetime, timedelta

import pytest

from handoff.models import Assignment, AssignmentStatus, SlaNotice
from handoff.selectors.timeline import handoff_timeline_items
from handoff.services import sla
from leads.models import Lead, Stage
from tests.factories import AssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
US = timedelta(microseconds=1)
NOTHING = {"accept_breaches": 0, "touch_breaches": 0, "reassigned": 0, "notices_requeued": 0}


@pytest.fixture
def published(monkeypatch):
    """Tasks published by name (core.publish), in order, instead of reaching a broker."""
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        "core.publish.publish", lambda name, *args, **kw: calls.append((name, args))
    )
    return calls


def pending(**fields) -> Assignment:
    return AssignmentFactory(
        assigned_at=T0,
        accept_due_at=T0 + timedelta(hours=1),
        reassign_due_at=T0 + timedelta(hours=3),
        **fields,
    )


def accepted(**fields) -> Assignment:
    return AssignmentFactory(
        assigned_at=T0,
        accept_due_at=T0 + timedelta(hours=1),
        reassign_due_at=T0 + timedelta(hours=3),
        status=AssignmentStatus.ACCEPTED,
        decided_at=T0 + timedelta(minutes=30),
        first_touch_due_at=T0 + timedelta(hours=4),
        lead__stage=Stage.SAL,
        **fields,
    )


def notices() -> list[tuple[int, str]]:
    return list(SlaNotice.objects.order_by("id").values_list("assignment_id", "kind"))


# --- Accept deadline ---------------------------------------------------------------------------


def test_accept_breach_is_not_marked_one_microsecond_before_the_deadline(published):
    row = pending()

    result = sla.sla_check(now=row.accept_due_at - US)

    assert result == NOTHING
    row.refresh_from_db()
    assert (row.status, row.accept_breached_at) == (AssignmentStatus.PENDING, None)
    assert notices() == []


def test_accept_breach_is_marked_at_the_deadlines_own_instant(published):
    row = pending()

    result = sla.sla_check(now=row.accept_due_at)

    assert result == {**NOTHING, "accept_breaches": 1}
    row.refresh_from_db()
    assert row.accept_breached_at == row.accept_due_at
    assert row.status == AssignmentStatus.PENDING  # still the rep's until the reassign deadline
    assert Lead.objects.get(pk=row.lead_id).owner_id == row.rep_id
    assert notices() == [(row.pk, "accept")]


def test_a_second_run_marks_and_escalates_nothing_again(
    published, django_capture_on_commit_callbacks
):
    row = pending()
    first = sla.sla_check(now=row.accept_due_at)

    with django_capture_on_commit_callbacks(execute=True):
        second = sla.sla_check(now=row.accept_due_at + timedelta(minutes=1))

    assert (first["accept_breaches"], second) == (1, NOTHING)
    row.refresh_from_db()
    assert row.accept_breached_at == row.accept_due_at  # the first mark stays
    assert notices() == [(row.pk, "accept")]
    assert published == []


def test_decided_assignments_are_never_accept_breaches(published):
    rows = [
        accepted(),
        pending(status=AssignmentStatus.REJECTED, decided_at=T0, owned=False),
        pending(status=AssignmentStatus.RELEASED, ended_at=T0, owned=False),
    ]

    result = sla.sla_check(now=T0 + timedelta(hours=2))

    assert result == NOTHING
    assert [
        r.accept_breached_at for r in Assignment.objects.filter(pk__in=[r.pk for r in rows])
    ] == [None] * 3


# --- First touch -------------------------------------------------------------------------------


def test_touch_breach_is_marked_at_the_deadline_and_not_a_microsecond_before(published):
    row = accepted()

    before = sla.sla_check(now=row.first_touch_due_at - US)
    at = sla.sla_check(now=row.first_touch_due_at)
    again = sla.sla_check(now=row.first_touch_due_at + timedelta(minutes=1))

    assert (before, again) == (NOTHING, NOTHING)
    assert at == {**NOTHING, "touch_breaches": 1}
    row.refresh_from_db()
    assert row.touch_breached_at == row.first_touch_due_at
    assert row.status == AssignmentStatus.ACCEPTED
    assert notices() == [(row.pk, "touch")]


def test_a_lead_touched_in_time_or_late_is_not_a_touch_breach_for_the_job(published):
    in_time = accepted(first_touched_at=T0 + timedelta(hours=1))
    late = accepted(first_touched_at=T0 + timedelta(hours=5))

    result = sla.sla_check(now=T0 + timedelta(hours=6))

    assert result == NOTHING
    assert list(
        Assignment.objects.filter(pk__in=[in_time.pk, late.pk]).values_list(
            "touch_breached_at", flat=True
        )
    ) == [None, None]


# --- Taking leads back -------------------------------------------------------------------------


def test_a_lead_is_taken_back_at_the_reassign_deadline_not_before(
    published, django_capture_on_commit_callbacks
):
    row = pending()
    sla.sla_check(now=row.accept_due_at)
    SlaNotice.objects.update(sent_at=row.accept_due_at)  # its email went out

    with django_capture_on_commit_callbacks(execute=True):
        before = sla.sla_check(now=row.reassign_due_at - US)
    assert before == NOTHING
    assert Assignment.objects.get(pk=row.pk).status == AssignmentStatus.PENDING
    assert published == []

    with django_capture_on_commit_callbacks(execute=True):
        at = sla.sla_check(now=row.reassign_due_at)

    assert at == {**NOTHING, "reassigned": 1}
    row.refresh_from_db()
    assert (row.status, row.ended_at) == (AssignmentStatus.REASSIGNED, row.reassign_due_at)
    assert row.accept_breached_at == row.accept_due_at
    lead = Lead.objects.get(pk=row.lead_id)
    assert (lead.owner_id, lead.stage) == (None, Stage.MQL)
    notice = SlaNotice.objects.get(kind="reassigned")
    assert notice.assignment_id == row.pk
    assert published == [
        ("handoff.sla_notify", ([notice.pk],)),
        ("handoff.route_leads", ([lead.pk],)),
    ]


def test_a_job_that_missed_both_deadlines_marks_the_breach_and_takes_the_lead_back(
    published, django_capture_on_commit_callbacks
):
    row = pending()

    with django_capture_on_commit_callbacks(execute=True):
        result = sla.sla_check(now=row.reassign_due_at + timedelta(hours=1))

    assert result == {**NOTHING, "accept_breaches": 1, "reassigned": 1}
    row.refresh_from_db()
    assert row.status == AssignmentStatus.REASSIGNED
    assert notices() == [(row.pk, "accept"), (row.pk, "reassigned")]
    assert [name for name, _ in published] == ["handoff.sla_notify", "handoff.route_leads"]


def test_a_lead_a_manager_gave_to_someone_else_keeps_its_new_owner(
    published, django_capture_on_commit_callbacks
):
    row = pending()
    other = UserFactory(username="other_rep", role="rep")
    Lead.objects.filter(pk=row.lead_id).update(owner=other)

    with django_capture_on_commit_callbacks(execute=True):
        result = sla.sla_check(now=row.reassign_due_at)

    assert result["reassigned"] == 1
    assert Assignment.objects.get(pk=row.pk).status == AssignmentStatus.REASSIGNED
    assert Lead.objects.get(pk=row.lead_id).owner_id == other.pk
    assert [name for name, _ in published] == ["handoff.sla_notify"]  # not routed: it is owned


def test_accepted_leads_are_never_taken_back(published):
    row = accepted()

    sla.sla_check(now=row.reassign_due_at + timedelta(days=2))

    row.refresh_from_db()
    assert row.status == AssignmentStatus.ACCEPTED
    assert Lead.objects.get(pk=row.lead_id).owner_id == row.rep_id


def test_the_timeline_shows_the_breach_and_the_take_back(published):
    row = pending()
    sla.sla_check(now=row.reassign_due_at)

    items = handoff_timeline_items(Lead.objects.get(pk=row.lead_id))

    rep = row.rep.username
    assert [(i["kind"], i["at"], i["title"]) for i in items] == [
        ("assigned", T0, f"Assigned to {rep} by routing"),
        ("sla_breach", row.reassign_due_at, f"Accept deadline missed by {rep}"),
        ("reassigned", row.reassign_due_at, f"Taken back from {rep}"),
    ]


# --- Publishing ---------------------------------------------------------------------------------


def test_emails_and_routing_are_published_only_after_the_commit_in_chunks(
    published, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(sla, "NOTICES_PER_TASK", 2)
    monkeypatch.setattr(sla, "LEADS_PER_ROUTING_TASK", 2)
    rows = [pending() for _ in range(3)]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sla.sla_check(now=T0 + timedelta(hours=3))
    assert published == []  # nothing before the commit

    for callback in callbacks:
        callback()
    ids = list(SlaNotice.objects.order_by("id").values_list("id", flat=True))
    leads = sorted(r.lead_id for r in rows)
    assert len(ids) == 6  # an accept breach and a take-back each
    assert published == [
        ("handoff.sla_notify", (ids[0:2],)),
        ("handoff.sla_notify", (ids[2:4],)),
        ("handoff.sla_notify", (ids[4:6],)),
        ("handoff.route_leads", (leads[0:2],)),
        ("handoff.route_leads", (leads[2:3],)),
    ]


def test_unsent_notices_are_queued_again_after_five_minutes_once(
    published, django_capture_on_commit_callbacks
):
    row = pending()
    sla.sla_check(now=row.accept_due_at)
    notice = SlaNotice.objects.get()
    done = SlaNotice.objects.create(
        assignment=pending(), kind="accept", created_at=T0, queued_at=T0, sent_at=T0
    )
    SlaNotice.objects.create(
        assignment=done.assignment, kind="touch", created_at=T0, queued_at=T0, error="refused"
    )

    early = sla.sla_check(now=notice.queued_at + sla.NOTICE_REQUEUE_AFTER - US)
    with django_capture_on_commit_callbacks(execute=True):
        due = sla.sla_check(now=notice.queued_at + sla.NOTICE_REQUEUE_AFTER)
    again = sla.sla_check(now=notice.queued_at + sla.NOTICE_REQUEUE_AFTER + timedelta(minutes=1))

    assert (early["notices_requeued"], due["notices_requeued"], again["notices_requeued"]) == (
        0,
        1,
        0,
    )
    assert published == [("handoff.sla_notify", ([notice.pk],))]
    notice.refresh_from_db()
    assert notice.queued_at == notice.created_at + sla.NOTICE_REQUEUE_AFTER


def test_the_beat_runs_the_job_every_minute_and_drops_stale_ticks():
    from leadcrm.schedule import BEAT_SCHEDULE

    assert BEAT_SCHEDULE["handoff-sla-check"] == {
        "task": "handoff.sla_check",
        "schedule": 60.0,
        "options": {"expires": 55},
    }
