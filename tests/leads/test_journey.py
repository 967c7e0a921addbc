"""The journey the triggers keep (leads.journey): whatever writes the history, in whatever order,
each lead's Journey row and each history row's `left_at` equal what its history says."""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from leads import journey
from leads.journey import BIT, RECYCLED, row_bits
from leads.models import Journey, Lead, SourceChannel, Stage, StageChange
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(days=60)


def expected(lead: Lead) -> dict:
    """The journey recomputed in Python from the lead's history, the triggers' definition."""
    rows = sorted(StageChange.objects.filter(lead=lead), key=lambda r: (r.changed_at, r.id))
    firsts = {
        column: min((r.changed_at for r in rows if r.to_stage == stage), default=None)
        for stage, column in journey.FIRST_ENTRIES.items()
    }
    reached = 0
    for row in rows:
        reached |= row_bits(row.from_stage, row.to_stage)
    return {
        "reached": reached,
        "last_stage": rows[-1].to_stage if rows else "",
        **firsts,
        "left_at": {
            r.id: (rows[i + 1].changed_at if i + 1 < len(rows) else None)
            for i, r in enumerate(rows)
        },
        "lead_created_at": {r.id: Lead.objects.get(pk=lead.pk).created_at for r in rows},
        # The stay's length once it ended (a generated column over left_at), to the microsecond.
        "stay_seconds": {
            r.id: (
                round((rows[i + 1].changed_at - r.changed_at).total_seconds(), 6)
                if i + 1 < len(rows)
                else None
            )
            for i, r in enumerate(rows)
        },
    }


def actual(lead: Lead) -> dict:
    row = Journey.objects.get(lead=lead)
    return {
        "reached": row.reached,
        "last_stage": row.last_stage,
        **{column: getattr(row, column) for column in journey.FIRST_ENTRIES.values()},
        "left_at": dict(StageChange.objects.filter(lead=lead).values_list("id", "left_at")),
        "lead_created_at": dict(
            StageChange.objects.filter(lead=lead).values_list("id", "lead_created_at")
        ),
        "stay_seconds": {
            id_: None if seconds is None else round(seconds, 6)
            for id_, seconds in StageChange.objects.filter(lead=lead).values_list(
                "id", "stay_seconds"
            )
        },
    }


def bare_lead(**fields) -> Lead:
    """A lead with no history row (the factory writes one)."""
    return Lead.objects.create(
        email=f"{random.random()}@example.com", stage_entered_at=T0, **fields
    )


def test_a_new_lead_gets_its_journey_row_with_its_cohort_keys():
    owner = UserFactory(role="rep")
    lead = bare_lead(source=SourceChannel.REFERRAL, utm_campaign="spring", owner=owner)
    row = Journey.objects.get(lead=lead)
    assert (row.created_at, row.source, row.utm_campaign, row.owner_id) == (
        lead.created_at,
        "referral",
        "spring",
        owner.pk,
    )
    assert (row.reached, row.last_stage, row.iql_at) == (0, "", None)


def test_bulk_created_leads_get_one_row_each():
    leads = Lead.objects.bulk_create(
        [Lead(email=f"bulk{i}@example.com", stage_entered_at=T0) for i in range(3)]
    )
    assert Journey.objects.filter(lead__in=leads).count() == 3


def test_a_lead_whose_keys_change_has_them_copied_and_other_updates_leave_the_row():
    lead = bare_lead(source=SourceChannel.SOCIAL)
    owner = UserFactory(role="rep")
    Lead.objects.filter(pk=lead.pk).update(owner=owner, utm_campaign="autumn")
    row = Journey.objects.get(lead=lead)
    assert (row.owner_id, row.utm_campaign, row.source) == (owner.pk, "autumn", "social")
    Lead.objects.filter(pk=lead.pk).update(owner=None, score=40)
    assert Journey.objects.get(lead=lead).owner_id is None


def test_a_lead_whose_creation_time_changes_has_it_copied_to_its_history():
    lead = LeadFactory(stage_entered_at=T0)
    StageChange.objects.create(lead=lead, from_stage="IQL", to_stage="MQL", changed_at=T0)
    Lead.objects.filter(pk=lead.pk).update(created_at=T0 - timedelta(days=3))
    assert set(StageChange.objects.filter(lead=lead).values_list("lead_created_at", flat=True)) == {
        T0 - timedelta(days=3)
    }
    assert actual(lead) == expected(lead)


