"""`manage.py seed_bench`: bench leads, their legal histories and events, in exact numbers, and
nurture emails that hang together."""

import io
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Role, User
from events.models import Event
from leads import lifecycle
from leads.models import Lead, SourceChannel, Stage, StageChange
from nurturing import selectors as nurture_selectors
from nurturing.models import (
    SENT_STATUSES,
    Enrollment,
    EnrollmentStatus,
    Message,
    MessageStatus,
    Sequence,
)
from playbook import bench_nurture, bench_seed
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

PATHS = {stages for _, stages in bench_seed.PATHS}


def seed_bench(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_bench", *args, stdout=out)
    return out.getvalue()


def histories() -> dict[int, list[StageChange]]:
    rows: dict[int, list[StageChange]] = {}
    for row in StageChange.objects.order_by("lead_id", "changed_at", "id"):
        rows.setdefault(row.lead_id, []).append(row)
    return rows


def test_every_path_is_legal_and_the_weights_make_a_thousand():
    assert bench_seed.paths_legal() is True
    assert sum(weight for weight, _ in bench_seed.PATHS) == 1000


def test_seeds_exactly_the_leads_and_events_asked_for_with_legal_histories():
    output = seed_bench("--leads", "3000", "--events", "5000")

    assert (Lead.objects.count(), Event.objects.count()) == (3000, 5000)
    rows = histories()
    assert len(rows) == 3000
    assert StageChange.objects.count() == sum(len(changes) for changes in rows.values())
    assert "Seeded 3,000 leads" in output and "5,000 events" in output
    now = timezone.now()
    reps = set(User.objects.filter(role=Role.REP).values_list("pk", flat=True))
    assert len(reps) == bench_seed.REPS
    for lead in Lead.objects.all():
        changes = rows[lead.pk]
        assert tuple(c.to_stage for c in changes) in PATHS, lead.email
        assert (changes[0].from_stage, changes[0].changed_at) == ("", lead.created_at)
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.from_stage == before.to_stage
            assert before.changed_at < after.changed_at < now
        assert (lead.stage, lead.stage_entered_at) == (changes[-1].to_stage, changes[-1].changed_at)
        recycles = sum(lifecycle.is_recycle(c.from_stage, c.to_stage) for c in changes)
        assert lead.recycle_count == recycles
        assert (lead.owner_id in reps) == (
            Stage.SAL in {c.to_stage for c in changes[1:]} and lead.stage != Stage.MQL
        )
        assert lead.stage != Stage.IQL or lead.score < 50
    # Every stage and every channel is there; events belong to the seeded leads.
    assert set(Lead.objects.values_list("stage", flat=True)) == set(Stage.values)
    assert set(Lead.objects.values_list("source", flat=True)) == set(SourceChannel.values)
    assert Event.objects.filter(lead__isnull=True).count() == 0


def test_events_are_written_in_the_order_they_were_received():
    """As ingestion writes them: physical order follows received_at, so the BRIN index on it
    (the sources page's last 30 days) reads a month's pages, not the table."""
    seed_bench("--leads", "200", "--events", "3000")
    ordered = list(Event.objects.order_by("id").values_list("received_at", flat=True))
    assert ordered == sorted(ordered)


def test_funnel_shape_is_plausible():
    seed_bench("--leads", "5000", "--events", "0")

    paths = [{c.to_stage for c in changes} for changes in histories().values()]
    reached = Counter(stage for stages in paths for stage in stages)
    handed_off = sum(1 for stages in paths if stages & {Stage.MQL, Stage.PQL})
    assert 0.20 <= reached[Stage.MQL] / 5000 <= 0.32
    assert 0.4 <= reached[Stage.SAL] / handed_off <= 0.65
    assert reached[Stage.CUSTOMER] > 0 and reached[Stage.DISQUALIFIED] > 0


def test_refuses_a_database_with_leads_unless_forced():
    LeadFactory()

    with pytest.raises(CommandError, match="has leads already"):
        seed_bench("--leads", "10", "--events", "10")
    assert (Lead.objects.count(), Event.objects.count()) == (1, 0)

    seed_bench("--leads", "10", "--events", "10", "--force")

    assert (Lead.objects.count(), Event.objects.count()) == (11, 10)


def test_rejects_nonsense_sizes():
    with pytest.raises(CommandError, match="at least 1"):
        seed_bench("--leads", "0")
    assert Lead.objects.count() == 0


def test_nurture_sequences_have_believable_emails():
    seed_bench("--leads", "3000", "--events", "0")

    now = timezone.now()
    big = Sequence.objects.get(key=bench_nurture.BIG_KEY)
    plan = {p.key: p for p in bench_nurture.SEQUENCES}
    assert set(Sequence.objects.values_list("key", flat=True)) == set(plan)
    assert [s.position for s in big.steps.order_by("position")] == [1, 2, 3, 4, 5]
    # Every seeded lead is enrolled once in the welcome sequence and had its first email.
    assert Enrollment.objects.filter(sequence=big).count() == 3000
    first = Message.objects.filter(step__sequence=big, step__position=1)
    assert first.values("lead_id").distinct().count() == 3000
    emails = Message.objects.select_related("enrollment", "step")
    assert 1.6 * 3000 <= emails.filter(step__sequence=big).count() <= 2.0 * 3000
    for email in emails:
        assert email.lead_id == email.enrollment.lead_id
        assert email.step.sequence_id == email.enrollment.sequence_id
        assert email.step.position <= email.enrollment.last_position
        assert (email.sent_at is not None) == (email.status in SENT_STATUSES)
        if email.sent_at:
            assert email.enrollment.enrolled_at < email.sent_at < now
        delivered = email.status in (MessageStatus.SENT, MessageStatus.UNKNOWN)
        assert delivered or (email.opened_at, email.unsubscribed_at) == (None, None)
        assert email.clicked_at is None or email.sent_at <= email.opened_at <= email.clicked_at
    statuses = Counter(emails.values_list("status", flat=True))
    assert set(statuses) == {s for s, _ in bench_nurture.STATUSES}
    assert 0.9 <= statuses[MessageStatus.SENT] / sum(statuses.values()) <= 0.97
    # An enrollment ends when it has had every step or left; one whose next step is ahead
    # is active and due then.
    for enrollment in Enrollment.objects.select_related("sequence"):
        steps = len(plan[enrollment.sequence.key].steps)
        had = enrollment.messages.count()
        assert had == enrollment.last_position
        if enrollment.status == EnrollmentStatus.COMPLETED:
            assert had == steps and enrollment.ended_at <= now
        elif enrollment.status == EnrollmentStatus.ACTIVE:
            assert had < steps and enrollment.next_due_at > now and enrollment.ended_at is None
        else:
            assert had < steps and enrollment.ended_at <= now
    # Some emails lead to an MQL or SQL entry within 30 days (the figures page has work).
    figures = nurture_selectors.sequence_figures(sequence=big)["totals"]
    assert 0.05 <= figures["to_mql"] / figures["sent"] <= 0.3
    assert 0 < figures["to_sql"] < figures["to_mql"]
