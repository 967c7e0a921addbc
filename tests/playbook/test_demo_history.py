"""playbook.demo_history: six months of believable, legal lead history, written once."""

from collections import Counter

import pytest
from django.db.models import Count, F, Sum
from django.utils import timezone

from accounts.models import User
from events.models import Event, PendingEvent
from handoff.models import Assignment, Rejection
from leads import lifecycle
from leads.models import Lead, SourceChannel, Stage, StageChange
from playbook import demo, demo_history_plan
from playbook.demo_handoff_routing import demo_handoff_routing
from playbook.demo_history import demo_history_ensure
from playbook.scoring import playbook_load
from scoring.models import LedgerEntry
from scoring.selectors import scoring_settings_get
from scoring.services import backlog_score

pytestmark = pytest.mark.django_db

REPS = {"rep1", "rep2", "rep3"}


@pytest.fixture
def history():
    """The demo's users and sales team, then the history; returns when it was written."""
    demo.demo_users_ensure()
    demo_handoff_routing(route=False)
    now = timezone.now()
    assert demo_history_ensure(now=now) == demo_history_plan.LEADS
    return now


def history_leads():
    return Lead.objects.filter(external_id__startswith=demo_history_plan.MARKER)


def legal(from_stage: str, to_stage: str) -> bool:
    if (from_stage, to_stage) == (Stage.MQL, Stage.MQL):
        return lifecycle.recycle_move(Stage.MQL) is not None
    return (Stage(from_stage), Stage(to_stage)) in lifecycle.MOVES


def test_leads_come_from_every_channel_as_planned(history):
    planned = demo_history_plan.plan(now=history)
    counts = dict(history_leads().values_list("source").annotate(n=Count("pk")))

    assert counts == Counter(p.source for p in planned)
    assert set(counts) == set(SourceChannel.values)
    assert sum(counts.values()) == 2000
    assert min(counts.values()) >= 50
    campaigns = set(history_leads().exclude(utm_campaign="").values_list("utm_campaign", flat=True))
    assert {"brand-search", "ebook-lead-scoring", "partner-program"} <= campaigns
    oldest = history_leads().order_by("created_at").first()
    assert 150 <= (history - oldest.created_at).days <= demo_history_plan.DAYS


def test_every_history_is_a_legal_path_in_time(history):
    rows: dict[int, list[StageChange]] = {}
    for row in StageChange.objects.filter(lead__in=history_leads()).order_by("changed_at", "id"):
        rows.setdefault(row.lead_id, []).append(row)
    usernames = dict(User.objects.values_list("pk", "username"))

    for lead in history_leads():
        changes = rows[lead.pk]
        first = changes[0]
        assert (first.from_stage, first.to_stage, first.changed_at) == (
            "",
            Stage.IQL,
            lead.created_at,
        )
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.from_stage == before.to_stage, lead.email
            assert legal(after.from_stage, after.to_stage), (lead.email, after)
            assert before.changed_at < after.changed_at < history, lead.email
            if lifecycle.MOVES.get((Stage(after.from_stage), Stage(after.to_stage))):
                needs = lifecycle.MOVES[(Stage(after.from_stage), Stage(after.to_stage))]
                assert not needs.needs_reason or after.reason, (lead.email, after)
        assert (lead.stage, lead.stage_entered_at) == (changes[-1].to_stage, changes[-1].changed_at)
        recycles = [c for c in changes if lifecycle.is_recycle(c.from_stage, c.to_stage)]
        assert lead.recycle_count == len(recycles), lead.email
        if lead.stage in (Stage.SAL, Stage.SQL, Stage.CUSTOMER):
            assert usernames[lead.owner_id] in REPS, lead.email
        if lead.stage in (Stage.IQL, Stage.MQL, Stage.PQL):
            assert lead.owner_id is None, lead.email


def test_the_funnel_converts_like_a_real_one(history):
    reached = dict(
        StageChange.objects.filter(lead__in=history_leads())
        .values_list("to_stage")
        .annotate(n=Count("lead_id", distinct=True))
    )

    assert reached[Stage.IQL] == 2000
    assert 0.20 <= reached[Stage.MQL] / reached[Stage.IQL] <= 0.35
    assert 0.45 <= reached[Stage.SAL] / reached[Stage.MQL] <= 0.65
    assert 0.30 <= reached[Stage.SQL] / reached[Stage.SAL] <= 0.50
    assert 0.20 <= reached[Stage.CUSTOMER] / reached[Stage.SQL] <= 0.45
    assert reached[Stage.PQL] >= 40 and reached[Stage.DISQUALIFIED] >= 100
    assert history_leads().filter(recycle_count__gte=2).count() >= 5
    assert set(history_leads().values_list("stage", flat=True)) == set(Stage.values)
    # Each rejection of an assigned lead is on record, as the hand-off writes it.
    rejections = Rejection.objects.filter(lead__in=history_leads())
    assert (
        rejections.count()
        == Assignment.objects.filter(lead__in=history_leads(), status="rejected").count()
    )
    assert rejections.count() >= 100


def test_scoring_the_activity_moves_no_lead_and_scores_match_the_ledger(history):
    playbook_load()
    changes_before = StageChange.objects.count()
    events = Event.objects.filter(lead__in=history_leads())
    assert events.count() == PendingEvent.objects.filter(event__in=events).count() > 10_000
    assert events.filter(type="page", name="Pricing").exists()
    # Every event happened between its lead's creation and the set-up.
    assert not events.filter(occurred_at__gte=history).exists()
    assert not events.filter(occurred_at__lt=F("lead__created_at")).exists()

    result, more = backlog_score(lead_ids=history_leads().values_list("pk", flat=True))

    assert (result.promoted, more, StageChange.objects.count()) == (0, False, changes_before)
    live = dict(
        LedgerEntry.objects.filter(is_live=True, lead__in=history_leads())
        .values_list("lead_id")
        .annotate(points=Sum("points"))
    )
    thresholds = scoring_settings_get().thresholds()
    temperatures = Counter()
    for lead in history_leads():
        assert lead.score == live.get(lead.pk, 0), lead.email
        assert lead.stage != Stage.IQL or lead.score < thresholds.mql_threshold, lead.email
        temperatures[lead.temperature] += 1
    assert set(temperatures) == {"cold", "warm", "hot"}


def test_second_run_writes_nothing(history):
    before = (Lead.objects.count(), StageChange.objects.count(), Event.objects.count())

    assert demo_history_ensure() == 0

    assert (Lead.objects.count(), StageChange.objects.count(), Event.objects.count()) == before