def test_deleting_a_lead_deletes_its_journey():
    lead = LeadFactory()
    lead.delete()
    assert not Journey.objects.filter(lead_id=lead.pk).exists()


def test_each_row_adds_its_stage_and_a_recycle_its_own_bit():
    lead = LeadFactory(stage_entered_at=T0)
    moves = [
        (Stage.IQL, Stage.MQL),
        (Stage.MQL, Stage.SAL),
        (Stage.SAL, Stage.MQL),  # sales handed it back: a recycle
    ]
    for day, (from_stage, to_stage) in enumerate(moves, start=1):
        StageChange.objects.create(
            lead=lead, from_stage=from_stage, to_stage=to_stage, changed_at=T0 + timedelta(days=day)
        )
    row = Journey.objects.get(lead=lead)
    assert row.reached == BIT["IQL"] | BIT["MQL"] | BIT["SAL"] | RECYCLED
    assert row.last_stage == "MQL"
    # IQL -> MQL is not a recycle: the bit comes from SAL -> MQL alone.
    assert row_bits("IQL", "MQL") == BIT["MQL"] and row_bits("SAL", "MQL") == BIT["MQL"] | RECYCLED


def test_an_appended_row_closes_the_stay_before_it_at_its_own_instant():
    lead = LeadFactory(stage_entered_at=T0)
    first = StageChange.objects.get(lead=lead)
    assert first.left_at is None  # the lead is still there
    later = T0 + timedelta(days=3, microseconds=1)
    StageChange.objects.create(lead=lead, from_stage="IQL", to_stage="MQL", changed_at=later)
    first.refresh_from_db()
    assert first.left_at == later


def test_rows_at_the_same_instant_follow_each_other_in_id_order():
    lead = bare_lead()
    a = StageChange.objects.create(lead=lead, to_stage="IQL", changed_at=T0)
    b = StageChange.objects.create(lead=lead, from_stage="IQL", to_stage="MQL", changed_at=T0)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.left_at, b.left_at) == (T0, None)
    assert Journey.objects.get(lead=lead).last_stage == "MQL"


def test_a_row_inserted_into_the_past_splits_the_stay_it_lands_in():
    lead = bare_lead()
    StageChange.objects.create(lead=lead, to_stage="IQL", changed_at=T0)
    StageChange.objects.create(
        lead=lead, from_stage="MQL", to_stage="SAL", changed_at=T0 + timedelta(days=10)
    )
    StageChange.objects.create(
        lead=lead, from_stage="IQL", to_stage="MQL", changed_at=T0 + timedelta(days=4)
    )
    assert actual(lead) == expected(lead)
    assert Journey.objects.get(lead=lead).last_stage == "SAL"


def test_first_entries_are_the_earliest_whatever_the_insert_order():
    lead = bare_lead()
    StageChange.objects.create(lead=lead, to_stage="SQL", changed_at=T0 + timedelta(days=9))
    StageChange.objects.create(lead=lead, to_stage="SQL", changed_at=T0 + timedelta(days=5))
    StageChange.objects.create(lead=lead, to_stage="IQL", changed_at=T0)
    row = Journey.objects.get(lead=lead)
    assert (row.iql_at, row.sql_at, row.customer_at) == (T0, T0 + timedelta(days=5), None)


def test_deleting_and_moving_rows_recompute_the_leads_on_both_sides():
    one, two = bare_lead(), bare_lead()
    StageChange.objects.create(lead=one, to_stage="IQL", changed_at=T0)
    moved = StageChange.objects.create(
        lead=one, from_stage="IQL", to_stage="SQL", changed_at=T0 + timedelta(days=1)
    )
    StageChange.objects.create(lead=two, to_stage="IQL", changed_at=T0)
    StageChange.objects.filter(pk=moved.pk).update(lead=two)
    assert actual(one) == expected(one) and actual(two) == expected(two)
    assert Journey.objects.get(lead=one).reached == BIT["IQL"]
    assert Journey.objects.get(lead=two).sql_at == T0 + timedelta(days=1)
    StageChange.objects.filter(lead=two).delete()
    assert actual(two) == expected(two)
    assert Journey.objects.get(lead=two).reached == 0


