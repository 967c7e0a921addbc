"""A browser (public) write key's rules (events/browser.py): it may add events, link an
anonymousId to a lead it creates, create an IQL lead and fill that lead's blanks; it never
changes an email, overwrites a value, touches owner, stage or score, or acts on a lead through an
id it did not link itself.

The browser source is made the way the code before these rules could make it too (the columns
existed), so each rule's test fails there: run them against the base branch to see.
"""

import json

import pytest

from events import services
from events.models import Event, Identity, Source
from leads import services as lead_services
from leads.models import Lead, Stage
from tests.events.conftest import basic
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ORIGIN = "https://www.example.com"


def make_browser_source(name: str) -> Source:
    """A browser source, its key kept on it as `key` for the tests that post over HTTP."""
    source, key = services.source_create(name=name)
    Source.objects.filter(pk=source.pk).update(
        kind="browser", allowed_origins=[ORIGIN], consent_policy="needed"
    )
    source.refresh_from_db()
    source.key = key
    return source


@pytest.fixture
def site():
    """The marketing site's browser source."""
    return make_browser_source("site")


@pytest.fixture
def site_key(site):
    return site.key


@pytest.fixture
def product(db):
    """The product's backend: a server source."""
    source, key = services.source_create(name="product")
    source.key = key
    return source


@pytest.fixture(params=["service", "http"])
def ingest(request, client):
    """Send messages as one `events_ingest` call, or each to its /v1/<type> endpoint with the
    source's key (and, for a browser source, its page's Origin): every rule, both ways."""

    def send(source, *messages):
        if request.param == "service":
            return services.events_ingest(source=source, messages=list(messages))
        headers = {"Authorization": basic(source.key)}
        if source.kind == "browser":
            headers["Origin"] = ORIGIN
        for message in messages:
            body = dict(message)
            kind = body.pop("type")
            response = client.post(
                f"/v1/{kind}",
                data=json.dumps(body),
                content_type="application/json",
                headers=headers,
            )
            assert response.status_code == 200, response.content
        return None

    return send


@pytest.fixture
def victim(db):
    """A lead the product created through the API, with its userId as external_id."""
    return lead_services.lead_create(
        actor=None,
        email="victim@example.com",
        first_name="Vera",
        last_name="Victim",
        title="CFO",
        external_id="prod-42",
    )


def row(lead: Lead) -> dict:
    """Every column of the lead as stored (updated_at included: nothing wrote to it)."""
    return Lead.objects.values().get(pk=lead.pk)


def identify(message_id, traits, **ids):
    return {"type": "identify", "messageId": message_id, "traits": traits, **ids}


def event(kind, message_id, **fields):
    name = {"track": {"event": "Demo Requested"}, "page": {"name": "Pricing"}}.get(kind, {})
    return {"type": kind, "messageId": message_id, **name, **fields}


def leads_of(*message_ids) -> list:
    found = dict(Event.objects.values_list("message_id", "lead_id"))
    return [found[m] for m in message_ids]


# --- The exploit ---------------------------------------------------------------------------------


def test_browser_key_cannot_take_a_lead_over_by_its_email_and_then_rename_it(ingest, site, victim):
    before = row(victim)

    ingest(site, identify("m1", {"email": "victim@example.com"}, anonymousId="mallory"))
    ingest(
        site,
        identify(
            "m2",
            {"email": "attacker@evil.test", "firstName": "Mallory", "lastName": "Owned"},
            anonymousId="mallory",
        ),
        event("track", "m3", anonymousId="mallory"),
    )

    assert row(victim) == before
    assert not Identity.objects.filter(lead=victim).exists()
    assert Event.objects.filter(lead=victim).count() == 0
    # The attacker's own address made the attacker's own lead, holding their id and events.
    attacker = Lead.objects.get(email="attacker@evil.test")
    assert (attacker.first_name, attacker.last_name, attacker.stage) == ("Mallory", "Owned", "IQL")
    assert leads_of("m1", "m2", "m3") == [attacker.pk, attacker.pk, attacker.pk]


