"""handoff.services.routing on PostgreSQL: rules, capacity, fairness, the pool, lapses,
manual reassignment, deadlines, and the stage-entered hook."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import Role
from core import publish
from handoff.models import Assignment, AssignmentStatus, HandoffSettings
from handoff.selectors import routing as selectors
from handoff.services import routing, routing_setup
from leads import services as lead_services
from leads.models import Lead, Stage, StageChange
from leads.selectors import lead_timeline
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """Tasks handed to the broker, as (name, args) (the broker is not under test here)."""
    messages = []
    monkeypatch.setattr(publish, "publish", lambda name, *a, **kw: messages.append((name, a)))
    return messages


def make_rep(name: str, capacity: int = 10, **fields):
    return UserFactory(username=name, role=Role.REP, capacity=capacity, **fields)


def make_rule(reps, name: str = "rule", **fields):
    return routing_setup.routing_rule_create(
        actor=None, name=name, reps=[rep.pk for rep in reps], **fields
    )


def waiting(count: int = 1, *, start: datetime | None = None, **fields) -> list[Lead]:
    """MQL leads nobody owns, entered their stage a second apart (oldest first)."""
    start = start or timezone.now() - timedelta(hours=1)
    fields.setdefault("stage", Stage.MQL)
    return [
        LeadFactory(stage_entered_at=start + timedelta(seconds=n), **fields) for n in range(count)
    ]


def owned(rep, count: int, stage: str = Stage.SAL) -> list[Lead]:
    return [LeadFactory(stage=stage, owner=rep) for _ in range(count)]


def route(leads) -> int:
    return routing.leads_route(lead_ids=[lead.pk for lead in leads])


def owners(leads) -> list[str | None]:
    by_id = dict(
        Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("pk", "owner__username")
    )
    return [by_id[lead.pk] for lead in leads]


# --- capacity boundaries ----------------------------------------------------------------------


def test_rep_with_one_slot_left_gets_one_lead_and_the_rest_wait():
    rep = make_rep("ann", capacity=3)
    owned(rep, 2)
    make_rule([rep], is_default=True)
    leads = waiting(2)

    assert route(leads) == 1
    assert owners(leads) == ["ann", None]
    assert selectors.rep_load(rep_id=rep.pk) == 3


def test_full_rep_gets_nothing():
    rep = make_rep("ann", capacity=2)
    owned(rep, 1, Stage.SQL)
    owned(rep, 1, Stage.MQL)  # an assigned, not yet accepted lead counts too
    make_rule([rep], is_default=True)
    leads = waiting(1)

    assert route(leads) == 0
    assert owners(leads) == [None]
    assert not Assignment.objects.exists()


def test_closed_leads_do_not_count_towards_load():
    rep = make_rep("ann", capacity=1)
    owned(rep, 1, Stage.CUSTOMER)
    owned(rep, 1, Stage.DISQUALIFIED)
    make_rule([rep], is_default=True)
    assert route(waiting(1)) == 1


def test_away_until_exactly_now_counts_as_back():
    now = timezone.now()
    back = make_rep("back", is_away=True, away_until=now)
    away = make_rep("away", is_away=True, away_until=now + timedelta(microseconds=1))
    forever = make_rep("forever", is_away=True)

    slots = selectors.rep_slots(rep_ids=[back.pk, away.pk, forever.pk], now=now)

    assert set(slots) == {back.pk}
    assert (back.away_now(now), away.away_now(now)) == (False, True)


def test_rule_size_and_score_bounds_are_inclusive_on_the_database():
    sized, rest = make_rep("sized", capacity=50), make_rep("rest", capacity=50)
    make_rule([sized], name="mid-size", size_min=10, size_max=50, score_min=40, score_max=80)
    make_rule([rest], name="default", is_default=True)
    inside = [(10, 40), (50, 80)]
    outside = [(9, 60), (51, 60), (30, 39), (30, 81)]
    leads = [waiting(1, company_size=s, score=p)[0] for s, p in inside + outside]

    route(leads)

    assert owners(leads) == ["sized", "sized", "rest", "rest", "rest", "rest"]


# --- fairness and weighting -------------------------------------------------------------------


def test_equal_capacity_no_rep_gets_more_than_one_above_another():
    reps = [make_rep(f"r{n}", capacity=100) for n in range(4)]
    make_rule(reps, is_default=True)
    leads = waiting(103)

    assert route(leads) == 103

    counts = Counter(owners(leads))
    assert sorted(counts.values()) == [25, 26, 26, 26]


def test_fairness_holds_across_many_routing_calls():
    reps = [make_rep(f"r{n}", capacity=100) for n in range(3)]
    make_rule(reps, is_default=True)
    leads = waiting(40)
    for lead in leads:  # one lead per call, as the hook sends them one by one
        route([lead])
    counts = Counter(owners(leads))
    assert max(counts.values()) - min(counts.values()) <= 1


def test_free_capacity_weights_who_gets_leads():
    roomy, busy = make_rep("roomy", capacity=10), make_rep("busy", capacity=10)
    owned(busy, 6)
    make_rule([roomy, busy], is_default=True)
    leads = waiting(8)

    route(leads)

    # roomy until both have 4 free, then turns (busy first: never assigned by routing).
    assert owners(leads) == ["roomy"] * 6 + ["busy", "roomy"]


def test_larger_capacity_gets_more_leads():
    big, small = make_rep("big", capacity=20), make_rep("small", capacity=10)
    make_rule([big, small], is_default=True)
    leads = waiting(30)
    route(leads)
    assert Counter(owners(leads)) == {"big": 20, "small": 10}


# --- who is skipped ---------------------------------------------------------------------------


def test_away_inactive_full_and_non_rep_members_are_skipped():
    ok = make_rep("ok", capacity=5)
    away = make_rep("away", capacity=50, is_away=True)
    inactive = make_rep("inactive", capacity=50)
    full = make_rep("full", capacity=1)
    promoted = make_rep("promoted", capacity=50)
    owned(full, 1)
    make_rule([ok, away, inactive, full, promoted], is_default=True)
    inactive.is_active = False
    inactive.save()
    promoted.role = Role.MANAGER
    promoted.save()
    leads = waiting(3)

    route(leads)

    assert owners(leads) == ["ok", "ok", "ok"]


def test_rep_whose_away_ended_gets_leads_again():
    rep = make_rep("rep", is_away=True, away_until=timezone.now() - timedelta(minutes=1))
    make_rule([rep], is_default=True)
    assert route(waiting(1)) == 1


def test_territory_of_a_rep_limits_their_leads():
    french = make_rep("french", capacity=50, territory_countries=["France"])
    anyone = make_rep("anyone", capacity=50)
    owned(anyone, 10)
    make_rule([french, anyone], is_default=True)
    leads = waiting(1, country="germany") + waiting(1, country="FRANCE")
    route(leads)
    assert owners(leads) == ["anyone", "french"]


def test_leads_not_waiting_are_left_alone():
    rep = make_rep("rep")
    other = make_rep("other")
    make_rule([rep], is_default=True)
    iql = waiting(1, stage=Stage.IQL)
    sal = waiting(1, stage=Stage.SAL)
    mine = waiting(1, owner=other)
    dnc = waiting(1, do_not_contact=True, do_not_contact_reason="unsubscribed")
    leads = iql + sal + mine + dnc

    assert route(leads) == 0
    assert owners(leads) == [None, None, "other", None]


# --- rules ------------------------------------------------------------------------------------


def test_first_matching_rule_by_position_and_the_default_catch_the_rest():
    dach, pql, rest = make_rep("dach"), make_rep("pql"), make_rep("rest")
    make_rule([rest], name="default", is_default=True)
    make_rule([pql], name="pql", stages=["PQL"])
    make_rule([dach], name="dach", countries=["Germany", "Austria"], position=1)
    leads = [
        waiting(1, country="Austria", stage=Stage.PQL)[0],
        waiting(1, country="Spain", stage=Stage.PQL)[0],
        waiting(1, country="Spain", stage=Stage.MQL)[0],
    ]

    route(leads)

    assert owners(leads) == ["dach", "pql", "rest"]
    assert list(Assignment.objects.order_by("lead_id").values_list("rule__name", flat=True)) == [
        "dach",
        "pql",
        "default",
    ]


def test_inactive_rule_is_skipped():
    first, second = make_rep("first"), make_rep("second")
    make_rule([first], name="off", is_active=False)
    make_rule([second], name="on")
    leads = waiting(1)
    route(leads)
    assert owners(leads) == ["second"]


def test_matching_rule_with_nobody_free_leaves_the_lead_in_the_pool():
    busy, rest = make_rep("busy", capacity=0), make_rep("rest")
    make_rule([busy], name="germany", countries=["Germany"])
    make_rule([rest], name="default", is_default=True)
    leads = waiting(1, country="Germany")
    assert route(leads) == 0
    assert owners(leads) == [None]


def test_no_rule_at_all_leaves_leads_in_the_pool():
    make_rep("rep")
    leads = waiting(2)
    assert route(leads) == 0
    assert owners(leads) == [None, None]
    assert selectors.pool_size() == 2


def test_lead_no_rule_matches_waits_in_the_pool():
    make_rule([make_rep("rep")], countries=["Japan"])
    leads = waiting(1, country="Chile")
    assert route(leads) == 0


# --- the pool ---------------------------------------------------------------------------------


def test_pool_route_assigns_oldest_first_as_capacity_frees():
    rep = make_rep("rep", capacity=1)
    make_rule([rep], is_default=True)
    blocker = owned(rep, 1)[0]
    start = timezone.now() - timedelta(days=1)
    newest, oldest, middle = (
        waiting(1, start=start + timedelta(minutes=30))[0],
        waiting(1, start=start)[0],
        waiting(1, start=start + timedelta(minutes=10))[0],
    )
    assert routing.pool_route() == 0

    rep.capacity = 3
    rep.save()
    blocker.stage = Stage.CUSTOMER
    blocker.save()
    assert routing.pool_route() == 3  # three free: all three, oldest first
    assert list(Assignment.objects.order_by("id").values_list("lead_id", flat=True)) == [
        oldest.pk,
        middle.pk,
        newest.pk,
    ]


def test_pool_route_stops_at_capacity_oldest_first():
    rep = make_rep("rep", capacity=2)
    make_rule([rep], is_default=True)
    leads = waiting(5)
    assert routing.pool_route() == 2
    assert owners(leads) == ["rep", "rep", None, None, None]


def test_pool_route_walks_past_a_chunk(monkeypatch):
    monkeypatch.setattr(routing, "CHUNK", 3)
    reps = [make_rep(f"r{n}", capacity=4) for n in range(2)]
    make_rule(reps, is_default=True)
    leads = waiting(10)
    assert routing.pool_route() == 8
    assert owners(leads)[:8] == ["r0", "r1"] * 4
    assert owners(leads)[8:] == [None, None]


def test_pool_mode_routes_nothing(pool_mode):
    make_rule([make_rep("rep")], is_default=True)
    leads = waiting(2)
    assert route(leads) == 0
    assert routing.pool_route() == 0
    assert owners(leads) == [None, None]


# --- lapses and rejections --------------------------------------------------------------------


def lapse(lead: Lead, rep) -> None:
    """What the SLA job leaves: the rep's assignment taken back, the lead unowned."""
    now = timezone.now()
    Assignment.objects.create(
        lead=lead,
        rep=rep,
        status=AssignmentStatus.REASSIGNED,
        assigned_at=now - timedelta(hours=3),
        accept_due_at=now - timedelta(hours=2),
        reassign_due_at=now,
        ended_at=now,
    )


