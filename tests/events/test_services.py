"""events_ingest: storage, dedupe, identity and the scoring kick (on the test database)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import hooks
from core.errors import Forbidden
from events import services
from events.models import Event, Identity, PendingEvent, Source
from leads.models import Lead, Stage, StageChange
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db(transaction=True)


def track(message_id, event="Demo Requested", **fields):
    if "userId" not in fields and "anonymousId" not in fields:
        fields["userId"] = "u1"
    return {"type": "track", "event": event, "messageId": message_id, **fields}


def identify(message_id, traits, **ids):
    return {"type": "identify", "messageId": message_id, "traits": traits, **ids}


def ingest(source, *messages, **kwargs):
    return services.events_ingest(source=source, messages=list(messages), **kwargs)


def test_valid_messages_are_stored_with_their_columns(source):
    received = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)

    result = ingest(
        source,
        {
            "type": "page",
            "anonymousId": "a1",
            "name": "Pricing",
            "messageId": "m1",
            "properties": {"path": "/pricing"},
            "context": {"ip": "10.0.0.1"},
            "timestamp": "2026-05-01T08:59:00Z",
        },
        received_at=received,
    )

    assert (result.accepted, result.rejected, result.errors, result.stored) == (1, 0, [], 1)
    event = Event.objects.get()
    assert (event.source, event.message_id, event.type, event.name) == (
        source,
        "m1",
        "page",
        "Pricing",
    )
    assert (event.user_id, event.anonymous_id, event.lead) == ("", "a1", None)
    assert event.properties == {"path": "/pricing"}
    assert event.context == {"ip": "10.0.0.1"}
    assert event.occurred_at == datetime(2026, 5, 1, 8, 59, tzinfo=UTC)
    assert event.received_at == received
    assert not PendingEvent.objects.filter(event=event).exists()  # unlinked: not queued


def test_one_bad_message_does_not_lose_the_others(source):
    result = ingest(source, track("m1"), "junk", {"type": "track", "userId": "u"}, track("m2"))

    assert (result.accepted, result.rejected) == (2, 2)
    assert [(e["index"], e["code"]) for e in result.errors] == [
        (1, "not_an_object"),
        (2, "missing_event"),
    ]
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["m1", "m2"]


def test_a_message_id_seen_before_is_acknowledged_not_stored_again(source, kicks):
    LeadFactory(external_id="u1")
    ingest(source, track("m1"))

    again = ingest(source, track("m1"), track("m1"))

    assert (again.accepted, again.stored) == (2, 0)
    assert Event.objects.count() == 1
    assert kicks == [[]]  # the first call's linked event; the replay asked for no scoring


@pytest.mark.parametrize(
    ("messages", "in_transaction"),
    [
        ([track("m1")], False),  # one page view or track a request: a browser's
        ([identify("i1", {"email": "a@example.com"}, userId="u1")], True),
        ([track("m1"), track("m2")], True),
    ],
    ids=["single-track", "identify", "batch"],
)
def test_only_a_lone_non_identity_event_commits_without_a_transaction_of_its_own(
    source, monkeypatch, messages, in_transaction
):
    # The lone insert is one statement, atomic by itself: no BEGIN / COMMIT round trips.
    seen = []
    real = services._insert
    monkeypatch.setattr(
        services,
        "_insert",
        lambda *args: seen.append(connection.in_atomic_block) or real(*args),
    )

    ingest(source, *messages)

    assert seen == [in_transaction]
    assert Event.objects.count() == len(messages)


def test_an_event_no_lead_can_take_yet_asks_no_scoring(source, kicks):
    ingest(source, track("m1", anonymousId="stranger", userId=None))

    assert Event.objects.get().lead is None
    assert kicks == []  # scoring counts linked events only


def test_an_event_linked_after_its_commit_asks_for_scoring(source, kicks):
    # The race the after-commit look closes: identify linked the id while this event's
    # statement ran; the look links it, and scoring is asked for, as for any linked event.
    ingest(source, track("m1", anonymousId="a1", userId=None))
    lead = LeadFactory()
    Identity.objects.create(kind="anonymous", value="a1", lead=lead)

    services._link_after_commit(user_ids=set(), anonymous_ids={"a1"})

    assert Event.objects.get().lead == lead
    assert PendingEvent.objects.filter(event__lead=lead).count() == 1
    assert kicks == [[]]


def test_the_same_message_id_from_another_source_is_another_event(source):
    other, _ = services.source_create(name="product")

    ingest(source, track("m1"))
    ingest(other, track("m1"))

    assert Event.objects.filter(message_id="m1").count() == 2


def test_replaying_a_batch_three_times_leaves_one_row_per_message_id(source):
    batch = [track(f"m{i}") for i in range(50)]

    results = [ingest(source, *batch) for _ in range(3)]

    assert [r.stored for r in results] == [50, 0, 0]
    assert Event.objects.count() == 50


def test_validation_and_insert_are_set_based(source, kicks):
    LeadFactory(external_id="u1")
    batch = [track(f"m{i}") for i in range(100)]

    with CaptureQueriesContext(connection) as queries:
        ingest(source, *batch)

    assert Event.objects.filter(lead__external_id="u1").count() == 100
    assert PendingEvent.objects.filter(event__lead__external_id="u1").count() == 100
    # One statement (a data-modifying WITH) stores the events and queues the linked ones for
    # scoring.
    inserts = [q for q in queries if q["sql"].startswith(("INSERT INTO", "WITH new AS"))]
    assert len(inserts) == 1
    assert len(queries) <= 8


def test_ingest_never_locks_lead_rows(source):
    # Scoring holds leads locked for a whole pass; ingestion must not queue behind it.
    LeadFactory(email="k@example.com", external_id="u1", traits={"plan": "pro"})
    batch = [track(f"m{i}") for i in range(50)]
    batch += [identify("i1", {"email": "k@example.com", "plan": "team"}, userId="u1")]

    with CaptureQueriesContext(connection) as queries:
        ingest(source, *batch)

    assert not [q["sql"] for q in queries if "FOR UPDATE" in q["sql"].upper()]
    assert Lead.objects.get().traits == {"plan": "team"}


def test_a_repeated_identify_costs_no_extra_writes(source):
    LeadFactory(email="k@example.com", external_id="u1", traits={"plan": "pro"})
    ingest(source, identify("i0", {"email": "k@example.com", "plan": "pro"}, userId="u1"))

    with CaptureQueriesContext(connection) as queries:
        ingest(source, identify("i1", {"email": "k@example.com", "plan": "pro"}, userId="u1"))

    writes = [q["sql"] for q in queries if q["sql"].startswith(("INSERT", "UPDATE", "WITH"))]
    # The event row itself, and its place in scoring's queue, in one statement.
    expected = ["WITH new AS (INSERT INTO events_event "]
    assert [w[: len(e)] for w, e in zip(writes, expected, strict=False)] == expected
    assert len(writes) == len(expected)


def test_identify_with_email_creates_an_iql_lead_with_history(source, kicks):
    result = ingest(
        source,
        identify(
            "i1",
            {
                "email": "Ann@Example.com",
                "firstName": "Ann",
                "title": "VP Sales",
                "company": {"name": "Acme", "employee_count": 80},
                "plan": "pro",
            },
            userId="u1",
            anonymousId="a1",
            context={"campaign": {"name": "spring", "source": "google"}},
        ),
    )

    assert result.stored == 1
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.title) == ("ann@example.com", "Ann", "VP Sales")
    assert (lead.company_name, lead.company_size, lead.external_id) == ("Acme", 80, "u1")
    assert lead.traits == {"plan": "pro"}
    assert (lead.utm_campaign, lead.utm_source) == ("spring", "google")
    assert lead.stage == Stage.IQL
    history = StageChange.objects.get(lead=lead)
    assert (history.from_stage, history.to_stage, history.reason) == ("", Stage.IQL, "identified")
    assert Event.objects.get().lead == lead
    assert set(Identity.objects.values_list("kind", "value", "lead_id")) == {
        ("user", "u1", lead.pk),
        ("anonymous", "a1", lead.pk),
    }
    assert kicks == [[lead.pk]]


def test_identify_updates_an_existing_lead_found_by_email(source, kicks):
    lead = LeadFactory(email="bo@example.com", title="", traits={"a": 1})

    ingest(source, identify("i1", {"email": "BO@example.com", "title": "CTO", "b": 2}, userId="u9"))

    lead.refresh_from_db()
    assert (lead.title, lead.external_id, lead.traits) == ("CTO", "u9", {"a": 1, "b": 2})
    assert Lead.objects.count() == 1
    assert StageChange.objects.filter(lead=lead).count() == 1  # no second "created" row
    assert kicks == [[lead.pk]]


def test_identify_by_user_id_updates_the_linked_lead_and_its_email(source):
    lead = LeadFactory(email="old@example.com", external_id="u1")

    ingest(source, identify("i1", {"email": "new@example.com", "lastName": "Ng"}, userId="u1"))

    lead.refresh_from_db()
    assert (lead.email, lead.last_name) == ("new@example.com", "Ng")


def test_identify_does_not_take_another_leads_email(source):
    lead = LeadFactory(email="mine@example.com", external_id="u1")
    LeadFactory(email="taken@example.com")

    ingest(source, identify("i1", {"email": "taken@example.com", "title": "CEO"}, userId="u1"))

    lead.refresh_from_db()
    assert (lead.email, lead.title) == ("mine@example.com", "CEO")


def test_identify_without_email_for_an_unknown_user_creates_nothing(source):
    result = ingest(source, identify("i1", {"firstName": "Nobody"}, userId="ghost"))

    assert result.stored == 1
    assert Lead.objects.count() == 0
    assert Event.objects.get().lead is None


def test_unchanged_identify_changes_nothing_and_kicks_no_lead(source, kicks):
    lead = LeadFactory(email="c@example.com", external_id="u1", title="CTO")
    before = Lead.objects.get(pk=lead.pk).updated_at

    ingest(source, identify("i1", {"email": "c@example.com", "title": "CTO"}, userId="u1"))

    assert Lead.objects.get(pk=lead.pk).updated_at == before
    assert kicks == [[]]


def test_events_of_a_known_user_are_linked_on_arrival(source):
    lead = LeadFactory(external_id="u1")

    ingest(source, track("m1"), track("m2", anonymousId="a-unknown", userId="u1"))

    assert set(Event.objects.values_list("lead_id", flat=True)) == {lead.pk}


def test_an_event_joins_its_user_ids_lead_first_then_its_anonymous_ids(source):
    by_identity, by_external, by_anon = (
        LeadFactory(),
        LeadFactory(external_id="u-ext"),
        LeadFactory(),
    )
    Identity.objects.create(kind="user", value="u-link", lead=by_identity)
    Identity.objects.create(kind="anonymous", value="a-link", lead=by_anon)

    ingest(
        source,
        track("m1", userId="u-link", anonymousId="a-link"),
        track("m2", userId="u-ext", anonymousId="a-link"),
        track("m3", userId="u-unknown", anonymousId="a-link"),
        track("m4", anonymousId="a-link"),
        track("m5", userId="u-unknown"),
        track("m1", event="A Duplicate In The Batch", userId="u-link"),
    )

    leads = dict(Event.objects.values_list("message_id", "lead_id"))
    assert leads == {
        "m1": by_identity.pk,
        "m2": by_external.pk,
        "m3": by_anon.pk,
        "m4": by_anon.pk,
        "m5": None,
    }
    assert Event.objects.get(message_id="m1").name == "Demo Requested"  # the first of the two


def test_anonymous_events_join_the_lead_when_identify_links_them(source):
    ingest(source, track("m1", anonymousId="anon-7"), track("m2", userId="later-user"))
    assert not PendingEvent.objects.exists()  # unlinked: nothing for scoring yet

    ingest(
        source,
        identify("i1", {"email": "d@example.com"}, userId="later-user", anonymousId="anon-7"),
    )

    lead = Lead.objects.get(email="d@example.com")
    assert Event.objects.filter(lead=lead).count() == 3
    # Linked events are scored again: their points count from now on.
    assert PendingEvent.objects.filter(event__lead=lead).count() == 3


def test_an_identify_committed_during_our_insert_still_links_our_events(source, monkeypatch):
    # The race: our lookup ran before a concurrent identify committed its link, and that
    # identify's own linking ran before our rows were committed. The look again after our
    # commit must join them.
    from events import identity

    lead = LeadFactory(email="race@example.com")
    real = identity.identities_apply
    looked_again = []
    real_link = identity.link_orphans

    def concurrent_identify_lands(**kwargs):
        # Runs right after our insert, whose lookup found no link: the link lands now.
        Identity.objects.create(kind="anonymous", value="anon-race", lead=lead)
        return real(**kwargs)

    def link_orphans(**ids):
        looked_again.append(ids)
        return real_link(**ids)

    monkeypatch.setattr(identity, "identities_apply", concurrent_identify_lands)
    monkeypatch.setattr(identity, "link_orphans", link_orphans)

    ingest(source, track("m1", anonymousId="anon-race"))

    event = Event.objects.get()
    assert event.lead == lead
    assert PendingEvent.objects.filter(event=event).exists()
    assert looked_again == [{"user_ids": set(), "anonymous_ids": {"anon-race"}}]


def test_later_anonymous_events_are_linked_on_arrival(source):
    ingest(source, identify("i1", {"email": "e@example.com"}, userId="u5", anonymousId="anon-5"))

    ingest(source, track("m1", anonymousId="anon-5"))

    assert Event.objects.get(message_id="m1").lead.email == "e@example.com"


def test_identify_then_track_in_one_batch_links_both(source):
    ingest(
        source, identify("i1", {"email": "f@example.com"}, userId="u6"), track("m1", userId="u6")
    )

    lead = Lead.objects.get(email="f@example.com")
    assert Event.objects.filter(lead=lead).count() == 2


def test_two_identifies_for_one_new_email_in_a_batch_make_one_lead(source):
    ingest(
        source,
        identify("i1", {"email": "g@example.com", "title": "Dev"}, userId="u7"),
        identify("i2", {"email": "G@example.com", "title": "Lead Dev"}, anonymousId="a7"),
    )

    lead = Lead.objects.get()
    assert (lead.title, lead.external_id) == ("Lead Dev", "u7")
    assert Event.objects.filter(lead=lead).count() == 2


def test_alias_links_a_previous_id_to_the_lead(source):
    lead = LeadFactory(external_id="u1")
    ingest(source, track("m1", anonymousId="device-1"))

    ingest(source, {"type": "alias", "previousId": "device-1", "userId": "u1", "messageId": "al"})
    ingest(source, track("m2", anonymousId="device-1"))

    assert Event.objects.filter(lead=lead).count() == 3


def test_an_alias_before_the_identify_is_followed_when_the_identify_comes(source):
    ingest(source, track("m1", anonymousId="device-2"))
    ingest(source, {"type": "alias", "previousId": "device-2", "userId": "u2", "messageId": "al"})

    ingest(source, identify("i1", {"email": "h@example.com"}, userId="u2"))

    lead = Lead.objects.get(email="h@example.com")
    assert set(Event.objects.values_list("message_id", flat=True).filter(lead=lead)) == {
        "m1",
        "al",
        "i1",
    }


def test_a_chain_of_aliases_is_followed_to_its_end_when_the_identify_comes(source):
    """device -> old user id -> new user id, all before the lead is known."""
    ingest(source, track("m1", anonymousId="device-3"))
    ingest(
        source, {"type": "alias", "previousId": "device-3", "userId": "old-3", "messageId": "a1"}
    )
    ingest(source, track("m2", userId="old-3"))
    ingest(source, {"type": "alias", "previousId": "old-3", "userId": "new-3", "messageId": "a2"})

    ingest(source, identify("i1", {"email": "k@example.com"}, userId="new-3"))

    lead = Lead.objects.get(email="k@example.com")
    assert set(Event.objects.filter(lead=lead).values_list("message_id", flat=True)) == {
        "m1",
        "a1",
        "m2",
        "a2",
        "i1",
    }
    assert set(Identity.objects.filter(lead=lead).values_list("kind", "value")) >= {
        ("user", "new-3"),
        ("user", "old-3"),
        ("anonymous", "device-3"),
    }
    assert PendingEvent.objects.filter(event__message_id__in=["m1", "m2"]).count() == 2


def test_nothing_is_written_when_every_message_is_rejected(source, kicks):
    result = ingest(source, "x", {"type": "nope"})

    assert (result.accepted, result.rejected, result.stored) == (0, 2, 0)
    assert Event.objects.count() == 0
    assert kicks == []


def test_a_failing_scoring_kick_never_breaks_ingestion(source, monkeypatch):
    def broken(lead_ids):
        raise ConnectionError("broker down")

    monkeypatch.setattr(hooks.events_recorded, "_receivers", [broken])

    result = ingest(source, track("m1"))

    assert result.stored == 1
    assert Event.objects.count() == 1


def test_python_callers_are_checked_for_size_and_text(source):
    result = ingest(
        source,
        track("big", properties={"blob": "x" * 40_000}),
        track("nul", properties={"v": "a\x00"}),
        track("nan", properties={"v": float("nan")}),
        track("ok", timestamp=datetime(2026, 1, 2, tzinfo=UTC), properties={"d": Decimal("1.5")}),
    )

    assert [(e["index"], e["code"]) for e in result.errors] == [
        (0, "message_too_large"),
        (1, "invalid_text"),
        (2, "invalid_number"),
    ]
    assert Event.objects.get().properties == {"d": "1.5"}
    assert Event.objects.get().occurred_at == datetime(2026, 1, 2, tzinfo=UTC)


def test_source_internal_is_get_or_create_and_has_no_usable_key(db):
    first = services.source_internal("email")
    again = services.source_internal("email")

    assert first == again
    assert (first.internal, first.is_active) == (True, True)
    assert Source.objects.filter(name="email").count() == 1


def test_source_internal_never_takes_a_write_key_sources_name(write_key):
    internal = services.source_internal("website")

    assert (internal.name, internal.internal) == ("website (internal)", True)
    assert services.source_internal("website") == internal
    assert Source.objects.get(name="website").internal is False


# --- who may push events as a signed-in user ---------------------------------------------------


def test_rep_may_not_push_events(rep):
    with pytest.raises(Forbidden) as caught:
        services.events_push_authorize(actor=rep)

    assert (caught.value.status_code, caught.value.detail.code) == (403, "permission_denied")
    assert str(caught.value.detail) == "Only marketers and admins may push events."


@pytest.mark.parametrize("who", ["marketer", "admin_user"])
def test_marketers_and_admins_may_push_events(request, who):
    assert services.events_push_authorize(actor=request.getfixturevalue(who)) is None