def test_the_exploit_through_v1_identify_with_a_browser_key_leaves_the_victim_untouched(
    client, site_key, victim
):
    before = row(victim)

    def post(traits):
        return client.post(
            "/v1/identify",
            data=json.dumps({"anonymousId": "mallory", "traits": traits}),
            content_type="application/json",
            headers={"Authorization": basic(site_key), "Origin": ORIGIN},
        )

    first = post({"email": "victim@example.com"})
    second = post({"email": "attacker@evil.test", "firstName": "Mallory", "lastName": "Owned"})

    assert (first.status_code, second.status_code) == (200, 200)
    assert row(victim) == before
    assert Lead.objects.filter(email="victim@example.com").count() == 1
    assert not Identity.objects.filter(lead=victim).exists()


# --- What a browser key may do -------------------------------------------------------------------


def test_identify_with_a_new_email_creates_an_iql_lead_and_links_its_anonymous_id(ingest, site):
    ingest(site, event("page", "m1", anonymousId="a1"))

    ingest(
        site,
        identify(
            "m2",
            {"email": "New@Example.com", "firstName": "Nia", "title": "CTO", "plan": "pro"},
            anonymousId="a1",
            userId="guessable-1",
            context={"campaign": {"source": "newsletter"}},
        ),
    )

    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.title, lead.traits) == (
        "new@example.com",
        "Nia",
        "CTO",
        {"plan": "pro"},
    )
    assert (lead.stage, lead.owner, lead.score, lead.utm_source) == ("IQL", None, 0, "newsletter")
    # Only the anonymousId is linked, as this key's link; a userId is never taken from a page.
    assert list(Identity.objects.values_list("kind", "value", "lead", "browser_source")) == [
        ("anonymous", "a1", lead.pk, site.pk)
    ]
    assert lead.external_id is None
    assert leads_of("m1", "m2") == [lead.pk, lead.pk]
    # Later events from the same browser join it on arrival.
    ingest(site, event("track", "m3", anonymousId="a1"))
    assert leads_of("m3") == [lead.pk]


def test_identify_fills_the_blanks_of_its_own_lead_and_overwrites_nothing(ingest, site):
    ingest(site, identify("m1", {"email": "nia@example.com", "firstName": "Nia"}, anonymousId="a1"))

    ingest(
        site,
        identify(
            "m2",
            {
                "firstName": "Changed",
                "lastName": "Nakamura",
                "phone": "+1 555",
                "plan": "pro",
                "company": {"name": "Acme", "employee_count": 40},
            },
            anonymousId="a1",
        ),
        identify("m3", {"lastName": "Later", "plan": "free", "seats": 3}, anonymousId="a1"),
    )

    lead = Lead.objects.get()
    assert (lead.first_name, lead.last_name, lead.phone) == ("Nia", "Nakamura", "+1 555")
    assert (lead.company_name, lead.company_size) == ("Acme", 40)
    assert lead.traits == {"plan": "pro", "seats": 3}


def test_identify_never_changes_the_email_of_its_own_lead(ingest, site):
    ingest(site, identify("m1", {"email": "nia@example.com"}, anonymousId="a1"))
    own = Lead.objects.get()
    before = row(own)

    ingest(site, identify("m2", {"email": "other@example.com", "lastName": "X"}, anonymousId="a1"))

    assert row(own) == before
    # Another address is another person: their own lead, not linked to this browser's id.
    other = Lead.objects.get(email="other@example.com")
    assert other.last_name == "X"
    assert not Identity.objects.filter(lead=other).exists()


def test_identify_with_an_existing_leads_email_links_nothing_and_fills_nothing(
    ingest, site, victim
):
    before = row(victim)  # phone and company are blank: a browser key may not fill them

    ingest(
        site,
        event("page", "m1", anonymousId="mallory"),
        identify(
            "m2",
            {"email": "VICTIM@example.com", "phone": "+1 555", "company": "Evil"},
            anonymousId="mallory",
        ),
        event("track", "m3", anonymousId="mallory"),
    )

    assert row(victim) == before
    assert not Identity.objects.exists()
    assert leads_of("m1", "m2", "m3") == [None, None, None]