def test_never_back_to_a_rep_who_let_it_lapse():
    slow, other = make_rep("slow", capacity=50), make_rep("other", capacity=50)
    owned(other, 20)
    make_rule([slow, other], is_default=True)
    leads = waiting(2)
    lapse(leads[0], slow)

    route(leads)

    assert owners(leads) == ["other", "slow"]


def test_lapsed_lead_waits_when_its_only_rep_let_it_lapse():
    slow = make_rep("slow")
    make_rule([slow], is_default=True)
    [lead] = waiting(1)
    lapse(lead, slow)
    assert route([lead]) == 0
    assert routing.pool_route() == 0


def test_rejected_back_to_nurture_is_not_routed_until_a_rule_advances_it():
    rep, other = make_rep("rep"), make_rep("other")
    make_rule([rep, other], is_default=True)
    [lead] = waiting(1)
    now = timezone.now()
    Assignment.objects.create(
        lead=lead,
        rep=rep,
        status=AssignmentStatus.REJECTED,
        assigned_at=now - timedelta(minutes=5),
        accept_due_at=now,
        reassign_due_at=now,
        decided_at=now - timedelta(minutes=1),
        ended_at=now - timedelta(minutes=1),
    )
    assert route([lead]) == 0
    assert routing.pool_route() == 0

    lead_services.lead_promote(lead_id=lead.pk, to=Stage.PQL, rule="pql: 3 projects")

    assert route([lead]) == 1