def test_random_histories_written_in_bulk_in_any_order_match_their_definition():
    rng = random.Random(11)
    leads = [bare_lead() for _ in range(12)]
    stages = [*Stage.values]
    rows = []
    for lead in leads:
        for _ in range(rng.randint(0, 6)):
            rows.append(
                StageChange(
                    lead=lead,
                    from_stage=rng.choice(["", *stages]),
                    to_stage=rng.choice(stages),
                    # Whole days, so that instants collide and the id order matters too.
                    changed_at=T0 + timedelta(days=rng.randint(0, 5)),
                )
            )
    rng.shuffle(rows)
    StageChange.objects.bulk_create(rows[: len(rows) // 2])
    StageChange.objects.bulk_create(rows[len(rows) // 2 :])
    for lead in leads:
        assert actual(lead) == expected(lead), lead.pk
    # Some rows deleted and some moved in time, in one statement each.
    ids = [row.pk for row in rows]
    StageChange.objects.filter(pk__in=ids[::3]).delete()
    StageChange.objects.filter(pk__in=ids[1::4]).update(changed_at=T0 + timedelta(days=2))
    for lead in leads:
        assert actual(lead) == expected(lead), lead.pk


def test_updating_only_left_at_recomputes_nothing():
    """The recompute's own update of `left_at` must not recurse, and a stray update of it is
    not taken as a change of the history: a recompute would put the true NULL back."""
    lead = LeadFactory(stage_entered_at=T0)
    StageChange.objects.filter(lead=lead).update(left_at=T0 + timedelta(days=1))
    assert StageChange.objects.get(lead=lead).left_at == T0 + timedelta(days=1)


def test_backfill_fills_what_was_written_without_the_triggers():
    lead = bare_lead()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks: ALTER may run
        cursor.execute("ALTER TABLE leads_stagechange DISABLE TRIGGER USER")
        try:
            StageChange.objects.create(lead=lead, to_stage="IQL", changed_at=T0)
            StageChange.objects.create(
                lead=lead, from_stage="IQL", to_stage="MQL", changed_at=T0 + timedelta(days=1)
            )
        finally:
            cursor.execute("ALTER TABLE leads_stagechange ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE leads_lead DISABLE TRIGGER USER")
        try:
            orphan = bare_lead()
        finally:
            cursor.execute("ALTER TABLE leads_lead ENABLE TRIGGER USER")
    assert Journey.objects.get(lead=lead).reached == 0  # written behind the triggers' back
    assert not Journey.objects.filter(lead=orphan).exists()
    journey.install(backfill=True)
    assert actual(lead) == expected(lead)
    assert Journey.objects.get(lead=lead).reached == BIT["IQL"] | BIT["MQL"]
    assert Journey.objects.filter(lead=orphan).exists()


def test_uninstall_then_install_again():
    journey.uninstall()
    lead = bare_lead()
    assert not Journey.objects.filter(lead=lead).exists()  # no trigger: no row
    journey.install(backfill=True)
    StageChange.objects.create(lead=lead, to_stage="IQL", changed_at=T0)
    assert Journey.objects.get(lead=lead).iql_at == T0


@pytest.mark.parametrize("count", [journey.BULK_REFRESH, journey.BULK_REFRESH + 1])
def test_a_bulk_write_either_side_of_the_bulk_threshold_matches_its_definition(count):
    """A refresh of more than BULK_REFRESH leads runs as dynamic SQL, planned for its batch;
    up to that, the function's cached statements. Both keep the same journey."""
    rng = random.Random(count)
    leads = [bare_lead() for _ in range(count)]
    rows = [
        StageChange(
            lead=lead,
            from_stage="",
            to_stage=rng.choice([*Stage.values]),
            changed_at=T0 + timedelta(days=rng.randint(0, 5)),
        )
        for lead in leads
        for _ in range(rng.randint(1, 3))
    ]
    StageChange.objects.bulk_create(rows)
    for lead in leads:
        assert actual(lead) == expected(lead), lead.pk


def _history_updates() -> int:
    """Rows of the history table this transaction has updated so far (the triggers' too)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_xact_user_tables WHERE relname = %s",
            [StageChange._meta.db_table],
        )
        return cursor.fetchone()[0]


def test_a_lead_from_an_identify_or_a_form_has_its_first_row_written_once():
    """The first history row goes in with its lead's created_at, as the trigger would set it:
    the trigger finds nothing to change (before, it updated the row it had just inserted)."""
    from leads import services

    before = _history_updates()
    created = services.leads_create_identified(rows=[{"email": "once@example.com"}])

    lead = Lead.objects.get(pk=created["once@example.com"])
    assert _history_updates() == before
    assert actual(lead) == expected(lead)