def test_identify_with_a_server_leads_user_id_changes_and_links_nothing(
    ingest, site, product, victim
):
    ingest(product, identify("s1", {"plan": "team"}, userId="prod-42", anonymousId="vera-laptop"))
    before = row(victim)

    traits = {"firstName": "Mallory", "phone": "+1 555", "plan": "free"}
    ingest(
        site,
        identify("m1", traits, userId="prod-42", anonymousId="mallory"),
        identify("m2", traits, userId="prod-42"),
    )

    assert row(victim) == before
    assert set(Identity.objects.values_list("value", flat=True)) == {"prod-42", "vera-laptop"}
    assert leads_of("m1", "m2") == [None, None]


def test_browser_events_never_join_a_lead_through_a_user_id(ingest, site, product, victim):
    ingest(product, identify("s1", {"email": "seven@example.com"}, userId="prod-7"))
    linked = Identity.objects.get(value="prod-7").lead

    ingest(
        site,
        event("track", "m1", userId="prod-42"),  # the victim's external_id
        event("track", "m2", userId="prod-7"),  # a linked userId
        event("track", "m3", userId="prod-99"),  # linked by the product only later
    )
    ingest(product, identify("s2", {"email": "late@example.com"}, userId="prod-99"))
    services.orphans_relink(since=victim.created_at)

    assert leads_of("m1", "m2", "m3") == [None, None, None]
    assert not Event.objects.filter(source=site, lead__in=[victim, linked]).exists()


def test_browser_identify_never_sets_owner_stage_or_score_of_its_own_lead(ingest, site):
    ingest(site, identify("m1", {"email": "nia@example.com"}, anonymousId="a1"))
    rep = UserFactory(role="rep")
    Lead.objects.update(stage=Stage.MQL, owner=rep, score=40, temperature="warm", title="")
    before = row(Lead.objects.get())

    ingest(
        site,
        identify(
            "m2",
            {"stage": "CUSTOMER", "owner": 1, "score": 999, "email": "nia@example.com"},
            anonymousId="a1",
        ),
    )

    after = row(Lead.objects.get())
    fields = ("stage", "owner_id", "score", "temperature", "email", "stage_entered_at")
    assert {f: after[f] for f in fields} == {f: before[f] for f in fields}
    # Unknown traits are kept as traits, as for any key: they are not the lead's fields.
    assert after["traits"] == {"stage": "CUSTOMER", "owner": 1, "score": 999}


def test_browser_key_cannot_score_a_victim_into_mql(ingest, site, victim):
    from scoring import services as scoring

    scoring.rule_create(
        actor=None,
        name="Demo request",
        definition={"kind": "event", "event_name": "Demo Requested", "points": 30},
        rescore=False,
    )
    ingest(site, identify("m1", {"email": "victim@example.com"}, anonymousId="mallory"))

    ingest(
        site,
        *[event("track", f"a{n}", anonymousId="mallory") for n in range(2)],
        *[event("track", f"u{n}", userId="prod-42") for n in range(2)],
    )
    scoring.events_score_batch()

    victim.refresh_from_db()
    assert (victim.score, victim.stage) == (0, Stage.IQL)
    assert victim.stage_changes.count() == 1


def test_browser_key_does_not_reach_a_lead_another_browser_key_created(ingest, site):
    other = make_browser_source("shop")
    ingest(other, identify("o1", {"email": "nia@example.com"}, anonymousId="a1"))
    lead = Lead.objects.get()
    before = row(lead)

    ingest(
        site,
        identify("m1", {"firstName": "Mallory", "email": "nia@example.com"}, anonymousId="a1"),
        event("track", "m2", anonymousId="a1"),
    )

    assert row(lead) == before
    assert leads_of("o1", "m1", "m2") == [lead.pk, None, None]


def test_browser_events_join_through_a_link_the_server_made_but_identify_changes_nothing(
    ingest, site, product, victim
):
    ingest(site, event("page", "m1", anonymousId="vera-laptop"))
    # The product's backend vouches that this browser is Vera's.
    ingest(product, identify("s1", {}, userId="prod-42", anonymousId="vera-laptop"))
    before = row(victim)

    ingest(
        site,
        event("page", "m2", anonymousId="vera-laptop"),
        identify("m3", {"phone": "+1 555", "plan": "pro"}, anonymousId="vera-laptop"),
    )

    assert leads_of("m1", "m2", "m3") == [victim.pk, victim.pk, victim.pk]
    assert row(victim) == before