def test_recycled_back_to_nurture_is_not_routed_until_a_rule_advances_it():
    rep = make_rep("rep")
    make_rule([rep], is_default=True)
    [lead] = waiting(1, stage=Stage.SAL, owner=rep)
    lead_services.lead_transition(
        lead_id=lead.pk, to=Stage.MQL, actor=rep, reason="not this quarter"
    )
    assert owners([lead]) == [None]
    assert route([lead]) == 0
    assert routing.pool_route() == 0

    lead_services.lead_promote(lead_id=lead.pk, to=Stage.PQL, rule="pql: 3 projects")

    assert route([lead]) == 1


# --- an assignment ----------------------------------------------------------------------------


def test_assignment_has_deadlines_from_the_settings_and_shows_on_the_timeline():
    rep = make_rep("ann")
    make_rule([rep], name="everyone", is_default=True)
    HandoffSettings.objects.update_or_create(
        pk=1, defaults={"accept_within_minutes": 30, "reassign_after_minutes": 90}
    )
    [lead] = waiting(1)

    route([lead])

    assignment = Assignment.objects.get(lead=lead)
    assert assignment.status == AssignmentStatus.PENDING
    assert assignment.accept_due_at - assignment.assigned_at == timedelta(minutes=30)
    assert assignment.reassign_due_at - assignment.accept_due_at == timedelta(minutes=90)
    lead.refresh_from_db()
    assert (lead.stage, lead.owner_id) == (Stage.MQL, rep.pk)
    titles = [item["title"] for item in lead_timeline(lead=lead) if item["kind"] == "assigned"]
    assert titles == ["Assigned to ann by routing (rule: everyone)"]


