"""Scoring passes against the real database: the ledger, scores, temperatures and stages."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core.errors import Forbidden
from events.models import PendingEvent
from events.pending import events_queue_for_scoring
from leads import services as lead_services
from leads.models import Stage, StageChange
from scoring import services
from scoring.models import LedgerEntry, RescoreJob, RescoreStatus, RuleVersion, ScoringRule
from tests.factories import EventFactory, LeadFactory
from tests.scoring.conftest import assert_scores_match_ledger, ledger_of

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _rescore():
    job = services.rescore_start(actor=None, reason="test")
    return services.rescore_run(job_id=job.pk)


def test_batch_scores_events_and_marks_them_scored(default_playbook):
    lead = LeadFactory()
    demo = EventFactory(lead=lead, name="Demo Requested")
    opened = EventFactory(lead=lead, name="Email Opened")
    other = EventFactory(lead=lead, name="Something Else")

    result = services.events_score_batch()

    lead.refresh_from_db()
    assert (result.events, result.leads) == (3, 1)
    assert ledger_of(lead) == [("demo-request", 30, True), ("email-open", 2, True)]
    assert (lead.score, lead.temperature, lead.stage) == (32, "warm", Stage.IQL)
    assert not PendingEvent.objects.filter(event__in=[demo, opened, other]).exists()
    assert LedgerEntry.objects.get(event=demo).expires_at == demo.occurred_at + timedelta(days=90)


def test_scoring_the_same_events_twice_changes_nothing(default_playbook):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Webinar Attended")
    services.events_score_batch()
    before = list(LedgerEntry.objects.values_list("id", "points", "is_live"))

    again = services.events_score_batch()

    lead.refresh_from_db()
    assert again.events == 0
    assert list(LedgerEntry.objects.values_list("id", "points", "is_live")) == before
    assert lead.score == 15


def test_events_without_a_lead_wait_until_linked(default_playbook):
    lead = LeadFactory()
    event = EventFactory(lead=None, anonymous_id="anon-1", name="Demo Requested")

    assert services.events_score_batch().events == 0
    assert not PendingEvent.objects.exists()

    event.lead = lead
    event.save(update_fields=["lead"])
    events_queue_for_scoring(event_ids=[event.pk])  # as identify/alias linking does
    assert PendingEvent.objects.filter(event=event).exists()
    services.events_score_batch()

    lead.refresh_from_db()
    assert lead.score == 30


def test_crossing_the_mql_threshold_promotes_and_names_the_rule(default_playbook):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Demo Requested")
    EventFactory(lead=lead, name="Webinar Attended")
    EventFactory(lead=lead, name="Newsletter Subscribed")

    services.events_score_batch()

    lead.refresh_from_db()
    change = lead.stage_changes.order_by("-id").first()
    assert (lead.score, lead.stage, lead.temperature) == (55, Stage.MQL, "hot")
    assert (change.from_stage, change.to_stage) == (Stage.IQL, Stage.MQL)
    assert change.rule == "scoring: MQL threshold 50"
    assert change.changed_by is None


def test_below_the_threshold_stays_iql(default_playbook):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Demo Requested")
    EventFactory(lead=lead, name="Webinar Attended")

    services.events_score_batch()

    lead.refresh_from_db()
    assert (lead.score, lead.stage) == (45, Stage.IQL)
    assert lead.stage_changes.count() == 1


def test_pql_conditions_move_the_lead_to_pql(default_playbook):
    lead = LeadFactory()
    start = NOW - timedelta(days=5)
    for i in range(2):
        EventFactory(lead=lead, name="Project Created", occurred_at=start + timedelta(hours=i))
    for i in range(20):
        EventFactory(
            lead=lead, name="Task Created", occurred_at=start + timedelta(days=2, minutes=i)
        )

    services.events_score_batch()

    lead.refresh_from_db()
    change = lead.stage_changes.order_by("-id").first()
    assert lead.stage == Stage.PQL
    assert change.rule.startswith("scoring: PQL: 2× Project Created within 14 days")


def test_pql_needs_every_condition_within_the_window(default_playbook):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Project Created", occurred_at=NOW - timedelta(days=40))
    EventFactory(lead=lead, name="Project Created", occurred_at=NOW - timedelta(days=39))
    for i in range(20):
        EventFactory(lead=lead, name="Task Created", occurred_at=NOW - timedelta(days=1, minutes=i))

    services.events_score_batch()

    lead.refresh_from_db()
    assert lead.stage == Stage.IQL


@pytest.mark.parametrize(("late_days_before", "expected"), [(14, Stage.PQL), (15, Stage.IQL)])
def test_a_late_older_event_completes_the_window_of_a_later_moment(
    default_playbook, late_days_before, expected
):
    """The new event's own moment does not meet the conditions; a later moment's window, which
    the late event joins, does (up to `within_days` after it, and not beyond)."""
    lead = LeadFactory()
    last = NOW - timedelta(days=1)
    EventFactory(lead=lead, name="Project Created", occurred_at=last)
    for i in range(20):
        EventFactory(lead=lead, name="Task Created", occurred_at=last - timedelta(minutes=i))
    services.events_score_batch()
    lead.refresh_from_db()
    assert lead.stage == Stage.IQL

    EventFactory(
        lead=lead, name="Project Created", occurred_at=last - timedelta(days=late_days_before)
    )
    services.events_score_batch()

    lead.refresh_from_db()
    assert lead.stage == expected


def test_incremental_pql_checks_each_batch_against_the_whole_window(default_playbook):
    """Twenty Task Created arrive one batch at a time, the second project last: only the
    batch that completes the window moves the lead, and reading only part of the history
    would never see twenty."""
    lead = LeadFactory()
    start = NOW - timedelta(days=10)
    EventFactory(lead=lead, name="Project Created", occurred_at=start)
    for i in range(20):
        EventFactory(lead=lead, name="Task Created", occurred_at=start + timedelta(hours=i))
        services.events_score_batch()
    lead.refresh_from_db()
    assert lead.stage == Stage.IQL

    EventFactory(lead=lead, name="Project Created", occurred_at=start + timedelta(days=3))
    services.events_score_batch()

    lead.refresh_from_db()
    assert lead.stage == Stage.PQL


def test_many_tasks_without_a_second_project_never_make_pql(default_playbook):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Project Created", occurred_at=NOW - timedelta(days=2))
    for batch in range(3):
        for i in range(30):
            EventFactory(
                lead=lead,
                name="Task Created",
                occurred_at=NOW - timedelta(days=1, minutes=batch * 30 + i),
            )
        services.events_score_batch()

    lead.refresh_from_db()
    assert lead.stage == Stage.IQL
    assert _rescore().promoted == 0


def test_a_recycled_lead_goes_back_to_pql_only_on_new_activity(default_playbook, marketer):
    lead = LeadFactory()
    start = NOW - timedelta(days=5)
    for i in range(2):
        EventFactory(lead=lead, name="Project Created", occurred_at=start + timedelta(hours=i))
    for i in range(20):
        EventFactory(lead=lead, name="Task Created", occurred_at=start + timedelta(minutes=i))
    services.events_score_batch()
    lead_services.lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=marketer, reason="later")

    _rescore()  # a rule edit re-scores everyone: what sent it to PQL before does not count

    lead.refresh_from_db()
    assert lead.stage == Stage.MQL
    EventFactory(lead=lead, name="Task Created", occurred_at=timezone.now())
    services.events_score_batch()  # new activity, and the window still holds enough
    lead.refresh_from_db()
    assert lead.stage == Stage.PQL
    assert list(lead.stage_changes.order_by("id").values_list("to_stage", flat=True)) == [
        "IQL",
        "PQL",
        "MQL",
        "PQL",
    ]


def test_pricing_page_counts_at_most_three_times_the_earliest_win(default_playbook):
    lead = LeadFactory()
    views = [
        EventFactory(lead=lead, type="page", name="Pricing", occurred_at=NOW - timedelta(days=d))
        for d in (1, 2, 3, 4)
    ]
    services.events_score_batch()
    # A view that happened earlier but arrives later takes the place of the latest one.
    early = EventFactory(
        lead=lead, type="page", name="Pricing", occurred_at=NOW - timedelta(days=9)
    )

    services.events_score_batch()

    lead.refresh_from_db()
    awarded = set(LedgerEntry.objects.filter(lead=lead).values_list("event_id", flat=True))
    assert awarded == {early.pk, views[3].pk, views[2].pk}
    assert lead.score == 30


def test_track_event_named_like_a_page_rule_does_not_count(default_playbook):
    lead = LeadFactory()
    EventFactory(lead=lead, type="track", name="Pricing")

    services.events_score_batch()

    lead.refresh_from_db()
    assert lead.score == 0


def test_points_of_old_events_are_recorded_but_not_live(default_playbook):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Demo Requested", occurred_at=NOW - timedelta(days=91))

    services.events_score_batch()

    lead.refresh_from_db()
    assert ledger_of(lead) == [("demo-request", 30, False)]
    assert lead.score == 0


def test_expiry_lowers_the_score_but_never_the_stage(default_playbook):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Demo Requested", occurred_at=NOW - timedelta(days=80))
    EventFactory(lead=lead, name="Webinar Attended", occurred_at=NOW - timedelta(days=80))
    EventFactory(lead=lead, name="Ebook Downloaded", occurred_at=NOW - timedelta(days=1))
    services.events_score_batch()
    lead.refresh_from_db()
    assert (lead.score, lead.stage) == (55, Stage.MQL)

    result = services.points_expire(now=NOW + timedelta(days=11))

    lead.refresh_from_db()
    assert result.leads == 1
    assert (lead.score, lead.temperature, lead.stage) == (10, "cold", Stage.MQL)
    assert ledger_of(lead) == [
        ("demo-request", 30, False),
        ("ebook", 10, True),
        ("webinar", 15, False),
    ]
    assert_scores_match_ledger()


def test_expiring_negative_points_raise_the_score_and_can_promote(default_playbook):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Unsubscribed", occurred_at=NOW - timedelta(days=89))
    EventFactory(lead=lead, name="Demo Requested", occurred_at=NOW)
    EventFactory(lead=lead, name="Webinar Attended", occurred_at=NOW)
    EventFactory(lead=lead, name="Newsletter Subscribed", occurred_at=NOW)
    services.events_score_batch()
    lead.refresh_from_db()
    assert (lead.score, lead.stage) == (35, Stage.IQL)

    services.points_expire(now=NOW + timedelta(days=2))

    lead.refresh_from_db()
    assert (lead.score, lead.stage) == (55, Stage.MQL)


def test_fit_rules_follow_the_lead_fields(default_playbook):
    lead = LeadFactory(title="Head of Growth", company_size=120, email="x@gmail.com")

    services.leads_fit_refresh(lead_ids=[lead.pk])

    lead.refresh_from_db()
    assert sorted(ledger_of(lead)) == [
        ("company-size", 10, True),
        ("free-mail", -10, True),
        ("senior-title", 15, True),
    ]
    assert lead.score == 15
    first_rows = set(LedgerEntry.objects.values_list("id", flat=True))

    lead.title, lead.email = "Engineer", "x@acme.example"
    lead.save()
    services.leads_fit_refresh(lead_ids=[lead.pk])

    lead.refresh_from_db()
    assert ledger_of(lead) == [("company-size", 10, True)]
    assert lead.score == 10
    # The row that still applies is the same row, not a re-insert.
    assert set(LedgerEntry.objects.values_list("id", flat=True)) < first_rows


def test_editing_a_rule_makes_a_version_and_the_rescore_moves_points_to_it(
    default_playbook, marketer
):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Demo Requested")
    services.events_score_batch()
    rule = ScoringRule.objects.get(key="demo-request")
    first = rule.current_version

    services.rule_update(actor=marketer, rule_id=rule.pk, definition={"points": 40})
    job = RescoreJob.objects.latest("id")
    services.rescore_run(job_id=job.pk)

    rule.refresh_from_db()
    lead.refresh_from_db()
    entry = LedgerEntry.objects.get(lead=lead)
    assert (rule.current_version.number, rule.current_version.points) == (2, 40)
    assert RuleVersion.objects.get(pk=first.pk).points == 30
    assert (entry.version_id, entry.points) == (rule.current_version_id, 40)
    assert lead.score == 40
    assert job.reason == "Rule “Requested a demo” changed"


def test_renaming_only_makes_no_version_and_no_rescore(default_playbook, marketer):
    rule = ScoringRule.objects.get(key="demo-request")
    jobs = RescoreJob.objects.count()

    services.rule_update(
        actor=marketer, rule_id=rule.pk, name="Demo asked", definition={"points": 30}
    )

    rule.refresh_from_db()
    assert (rule.name, rule.versions.count(), RescoreJob.objects.count()) == ("Demo asked", 1, jobs)


def test_switching_a_rule_off_removes_its_points_on_rescore(default_playbook, marketer):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Demo Requested")
    EventFactory(lead=lead, name="Email Opened")
    services.events_score_batch()
    rule = ScoringRule.objects.get(key="demo-request")

    services.rule_update(actor=marketer, rule_id=rule.pk, is_active=False)
    services.rescore_run(job_id=RescoreJob.objects.latest("id").pk)

    lead.refresh_from_db()
    assert ledger_of(lead) == [("email-open", 2, True)]
    assert lead.score == 2


def test_a_rep_may_not_change_rules_and_nothing_changes(default_playbook, rep):
    rule = ScoringRule.objects.get(key="demo-request")
    before = (ScoringRule.objects.count(), RuleVersion.objects.count(), RescoreJob.objects.count())

    with pytest.raises(Forbidden):
        services.rule_update(actor=rep, rule_id=rule.pk, definition={"points": 99})
    with pytest.raises(Forbidden):
        services.rule_create(
            actor=rep, name="x", definition={"kind": "event", "event_name": "X", "points": 1}
        )
    with pytest.raises(Forbidden):
        services.scoring_settings_update(actor=rep, data={"mql_threshold": 10})

    after = (ScoringRule.objects.count(), RuleVersion.objects.count(), RescoreJob.objects.count())
    assert after == before
    rule.refresh_from_db()
    assert rule.current_version.points == 30


def test_invalid_rule_is_refused_and_nothing_is_created(marketer):
    with pytest.raises(services.RuleInvalid) as exc:
        services.rule_create(actor=marketer, name="x", definition={"kind": "event", "points": 0})

    assert set(exc.value.fields) == {"points", "event_name"}
    assert (ScoringRule.objects.count(), RuleVersion.objects.count()) == (0, 0)


def test_lowering_the_threshold_promotes_on_rescore(default_playbook, marketer):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Demo Requested")
    services.events_score_batch()

    services.scoring_settings_update(actor=marketer, data={"mql_threshold": 30})
    services.rescore_run(job_id=RescoreJob.objects.latest("id").pk)

    lead.refresh_from_db()
    assert lead.stage == Stage.MQL
    assert lead.stage_changes.last().rule == "scoring: MQL threshold 30"


def test_a_new_rescore_supersedes_open_ones(marketer):
    first = services.rescore_start(actor=marketer, reason="one")
    second = services.rescore_start(actor=marketer, reason="two")

    first.refresh_from_db()
    assert first.status == RescoreStatus.SUPERSEDED
    assert services.rescore_chunk(job_id=first.pk, cursor=0) is None
    assert RescoreJob.objects.get(pk=second.pk).status == RescoreStatus.PENDING


def test_rescore_works_in_chunks_and_reports_progress(default_playbook, settings):
    settings.SCORING_RESCORE_CHUNK = 2
    leads = [LeadFactory() for _ in range(5)]
    for lead in leads:
        EventFactory(lead=lead, name="Ebook Downloaded")
    job = services.rescore_start(actor=None, reason="test")

    progress = []
    cursor = 0
    while cursor is not None:
        cursor = services.rescore_chunk(job_id=job.pk, cursor=cursor)
        job.refresh_from_db()
        progress.append((job.status, job.processed_leads, job.total_leads))

    assert progress == [
        ("running", 2, 5),
        ("running", 4, 5),
        ("running", 5, 5),
        ("done", 5, 5),
    ]
    assert [lead.score for lead in type(leads[0]).objects.order_by("id")] == [10] * 5
    assert job.progress == 1.0


def test_a_second_delivery_of_a_rescore_step_does_nothing(default_playbook, settings):
    settings.SCORING_RESCORE_CHUNK = 1
    LeadFactory.create_batch(2)
    job = services.rescore_start(actor=None, reason="test")
    services.rescore_chunk(job_id=job.pk, cursor=0)

    assert services.rescore_chunk(job_id=job.pk, cursor=0) is None

    job.refresh_from_db()
    assert job.processed_leads == 1


def test_history_rows_are_written_only_for_real_moves(default_playbook):
    lead = LeadFactory(stage=Stage.SAL)
    EventFactory(lead=lead, name="Demo Requested")
    EventFactory(lead=lead, name="Webinar Attended")
    EventFactory(lead=lead, name="Ebook Downloaded")

    services.events_score_batch()
    _rescore()

    lead.refresh_from_db()
    assert (lead.stage, lead.score) == (Stage.SAL, 55)
    assert StageChange.objects.filter(lead=lead).count() == 1


def test_a_late_earlier_pricing_view_displaces_the_latest_of_the_three(default_playbook):
    lead = LeadFactory()

    def view(days_ago):
        return EventFactory(
            lead=lead, type="page", name="Pricing", occurred_at=NOW - timedelta(days=days_ago)
        )

    first = [view(d) for d in (10, 9, 8)]
    services.events_score_batch()
    later = view(1)  # a fourth view after the three: nothing changes
    services.events_score_batch()
    assert set(LedgerEntry.objects.filter(lead=lead).values_list("event_id", flat=True)) == {
        e.pk for e in first
    }

    early = view(20)  # arrives late, happened first: it takes the latest one's place
    services.events_score_batch()

    lead.refresh_from_db()
    earned = set(LedgerEntry.objects.filter(lead=lead).values_list("event_id", flat=True))
    assert earned == {early.pk, first[0].pk, first[1].pk}
    assert later.pk not in earned
    assert lead.score == 30
    before = _snapshot_ledger()
    _rescore()
    assert _snapshot_ledger() == before


def _snapshot_ledger():
    return sorted(LedgerEntry.objects.values_list("lead_id", "event_id", "points", "is_live"))


@pytest.mark.parametrize(
    ("gap", "expected"),
    [(timedelta(days=14), Stage.PQL), (timedelta(days=14, seconds=1), Stage.IQL)],
)
def test_pql_window_includes_exactly_its_days(default_playbook, gap, expected):
    lead = LeadFactory()
    first = NOW - timedelta(days=20)
    EventFactory(lead=lead, name="Project Created", occurred_at=first)
    EventFactory(lead=lead, name="Project Created", occurred_at=first + gap)
    for _ in range(20):
        EventFactory(lead=lead, name="Task Created", occurred_at=first + gap)

    services.events_score_batch()

    lead.refresh_from_db()
    assert lead.stage == expected


@pytest.mark.parametrize(
    ("age", "live"),
    [(timedelta(days=90), False), (timedelta(days=90) - timedelta(microseconds=1), True)],
)
def test_points_expire_exactly_after_their_days(default_playbook, age, live):
    lead = LeadFactory()
    now = timezone.now()
    event = EventFactory(lead=lead, name="Ebook Downloaded", occurred_at=now - age)

    services.events_score_batch(now=now)
    services.points_expire(now=now)

    entry = LedgerEntry.objects.get(event=event)
    lead.refresh_from_db()
    assert entry.expires_at == event.occurred_at + timedelta(days=90)
    assert (entry.is_live, lead.score) == (live, 10 if live else 0)


def test_a_rule_change_queues_its_rescore_only_after_commit(
    marketer, sent, django_capture_on_commit_callbacks
):
    definition = {"kind": "event", "event_name": "Trial Started", "points": 20}

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rule = services.rule_create(actor=marketer, name="Trial", definition=definition)
        assert sent == []  # nothing leaves before the commit

    job = RescoreJob.objects.get()
    assert len(callbacks) == 1
    assert sent == [("scoring.rescore_step", (job.pk, 0))]
    assert rule.current_version.number == 1


def test_a_rolled_back_rule_change_queues_nothing(
    marketer, sent, django_capture_on_commit_callbacks
):
    definition = {"kind": "event", "event_name": "Trial Started", "points": 20}

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.rule_create(actor=marketer, name="Trial", definition=definition)
        raise RuntimeError("the caller's transaction fails")

    assert (callbacks, sent) == ([], [])
    assert (ScoringRule.objects.count(), RescoreJob.objects.count()) == (0, 0)