def test_browser_alias_links_nothing_now_or_later(ingest, site, product, victim):
    ingest(site, identify("m1", {"email": "mallory@evil.test"}, anonymousId="mallory"))
    ingest(site, {"type": "alias", "messageId": "m2", "previousId": "mallory", "userId": "prod-9"})
    mallory = Lead.objects.get(email="mallory@evil.test")

    # The product links prod-9 to the victim: the browser's alias must not pull "mallory" in.
    ingest(product, identify("s1", {"email": "victim@example.com"}, userId="prod-9"))
    ingest(site, event("track", "m3", anonymousId="mallory"))

    links = sorted(Identity.objects.values_list("kind", "value", "lead"))
    assert links == [("anonymous", "mallory", mallory.pk), ("user", "prod-9", victim.pk)]
    assert leads_of("m3") == [mallory.pk]


def test_a_returning_visitor_is_recognised_on_the_same_browser_only(ingest, site):
    ingest(
        site,
        identify("m1", {"email": "nia@example.com"}, anonymousId="laptop"),
        identify("m2", {"firstName": "Nia"}, anonymousId="laptop"),
        identify("m3", {"email": "nia@example.com", "lastName": "X"}, anonymousId="phone"),
    )
    ingest(site, identify("m4", {"email": "nia@example.com", "title": "CTO"}, anonymousId="laptop"))

    lead = Lead.objects.get()
    assert (lead.first_name, lead.last_name, lead.title) == ("Nia", "", "CTO")
    assert list(Identity.objects.values_list("value", flat=True)) == ["laptop"]
    assert leads_of("m1", "m2", "m3", "m4") == [lead.pk, lead.pk, None, lead.pk]


def test_identify_whose_email_another_writer_took_first_changes_nothing(ingest, site, monkeypatch):
    """Another transaction creates the lead between this batch's read and its insert."""
    create = lead_services.leads_create_identified
    taken = {}

    def first_someone_else(*, rows, reason, consent_required):
        taken["lead"] = lead_services.lead_create(actor=None, email=rows[0]["email"], title="CEO")
        return create(rows=rows, reason=reason, consent_required=consent_required)

    monkeypatch.setattr(lead_services, "leads_create_identified", first_someone_else)

    ingest(site, identify("m1", {"email": "nia@example.com", "title": "CTO"}, anonymousId="a1"))

    lead = Lead.objects.get()
    assert (lead.pk, lead.title) == (taken["lead"].pk, "CEO")
    assert not Identity.objects.exists()
    assert leads_of("m1") == [None]


# --- Server keys are trusted, as before ----------------------------------------------------------


def test_server_keys_still_link_by_email_and_update_the_lead(ingest, product, victim):
    ingest(product, identify("s1", {"email": "victim@example.com"}, anonymousId="crm-import"))
    ingest(product, identify("s2", {"firstName": "Veronica"}, anonymousId="crm-import"))

    victim.refresh_from_db()
    assert victim.first_name == "Veronica"
    assert Identity.objects.get(value="crm-import").browser_source is None
    assert leads_of("s1", "s2") == [victim.pk, victim.pk]


# --- What it costs -------------------------------------------------------------------------------


def test_an_identify_that_creates_a_lead_runs_a_bounded_number_of_statements(
    site, django_capture_on_commit_callbacks
):
    """A new visitor's identify (about 1 call in 100 from a website) was the costliest call a
    page sends: 27 statements, most of them looking up again the links it had just made."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    services.events_ingest(source=site, messages=[event("page", "m1", anonymousId="a1")])
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.events_ingest(
            source=site,
            messages=[identify("m2", {"email": "cost@example.com"}, anonymousId="a1")],
        )

    lead = Lead.objects.get(email="cost@example.com")
    assert leads_of("m1", "m2") == [lead.pk, lead.pk]
    assert len(queries) <= 17, "\n".join(q["sql"][:120] for q in queries)