def test_deadlines_count_business_hours_only():
    rep = make_rep("ann")
    HandoffSettings.objects.update_or_create(
        pk=1,
        defaults={
            "accept_within_minutes": 60,
            "reassign_after_minutes": 120,
            "business_hours": {
                "time_zone": "Europe/Berlin",
                "days": [0, 1, 2, 3, 4],
                "start": "09:00",
                "end": "17:00",
                "holidays": None,
            },
        },
    )
    [lead] = waiting(1)
    friday_1630_berlin = datetime(2026, 3, 6, 15, 30, tzinfo=UTC)

    with transaction.atomic():
        assignment = routing.assignment_open(lead=lead, rep=rep, now=friday_1630_berlin)

    # 30 minutes on Friday, 30 on Monday from 09:00 Berlin (08:00 UTC); then 120 more.
    assert assignment.accept_due_at == datetime(2026, 3, 9, 8, 30, tzinfo=UTC)
    assert assignment.reassign_due_at == datetime(2026, 3, 9, 10, 30, tzinfo=UTC)


def test_each_assignment_queues_its_email_after_commit(sent, django_capture_on_commit_callbacks):
    reps = [make_rep("a"), make_rep("b")]
    make_rule(reps, is_default=True)
    leads = waiting(3)
    with django_capture_on_commit_callbacks(execute=True):
        route(leads)
        assert sent == []
    ids = sorted(Assignment.objects.values_list("pk", flat=True))
    batches = [args[0] for name, args in sent if name == "handoff.notify_assigned"]
    assert sorted(i for batch in batches for i in batch) == ids


# --- the hook ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_stage_entered_publishes_route_leads_after_commit_only(sent, marketer):
    [lead] = waiting(1, stage=Stage.IQL)

    with transaction.atomic():
        lead_services.lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=marketer)
        assert sent == []
    assert ("handoff.route_leads", ([lead.pk],)) in sent

    sent.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        lead_services.lead_transition(lead_id=lead.pk, to=Stage.PQL, actor=marketer)
        raise RuntimeError("rolled back")
    assert sent == []


@pytest.mark.django_db(transaction=True)
def test_a_new_lead_publishes_no_route_task(sent, marketer):
    """A lead just created is IQL with no assignment: routing has nothing to do with it (one
    task fewer for every form submission and new visitor; nurturing still hears of it:
    tests/nurturing/test_enrollments.py)."""
    lead = lead_services.lead_create(actor=marketer, email="new@example.com")
    assert "handoff.route_leads" not in [name for name, _ in sent]
    # Its first move is routed as any.
    lead_services.lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=marketer)
    assert ("handoff.route_leads", ([lead.pk],)) in sent


