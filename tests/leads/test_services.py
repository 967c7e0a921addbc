"""leads.services against the database: creation, edits, every stage move and its history row."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction

from core.errors import ApiError, Forbidden
from leads import lifecycle, selectors, services
from leads.lifecycle import Actor
from leads.models import Lead, Stage, StageChange
from tests.factories import LeadFactory, UserFactory
from tests.support import race

pytestmark = pytest.mark.django_db

LEGAL = sorted(lifecycle.MOVES.items())
# (from, to, actor kind) for every move in the table, once per actor who may make it; "system"
# is a rule calling lead_transition with actor=None.
LEGAL_BY_ACTOR = [(frm, to, actor) for (frm, to), move in LEGAL for actor in sorted(move.actors)]
FORBIDDEN_BY_ACTOR = [
    (frm, to, actor) for (frm, to), move in LEGAL for actor in sorted(set(Actor) - move.actors)
]
ILLEGAL_PAIRS = sorted(
    (frm, to) for frm in Stage.values for to in Stage.values if (frm, to) not in lifecycle.MOVES
)
NEEDS_REASON = [(frm, to) for (frm, to), move in LEGAL if move.needs_reason]


@pytest.fixture
def actors(admin_user, marketer, manager, rep):
    return {
        Actor.SYSTEM: None,
        Actor.ADMIN: admin_user,
        Actor.MARKETER: marketer,
        Actor.MANAGER: manager,
        Actor.REP: rep,
    }


def _snapshot(lead_id: int) -> tuple:
    lead = Lead.objects.get(pk=lead_id)
    history = list(
        StageChange.objects.filter(lead_id=lead_id).values_list("from_stage", "to_stage", "id")
    )
    return (lead.stage, lead.stage_entered_at, lead.owner_id, lead.recycle_count, history)


# --- lead_create -------------------------------------------------------------------------------


def test_create_starts_at_iql_with_a_history_row(marketer):
    lead = services.lead_create(actor=marketer, email="  Ada@Example.COM ", first_name="Ada")

    lead.refresh_from_db()
    assert lead.email == "ada@example.com"
    assert lead.first_name == "Ada"
    assert lead.stage == Stage.IQL
    rows = list(lead.stage_changes.values("from_stage", "to_stage", "changed_by", "rule", "reason"))
    assert rows == [
        {
            "from_stage": "",
            "to_stage": "IQL",
            "changed_by": marketer.pk,
            "rule": "",
            "reason": "created",
        }
    ]
    assert lead.stage_changes.get().changed_at == lead.stage_entered_at


def test_create_by_a_rule_records_the_rule():
    lead = services.lead_create(actor=None, rule="identify", email="bot@example.com")

    row = lead.stage_changes.get()
    assert (row.changed_by_id, row.rule) == (None, "identify")


def test_create_with_duplicate_email_in_another_case_writes_nothing(marketer):
    LeadFactory(email="ada@example.com")
    leads_before, rows_before = Lead.objects.count(), StageChange.objects.count()

    with pytest.raises(services.DuplicateEmail) as caught:
        services.lead_create(actor=marketer, email="ADA@Example.com", first_name="Other")

    assert caught.value.status_code == 409
    assert caught.value.detail.code == "duplicate_email"
    assert caught.value.fields == {"email": ["A lead with this email already exists."]}
    assert Lead.objects.count() == leads_before
    assert StageChange.objects.count() == rows_before
    assert not Lead.objects.filter(first_name="Other").exists()


@pytest.mark.parametrize("external_id", ["u-42", "email-42"])
def test_create_with_a_taken_external_id_is_a_conflict_and_writes_nothing(marketer, external_id):
    LeadFactory(external_id=external_id)
    leads_before, rows_before = Lead.objects.count(), StageChange.objects.count()

    with pytest.raises(services.DuplicateExternalId) as caught:
        services.lead_create(actor=marketer, email="new@example.com", external_id=external_id)

    assert (caught.value.status_code, caught.value.detail.code) == (409, "duplicate_external_id")
    assert caught.value.fields == {"external_id": ["A lead with this external_id already exists."]}
    assert (Lead.objects.count(), StageChange.objects.count()) == (leads_before, rows_before)


def test_create_do_not_contact_without_reason_writes_nothing(marketer):
    with pytest.raises(ApiError) as caught:
        services.lead_create(actor=marketer, email="dnc@example.com", do_not_contact=True)

    assert caught.value.detail.code == "invalid"
    assert set(caught.value.fields) == {"do_not_contact_reason"}
    assert Lead.objects.count() == 0
    assert StageChange.objects.count() == 0


def test_create_empty_external_id_is_stored_as_null_so_many_leads_may_lack_one(marketer):
    first = services.lead_create(actor=marketer, email="a@example.com", external_id="")
    second = services.lead_create(actor=marketer, email="b@example.com", external_id="")

    assert (first.external_id, second.external_id) == (None, None)
    assert Lead.objects.filter(external_id__isnull=True).count() == 2


def test_rep_may_not_create_leads(rep):
    with pytest.raises(Forbidden) as caught:
        services.lead_create(actor=rep, email="rep-made@example.com")

    assert (caught.value.status_code, caught.value.detail.code) == (403, "permission_denied")
    assert str(caught.value.detail) == "A sales rep may not create leads."
    assert (Lead.objects.count(), StageChange.objects.count()) == (0, 0)


@pytest.mark.parametrize("who", ["marketer", "admin_user", None])
def test_marketers_admins_and_the_system_create_leads(request, who):
    actor = request.getfixturevalue(who) if who else None

    services.lead_create_authorize(actor=actor)
    lead = services.lead_create(actor=actor, email="made@example.com")

    assert lead.stage_changes.get().changed_by == actor


def test_create_with_a_marketer_as_owner_writes_nothing(marketer):
    with pytest.raises(ApiError) as caught:
        services.lead_create(actor=marketer, email="owned@example.com", owner=marketer)

    assert (caught.value.status_code, caught.value.detail.code) == (400, "invalid")
    assert caught.value.fields == {"owner": ["A lead's owner must be a sales rep or an admin."]}
    assert (Lead.objects.count(), StageChange.objects.count()) == (0, 0)


@pytest.mark.parametrize("owner", ["rep", "admin_user"])
def test_create_with_a_rep_or_an_admin_as_owner(request, marketer, owner):
    user = request.getfixturevalue(owner)

    lead = services.lead_create(actor=marketer, email="owned@example.com", owner=user)

    assert Lead.objects.get(pk=lead.pk).owner == user


def test_update_to_a_marketer_as_owner_changes_nothing(marketer):
    lead = LeadFactory(stage=Stage.MQL)
    before = Lead.objects.filter(pk=lead.pk).values().get()

    with pytest.raises(ApiError) as caught:
        services.lead_update(lead=lead, actor=marketer, owner=marketer)

    assert caught.value.fields == {"owner": ["A lead's owner must be a sales rep or an admin."]}
    assert Lead.objects.filter(pk=lead.pk).values().get() == before


# --- lead_transition_targets -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "stage", "targets"),
    [
        ("rep", Stage.MQL, [Stage.SAL, Stage.DISQUALIFIED]),
        ("marketer", Stage.MQL, [Stage.PQL, Stage.DISQUALIFIED]),
        ("admin_user", Stage.MQL, [Stage.PQL, Stage.SAL, Stage.DISQUALIFIED]),
        ("rep", Stage.DISQUALIFIED, []),
        ("marketer", Stage.DISQUALIFIED, [Stage.IQL]),
    ],
)
def test_transition_targets_are_the_moves_the_user_may_make(request, who, stage, targets):
    lead = LeadFactory(stage=stage)

    offered = services.lead_transition_targets(lead=lead, actor=request.getfixturevalue(who))

    assert [to for to, _ in offered] == targets
    assert [move for _, move in offered] == [lifecycle.MOVES[(stage, to)] for to in targets]


# --- lead_update -------------------------------------------------------------------------------


def test_marketer_may_edit_any_field_and_email_is_normalised(marketer, rep):
    lead = LeadFactory(email="old@example.com")

    services.lead_update(lead=lead, actor=marketer, email=" New@Example.com", owner=rep)

    lead.refresh_from_db()
    assert (lead.email, lead.owner) == ("new@example.com", rep)


def test_rep_may_edit_contact_fields_of_their_lead(rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)

    services.lead_update(lead=lead, actor=rep, title="CTO", phone="+44 20 7946 0000")

    lead.refresh_from_db()
    assert (lead.title, lead.phone) == ("CTO", "+44 20 7946 0000")


@pytest.mark.parametrize(
    "field, value",
    [
        ("email", "changed@example.com"),
        ("source", "partner"),
        ("direction", "outbound"),
        ("utm_campaign", "spring"),
        ("external_id", "u-1"),
    ],
)
def test_rep_may_not_edit_fields_outside_rep_editable(rep, field, value):
    lead = LeadFactory(owner=rep, stage=Stage.SAL, email="keep@example.com")
    before = Lead.objects.values().get(pk=lead.pk)

    with pytest.raises(Forbidden) as caught:
        services.lead_update(lead=lead, actor=rep, first_name="Changed", **{field: value})

    assert caught.value.status_code == 403
    assert caught.value.fields == {field: ["Not editable by a sales rep."]}
    assert Lead.objects.values().get(pk=lead.pk) == before


def test_rep_may_not_reassign_a_lead(rep, other_rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)

    with pytest.raises(Forbidden):
        services.lead_update(lead=lead, actor=rep, owner=other_rep)

    lead.refresh_from_db()
    assert lead.owner == rep


def test_rep_may_not_edit_an_unowned_lead_in_the_handoff_queue(rep):
    lead = LeadFactory(stage=Stage.MQL, title="Before")

    with pytest.raises(Forbidden):
        services.lead_update(lead=lead, actor=rep, title="After")

    lead.refresh_from_db()
    assert (lead.title, lead.owner) == ("Before", None)


def test_do_not_contact_needs_a_reason(marketer):
    lead = LeadFactory()

    with pytest.raises(ApiError) as caught:
        services.lead_update(lead=lead, actor=marketer, do_not_contact=True)

    assert caught.value.status_code == 400
    assert caught.value.fields == {
        "do_not_contact_reason": ["Required when do_not_contact is true."]
    }
    lead.refresh_from_db()
    assert (lead.do_not_contact, lead.do_not_contact_reason) == (False, "")


def test_do_not_contact_with_reason_then_cleared_drops_the_reason(rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)

    services.lead_update(lead=lead, actor=rep, do_not_contact=True, do_not_contact_reason="Asked")
    lead.refresh_from_db()
    assert (lead.do_not_contact, lead.do_not_contact_reason) == (True, "Asked")

    services.lead_update(lead=lead, actor=rep, do_not_contact=False)
    lead.refresh_from_db()
    assert (lead.do_not_contact, lead.do_not_contact_reason) == (False, "")


def test_update_to_an_email_taken_in_another_case_changes_nothing(marketer):
    LeadFactory(email="taken@example.com")
    lead = LeadFactory(email="mine@example.com", first_name="Mine")

    with pytest.raises(services.DuplicateEmail):
        services.lead_update(lead=lead, actor=marketer, email="TAKEN@example.com", first_name="X")

    lead.refresh_from_db()
    assert (lead.email, lead.first_name) == ("mine@example.com", "Mine")


def test_update_to_a_taken_external_id_changes_nothing(marketer):
    LeadFactory(external_id="u-1")
    lead = LeadFactory(external_id="u-2")

    with pytest.raises(services.DuplicateExternalId):
        services.lead_update(lead=lead, actor=marketer, external_id="u-1")

    lead.refresh_from_db()
    assert lead.external_id == "u-2"


def test_rep_may_send_back_unchanged_values_of_fields_they_cannot_edit(rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL, email="keep@example.com", source="event")

    services.lead_update(
        lead=lead, actor=rep, email="KEEP@example.com", source="event", owner=rep, title="CTO"
    )

    lead.refresh_from_db()
    assert (lead.email, lead.source, lead.owner, lead.title) == (
        "keep@example.com",
        "event",
        rep,
        "CTO",
    )


def test_update_keeping_own_email_in_another_case_is_fine(marketer):
    lead = LeadFactory(email="mine@example.com")

    services.lead_update(lead=lead, actor=marketer, email="MINE@example.com")

    lead.refresh_from_db()
    assert lead.email == "mine@example.com"


def test_delete_by_rep_is_forbidden_and_deletes_nothing(rep, marketer):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)

    with pytest.raises(Forbidden):
        services.lead_delete(lead=lead, actor=rep)
    assert Lead.objects.filter(pk=lead.pk).exists()

    services.lead_delete(lead=lead, actor=marketer)
    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert not StageChange.objects.filter(lead_id=lead.pk).exists()


# --- lead_transition: every legal move -----------------------------------------------------------


@pytest.mark.parametrize(("frm", "to", "actor_kind"), LEGAL_BY_ACTOR)
def test_every_legal_move_changes_stage_and_writes_one_history_row(actors, frm, to, actor_kind):
    user = actors[actor_kind]
    rule = "test rule" if user is None else ""
    # A rep acts on leads assigned to them; accepting is also how a rep claims an unowned one.
    owner = (
        user if actor_kind is Actor.REP and lifecycle.MOVES[(frm, to)].kind != "accept" else None
    )
    lead = LeadFactory(stage=frm, stage_entered_at=datetime(2024, 1, 1, tzinfo=UTC), owner=owner)

    moved = services.lead_transition(
        lead_id=lead.pk, to=to, actor=user, reason="  because  ", rule=rule
    )

    lead.refresh_from_db()
    assert lead.stage == to == moved.stage
    assert lead.stage_entered_at > datetime(2024, 1, 1, tzinfo=UTC)
    rows = list(lead.stage_changes.order_by("id"))
    assert [(r.from_stage, r.to_stage) for r in rows] == [("", frm), (frm, to)]
    last = rows[-1]
    assert (last.changed_by, last.rule, last.reason) == (user, rule, "because")
    assert last.changed_at == lead.stage_entered_at


@pytest.mark.parametrize("frm", [Stage.PQL, Stage.SAL, Stage.SQL])
def test_recycle_to_mql_counts_and_clears_the_owner(rep, frm):
    lead = LeadFactory(stage=frm, owner=rep, recycle_count=2)

    services.lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=rep, reason="not now")

    lead.refresh_from_db()
    assert (lead.stage, lead.recycle_count, lead.owner) == (Stage.MQL, 3, None)


@pytest.mark.parametrize("frm", [Stage.MQL, Stage.PQL])
def test_accepting_an_unowned_lead_makes_the_rep_its_owner(rep, frm):
    lead = LeadFactory(stage=frm)

    services.lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=rep)

    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.SAL, rep)


def test_accepting_an_assigned_lead_keeps_its_owner(admin_user, rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    services.lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=admin_user)

    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.SAL, rep)


def test_disqualify_keeps_owner_and_recycle_count(rep):
    lead = LeadFactory(stage=Stage.SQL, owner=rep, recycle_count=1)

    services.lead_transition(lead_id=lead.pk, to=Stage.DISQUALIFIED, actor=rep, reason="No fit")

    lead.refresh_from_db()
    assert (lead.stage, lead.owner, lead.recycle_count) == (Stage.DISQUALIFIED, rep, 1)


def test_createsuperuser_style_user_moves_as_admin():
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True)  # role: default
    lead = LeadFactory(stage=Stage.MQL)

    services.lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=superuser)

    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.SAL, superuser)


# --- lead_transition: illegal, forbidden, reasonless ---------------------------------------------


@pytest.mark.parametrize(("frm", "to"), ILLEGAL_PAIRS)
def test_illegal_move_is_a_conflict_and_changes_nothing(admin_user, frm, to):
    lead = LeadFactory(stage=frm)
    before = _snapshot(lead.pk)

    with pytest.raises(services.IllegalTransition) as caught:
        services.lead_transition(lead_id=lead.pk, to=to, actor=admin_user, reason="because")

    assert caught.value.status_code == 409
    assert caught.value.detail.code == "illegal_transition"
    assert _snapshot(lead.pk) == before


@pytest.mark.parametrize(("frm", "to", "actor_kind"), FORBIDDEN_BY_ACTOR)
def test_move_by_the_wrong_actor_is_forbidden_and_changes_nothing(actors, frm, to, actor_kind):
    user = actors[actor_kind]
    lead = LeadFactory(stage=frm, owner=actors[Actor.REP])
    before = _snapshot(lead.pk)

    with pytest.raises(services.TransitionForbidden) as caught:
        services.lead_transition(
            lead_id=lead.pk, to=to, actor=user, reason="because", rule="r" if user is None else ""
        )

    assert caught.value.status_code == 403
    assert caught.value.detail.code == "transition_forbidden"
    assert _snapshot(lead.pk) == before


@pytest.mark.parametrize(
    ("frm", "to"),
    [(frm, to) for (frm, to), move in LEGAL if move.kind != "accept" and Actor.REP in move.actors],
)
def test_rep_cannot_move_a_lead_assigned_to_someone_else_or_to_nobody(rep, other_rep, frm, to):
    for owner in (other_rep, None):
        lead = LeadFactory(stage=frm, owner=owner)
        before = _snapshot(lead.pk)

        with pytest.raises(services.TransitionForbidden) as caught:
            services.lead_transition(lead_id=lead.pk, to=to, actor=rep, reason="because")

        assert caught.value.detail == "A sales rep may act only on leads assigned to them."
        assert _snapshot(lead.pk) == before


@pytest.mark.parametrize(("frm", "to"), [(Stage.MQL, Stage.SAL), (Stage.PQL, Stage.SAL)])
def test_rep_cannot_accept_a_lead_assigned_to_another_rep(rep, other_rep, frm, to):
    lead = LeadFactory(stage=frm, owner=other_rep)
    before = _snapshot(lead.pk)

    with pytest.raises(services.TransitionForbidden):
        services.lead_transition(lead_id=lead.pk, to=to, actor=rep)

    assert _snapshot(lead.pk) == before


@pytest.mark.parametrize(("frm", "to"), NEEDS_REASON)
@pytest.mark.parametrize("reason", ["", "   "])
def test_move_that_needs_a_reason_without_one_changes_nothing(admin_user, frm, to, reason):
    lead = LeadFactory(stage=frm, owner=admin_user)
    before = _snapshot(lead.pk)

    with pytest.raises(services.ReasonRequired) as caught:
        services.lead_transition(lead_id=lead.pk, to=to, actor=admin_user, reason=reason)

    assert caught.value.status_code == 400
    assert caught.value.detail.code == "reason_required"
    assert caught.value.fields == {"reason": ["This field is required."]}
    assert _snapshot(lead.pk) == before


def test_unknown_stage_is_refused_and_changes_nothing(admin_user):
    lead = LeadFactory(stage=Stage.MQL)
    before = _snapshot(lead.pk)

    with pytest.raises(ValueError):
        services.lead_transition(lead_id=lead.pk, to="WON", actor=admin_user)

    assert _snapshot(lead.pk) == before


def test_automatic_move_without_a_rule_is_refused():
    lead = LeadFactory(stage=Stage.IQL)
    before = _snapshot(lead.pk)

    with pytest.raises(ValueError, match="must name its rule"):
        services.lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=None)

    assert _snapshot(lead.pk) == before


# --- lead_promote: automatic moves only go forward ---------------------------------------------


@pytest.mark.parametrize(
    ("frm", "to"),
    [(Stage.IQL, Stage.MQL), (Stage.IQL, Stage.PQL), (Stage.MQL, Stage.PQL)],
)
def test_promote_moves_forward_and_names_the_rule(frm, to):
    lead = LeadFactory(stage=frm)

    assert services.lead_promote(lead_id=lead.pk, to=to, rule="score >= 50", reason="hot") is True

    lead.refresh_from_db()
    assert lead.stage == to
    row = lead.stage_changes.order_by("-id").first()
    assert (row.from_stage, row.to_stage, row.changed_by, row.rule, row.reason) == (
        frm,
        to,
        None,
        "score >= 50",
        "hot",
    )


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (Stage.MQL, Stage.MQL),  # already there
        (Stage.PQL, Stage.MQL),  # already past
        (Stage.SAL, Stage.MQL),
        (Stage.SAL, Stage.PQL),
        (Stage.SQL, Stage.PQL),
        (Stage.CUSTOMER, Stage.MQL),
        (Stage.DISQUALIFIED, Stage.MQL),  # left the funnel
        (Stage.DISQUALIFIED, Stage.PQL),
        (Stage.IQL, Stage.SAL),  # forward, but only a person accepts a lead
        (Stage.MQL, Stage.SAL),
        (Stage.SAL, Stage.SQL),
        (Stage.SQL, Stage.CUSTOMER),
        (Stage.IQL, Stage.DISQUALIFIED),
    ],
)
def test_promote_changes_nothing_when_not_a_forward_automatic_move(frm, to):
    lead = LeadFactory(stage=frm)
    before = _snapshot(lead.pk)

    assert services.lead_promote(lead_id=lead.pk, to=to, rule="score >= 50") is False

    assert _snapshot(lead.pk) == before


def test_bulk_promote_moves_only_the_leads_a_rule_may_move(django_assert_max_num_queries):
    movable = [LeadFactory(stage=Stage.IQL) for _ in range(3)]
    stuck = [LeadFactory(stage=stage) for stage in (Stage.MQL, Stage.SAL, Stage.DISQUALIFIED)]
    before = {lead.pk: _snapshot(lead.pk) for lead in stuck}
    reasons = {lead.pk: f"score {50 + i}" for i, lead in enumerate(movable + stuck)}

    # savepoint, locking read, UPDATE, history INSERT, release: the same for any number of leads
    with django_assert_max_num_queries(5):
        moved = services.leads_promote(reasons=reasons, to=Stage.MQL, rule="MQL threshold 50")

    assert moved == 3
    for index, lead in enumerate(movable):
        lead.refresh_from_db()
        row = lead.stage_changes.order_by("-id").first()
        assert (lead.stage, row.from_stage, row.to_stage, row.rule, row.reason) == (
            Stage.MQL,
            Stage.IQL,
            Stage.MQL,
            "MQL threshold 50",
            f"score {50 + index}",
        )
        assert lead.stage_entered_at == row.changed_at
    assert {lead.pk: _snapshot(lead.pk) for lead in stuck} == before


def test_bulk_promote_never_accepts_a_lead_for_sales():
    lead = LeadFactory(stage=Stage.MQL)
    before = _snapshot(lead.pk)

    assert services.leads_promote(reasons={lead.pk: "hot"}, to=Stage.SAL, rule="x") == 0
    assert _snapshot(lead.pk) == before


# --- time in each stage ------------------------------------------------------------------------


def test_time_in_each_stage_is_derived_from_history(marketer, rep):
    lead = services.lead_create(actor=marketer, email="walk@example.com")
    services.lead_promote(lead_id=lead.pk, to=Stage.MQL, rule="score")
    services.lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=rep)
    services.lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=rep, reason="later")
    t0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    offsets = [0, 3600, 3600 + 86400, 3600 + 86400 + 600]
    for row, offset in zip(lead.stage_changes.order_by("id"), offsets, strict=True):
        StageChange.objects.filter(pk=row.pk).update(changed_at=t0 + timedelta(seconds=offset))
    now = t0 + timedelta(seconds=offsets[-1] + 30)

    visits = selectors.lead_stage_durations(lead=lead, now=now)

    assert [(v["stage"], v["seconds"], v["left_at"] is None) for v in visits] == [
        ("IQL", 3600, False),
        ("MQL", 86400, False),
        ("SAL", 600, False),
        ("MQL", 30, True),
    ]
    assert visits[0]["entered_at"] == t0
    assert visits[0]["left_at"] == visits[1]["entered_at"] == t0 + timedelta(seconds=3600)


def test_timeline_lists_stage_changes_newest_first(marketer, rep):
    lead = services.lead_create(actor=marketer, email="tl@example.com")
    services.lead_promote(lead_id=lead.pk, to=Stage.PQL, rule="used the product")
    services.lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=rep)

    items = selectors.lead_timeline(lead=lead)

    assert [(i["kind"], i["title"]) for i in items] == [
        ("stage_change", "PQL → SAL"),
        ("stage_change", "IQL → PQL"),
        ("stage_change", "new → IQL"),
    ]
    assert items[0]["detail"] == {
        "from": "PQL",
        "to": "SAL",
        "by": "rep",
        "rule": None,
        "reason": "",
    }
    assert items[1]["detail"]["rule"] == "used the product"


# --- concurrency (PostgreSQL: row locks are real there) -----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_reps_accepting_the_same_lead_at_once_exactly_one_wins():
    reps = [UserFactory(username=f"racer{i}", role="rep") for i in range(2)]
    leads = [LeadFactory(stage=Stage.MQL) for _ in range(5)]

    for lead in leads:
        results = race(
            lambda i, lead=lead: services.lead_transition(
                lead_id=lead.pk, to=Stage.SAL, actor=reps[i]
            )
        )

        winners = [r for r in results if isinstance(r, Lead)]
        losers = [r for r in results if isinstance(r, services.IllegalTransition)]
        assert (len(winners), len(losers)) == (1, 1), results
        lead.refresh_from_db()
        assert lead.stage == Stage.SAL
        assert lead.owner_id == winners[0].owner_id
        assert lead.stage_changes.filter(to_stage=Stage.SAL).count() == 1
        assert lead.stage_changes.count() == 2


def _wait_until_a_session_waits_for_a_lock(timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # inside a transaction PostgreSQL would keep answering from its first snapshot
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the second session never blocked on the first one's lock")


def _second_behind_first(first, second) -> tuple:
    """Run `first` in an open transaction, start `second` and let it block on first's lock,
    then commit first. Returns (first's result, second's result or exception)."""
    results: dict = {}
    first_done = threading.Event()

    def run_second() -> None:
        first_done.wait(timeout=10)
        try:
            results["second"] = second()
        except Exception as exc:  # noqa: BLE001 - the outcome under test, kept for asserting
            results["second"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run_second)
    thread.start()
    try:
        with transaction.atomic():
            results["first"] = first()
            first_done.set()
            _wait_until_a_session_waits_for_a_lock()
    finally:
        first_done.set()
        thread.join(timeout=30)
    return results["first"], results["second"]


@pytest.mark.django_db(transaction=True)
def test_a_move_waits_for_a_concurrent_one_and_is_checked_against_its_result():
    reps = [UserFactory(username=f"racer{i}", role="rep") for i in range(2)]
    lead = LeadFactory(stage=Stage.MQL)

    first, second = _second_behind_first(
        lambda: services.lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=reps[0]),
        lambda: services.lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=reps[1]),
    )

    assert first.stage == Stage.SAL
    assert isinstance(second, services.IllegalTransition), second
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.SAL, reps[0])
    assert list(lead.stage_changes.values_list("to_stage", flat=True)) == ["MQL", "SAL"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "second_fields, error",
    [
        ({"email": "RACE@example.com"}, services.DuplicateEmail),
        # an external id that contains "email" must not be mistaken for a duplicate email
        ({"email": "other@example.com", "external_id": "email-7"}, services.DuplicateExternalId),
    ],
)
def test_a_create_losing_the_race_on_a_unique_value_is_a_409_not_a_500(second_fields, error):
    marketer = UserFactory(username="m", role="marketer")

    # the second insert passes the "already taken?" check (the first is not committed yet) and
    # then blocks on the unique index until the first commits: the database decides
    first, second = _second_behind_first(
        lambda: services.lead_create(
            actor=marketer, email="race@example.com", external_id="email-7"
        ),
        lambda: services.lead_create(actor=marketer, **second_fields),
    )

    assert isinstance(first, Lead)
    assert type(second) is error, second
    assert list(Lead.objects.values_list("email", "external_id")) == [
        ("race@example.com", "email-7")
    ]
    assert StageChange.objects.count() == 1