@pytest.mark.django_db(transaction=True)
def test_a_threshold_change_publishes_one_route_task_for_all_promoted_leads(sent):
    leads = waiting(5, stage=Stage.IQL)
    lead_services.leads_promote(
        reasons={lead.pk: "score 50" for lead in leads}, to=Stage.MQL, rule="mql threshold"
    )
    route_tasks = [sorted(args[0]) for name, args in sent if name == "handoff.route_leads"]
    assert route_tasks == [sorted(lead.pk for lead in leads)]


# --- a manager's reassignment -----------------------------------------------------------------


def test_reassign_ends_the_open_assignment_and_opens_a_new_one(
    manager, sent, django_capture_on_commit_callbacks
):
    first, second = make_rep("first"), make_rep("second")
    make_rule([first], is_default=True)
    [lead] = waiting(1)
    route([lead])
    old = Assignment.objects.get(lead=lead)

    with django_capture_on_commit_callbacks(execute=True):
        new = routing.lead_assign(lead_id=lead.pk, owner_id=second.pk, actor=manager)

    old.refresh_from_db()
    assert (old.status, old.ended_at is not None) == (AssignmentStatus.REASSIGNED, True)
    assert (new.status, new.rep_id, new.assigned_by_id) == (
        AssignmentStatus.PENDING,
        second.pk,
        manager.pk,
    )
    assert owners([lead]) == ["second"]
    assert ("handoff.route_pool", ()) in sent  # the first rep has room again
    assert ("handoff.notify_assigned", ([new.pk],)) in sent


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ({"role": Role.MARKETER}, "not_a_rep"),
        ({"role": Role.MANAGER}, "not_a_rep"),
        ({"is_active": False}, "rep_inactive"),
        ({"is_away": True}, "rep_away"),
        ({"capacity": 0}, "rep_full"),
    ],
)
def test_reassign_to_someone_who_cannot_take_it_is_400(manager, target, code):
    fields = {"role": Role.REP, "capacity": 5, **target}
    user = UserFactory(username="target", **fields)
    [lead] = waiting(1)
    with pytest.raises(routing.NotAssignable) as caught:
        routing.lead_assign(lead_id=lead.pk, owner_id=user.pk, actor=manager)
    assert caught.value.detail.code == code
    assert caught.value.fields == {"owner": [str(caught.value.detail)]}
    assert owners([lead]) == [None] and not Assignment.objects.exists()


@pytest.mark.parametrize(("load", "ok"), [(2, True), (3, False)])
def test_reassign_capacity_boundary(manager, load, ok):
    rep = make_rep("rep", capacity=3)
    owned(rep, load)
    [lead] = waiting(1)
    if ok:
        routing.lead_assign(lead_id=lead.pk, owner_id=rep.pk, actor=manager)
        assert selectors.rep_load(rep_id=rep.pk) == 3
    else:
        with pytest.raises(routing.NotAssignable):
            routing.lead_assign(lead_id=lead.pk, owner_id=rep.pk, actor=manager)


def test_reassign_needs_an_mql_or_pql_lead(manager):
    rep = make_rep("rep")
    [lead] = waiting(1, stage=Stage.SAL)
    with pytest.raises(routing.NotInHandoff):
        routing.lead_assign(lead_id=lead.pk, owner_id=rep.pk, actor=manager)


def test_reassign_to_the_current_owner_is_a_conflict(manager):
    rep = make_rep("rep")
    [lead] = waiting(1)
    routing.lead_assign(lead_id=lead.pk, owner_id=rep.pk, actor=manager)
    with pytest.raises(routing.AlreadyAssigned):
        routing.lead_assign(lead_id=lead.pk, owner_id=rep.pk, actor=manager)
    assert Assignment.objects.count() == 1


@pytest.mark.parametrize("actor_fixture", ["rep", "marketer"])
def test_only_managers_and_admins_reassign(request, actor_fixture):
    actor = request.getfixturevalue(actor_fixture)
    target = make_rep("target")
    [lead] = waiting(1)
    with pytest.raises(routing.Forbidden):
        routing.lead_assign(lead_id=lead.pk, owner_id=target.pk, actor=actor)
    assert owners([lead]) == [None]


def test_history_is_untouched_by_routing():
    make_rule([make_rep("rep")], is_default=True)
    leads = waiting(2)
    before = StageChange.objects.count()
    route(leads)
    assert StageChange.objects.count() == before
