"""The leads REST API: CRUD, filters, ordering, pagination, transitions, roles, auth, errors."""

import io
import re
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import Role, User
from leads.models import Lead, SourceChannel, Stage, StageChange
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/leads/"


def detail(lead_id: int, suffix: str = "") -> str:
    return f"/api/v1/leads/{lead_id}/{suffix}"


def assert_error(response, status: int, code: str, fields: set[str] | None = None) -> dict:
    """Every 4xx is JSON with a machine `code` and a human `message` (and `fields` if given)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    if fields is not None:
        assert set(body["fields"]) == fields
    return body


def snapshot(lead_id: int) -> dict:
    """Everything about a lead and its history, to assert a refused request changed nothing."""
    lead = Lead.objects.filter(pk=lead_id).values().first()
    history = list(StageChange.objects.filter(lead_id=lead_id).values_list("id", flat=True))
    return {"lead": lead, "history": history}


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# Every endpoint a lead id is in, with a valid-looking body, for the role and anonymous tests.
LEAD_ENDPOINTS = [
    ("get", "", None),
    ("put", "", {"email": "put@example.com"}),
    ("patch", "", {"title": "Patched"}),
    ("delete", "", None),
    ("post", "transition/", {"to": "DISQUALIFIED", "reason": "Not a fit"}),
    ("get", "timeline/", None),
    ("get", "stage-durations/", None),
]


def call(client, method: str, url: str, body):
    return (
        getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
    )


# --- the lead's JSON --------------------------------------------------------------------------


def test_read_returns_the_lead_json(marketer_client, rep):
    lead = LeadFactory(
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        stage=Stage.MQL,
        score=42,
        temperature="warm",
        owner=rep,
        source=SourceChannel.PARTNER,
        do_not_contact=True,
        do_not_contact_reason="Asked us to stop",
    )

    response = marketer_client.get(detail(lead.pk))

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("id", "email", "first_name", "last_name", "stage")} == {
        "id": lead.pk,
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "stage": "MQL",
    }
    assert {k: body[k] for k in ("score", "temperature", "owner", "do_not_contact")} == {
        "score": 42,
        "temperature": "warm",
        "owner": rep.pk,
        "do_not_contact": True,
    }
    assert (body["source"], body["do_not_contact_reason"]) == ("partner", "Asked us to stop")


# --- list, filters, ordering, pagination -------------------------------------------------------


def test_list_is_paginated_newest_first(marketer_client):
    leads = LeadFactory.create_batch(51)

    first = marketer_client.get(LIST)
    second = marketer_client.get(LIST, {"page": 2})

    assert first.json()["count"] == 51
    assert ids(first) == [lead.pk for lead in reversed(leads[1:])]
    assert first.json()["next"].endswith("/api/v1/leads/?page=2")
    assert ids(second) == [leads[0].pk]
    assert second.json()["next"] is None


def test_page_past_the_end_is_404_json(marketer_client):
    LeadFactory()

    assert_error(marketer_client.get(LIST, {"page": 9}), 404, "not_found")


def test_list_query_count_does_not_grow_with_leads(marketer_client, django_assert_max_num_queries):
    reps = [UserFactory(role=Role.REP) for _ in range(3)]
    for i in range(30):
        LeadFactory(owner=reps[i % 3])

    with django_assert_max_num_queries(2):  # COUNT and one SELECT joined to the owners
        response = marketer_client.get(LIST)

    assert len(response.json()["results"]) == 30
    assert {row["owner_name"] for row in response.json()["results"]} == {r.username for r in reps}


def test_rep_list_with_token_auth_query_count_does_not_grow(
    rep, pool_mode, django_assert_max_num_queries
):
    for _ in range(20):
        LeadFactory(owner=rep, stage=Stage.SAL)
        LeadFactory(stage=Stage.MQL)
    out = io.StringIO()
    call_command("drf_create_token", "rep", stdout=out)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().split()[2]}")

    with django_assert_max_num_queries(3):  # the token and its user, COUNT, one SELECT
        response = client.get(LIST)

    assert response.json()["count"] == 40


def test_filter_by_one_stage(marketer_client):
    mql = LeadFactory(stage=Stage.MQL)
    LeadFactory(stage=Stage.PQL)
    LeadFactory(stage=Stage.IQL)

    assert ids(marketer_client.get(LIST, {"stage": "MQL"})) == [mql.pk]


def test_filter_by_several_stages(marketer_client):
    mql = LeadFactory(stage=Stage.MQL)
    pql = LeadFactory(stage=Stage.PQL)
    LeadFactory(stage=Stage.IQL)

    assert ids(marketer_client.get(f"{LIST}?stage=MQL&stage=PQL")) == [pql.pk, mql.pk]


def test_filter_by_unknown_stage_is_400(marketer_client):
    LeadFactory()

    body = assert_error(marketer_client.get(LIST, {"stage": "WON"}), 400, "invalid", {"stage"})
    assert body["fields"]["stage"] == [
        "Select a valid choice. WON is not one of the available choices."
    ]


def test_filter_by_owner(marketer_client, rep, other_rep):
    mine = LeadFactory(owner=rep)
    LeadFactory(owner=other_rep)
    LeadFactory()

    assert ids(marketer_client.get(LIST, {"owner": rep.pk})) == [mine.pk]


def test_filter_unowned(marketer_client, rep):
    unowned = LeadFactory(stage=Stage.MQL)
    owned = LeadFactory(owner=rep, stage=Stage.SAL)

    assert ids(marketer_client.get(LIST, {"unowned": "true"})) == [unowned.pk]
    assert ids(marketer_client.get(LIST, {"unowned": "false"})) == [owned.pk]


def test_filter_by_source(marketer_client):
    partner = LeadFactory(source=SourceChannel.PARTNER)
    LeadFactory(source=SourceChannel.EVENT)

    assert ids(marketer_client.get(LIST, {"source": "partner"})) == [partner.pk]


def test_filter_by_score_range_is_inclusive(marketer_client):
    leads = {score: LeadFactory(score=score) for score in (5, 10, 15, 20, 25)}

    response = marketer_client.get(LIST, {"score_min": 10, "score_max": 20, "ordering": "score"})

    assert ids(response) == [leads[10].pk, leads[15].pk, leads[20].pk]
    assert ids(marketer_client.get(LIST, {"score_min": 21})) == [leads[25].pk]
    assert ids(marketer_client.get(LIST, {"score_max": 5})) == [leads[5].pk]


def test_filter_by_bad_score_is_400(marketer_client):
    assert_error(marketer_client.get(LIST, {"score_min": "lots"}), 400, "invalid", {"score_min"})


def test_filter_by_created_range(marketer_client):
    days = {day: LeadFactory() for day in (1, 2, 3)}
    for day, lead in days.items():
        Lead.objects.filter(pk=lead.pk).update(created_at=datetime(2025, 1, day, 12, tzinfo=UTC))

    between = marketer_client.get(
        LIST, {"created_after": "2025-01-02T00:00:00Z", "created_before": "2025-01-03T00:00:00Z"}
    )

    assert ids(between) == [days[2].pk]
    assert ids(marketer_client.get(LIST, {"created_after": "2025-01-02T12:00:00Z"})) == [
        days[3].pk,
        days[2].pk,
    ]
    assert ids(marketer_client.get(LIST, {"created_before": "2025-01-02T00:00:00Z"})) == [
        days[1].pk
    ]


def test_filter_by_bad_date_is_400(marketer_client):
    response = marketer_client.get(LIST, {"created_after": "yesterday"})

    assert_error(response, 400, "invalid", {"created_after"})


def test_filter_by_exact_email_ignores_case(marketer_client):
    ada = LeadFactory(email="ada@example.com")
    LeadFactory(email="ada@example.org")
    LeadFactory(email="adam@example.com")

    assert ids(marketer_client.get(LIST, {"email": "ADA@Example.COM"})) == [ada.pk]
    assert ids(marketer_client.get(LIST, {"email": "ada@example"})) == []


@pytest.mark.parametrize(
    "term, expected",
    [("grace", ["grace"]), ("HOPPER", ["grace"]), ("navy.mil", ["grace"]), ("acme", ["alan"])],
)
def test_search_over_name_email_and_company(marketer_client, term, expected):
    leads = {
        "grace": LeadFactory(
            first_name="Grace", last_name="Hopper", email="g@navy.mil", company_name="Navy"
        ),
        "alan": LeadFactory(
            first_name="Alan", last_name="Turing", email="a@bletchley.uk", company_name="Acme"
        ),
    }

    assert ids(marketer_client.get(LIST, {"search": term})) == [leads[n].pk for n in expected]


@pytest.mark.parametrize(
    "ordering, expected",
    [("score", ["b", "c", "a"]), ("-score", ["a", "c", "b"]), ("email", ["a", "b", "c"])],
)
def test_ordering(marketer_client, ordering, expected):
    leads = {
        "a": LeadFactory(email="a@example.com", score=30),
        "b": LeadFactory(email="b@example.com", score=10),
        "c": LeadFactory(email="c@example.com", score=20),
    }

    assert ids(marketer_client.get(LIST, {"ordering": ordering})) == [leads[k].pk for k in expected]


# --- create ------------------------------------------------------------------------------------


def test_create_returns_201_at_iql_with_history(marketer_client, marketer, rep):
    response = marketer_client.post(
        LIST,
        {
            "email": " Ada@Example.COM",
            "first_name": "Ada",
            "company_name": "Engines Ltd",
            "source": "referral",
            "owner": rep.pk,
            "traits": {"plan": "trial"},
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["email"], body["stage"], body["owner"], body["score"]) == (
        "ada@example.com",
        "IQL",
        rep.pk,
        0,
    )
    lead = Lead.objects.get(pk=body["id"])
    assert (lead.source, lead.traits, lead.company_name) == (
        "referral",
        {"plan": "trial"},
        "Engines Ltd",
    )
    assert list(lead.stage_changes.values_list("from_stage", "to_stage", "changed_by")) == [
        ("", "IQL", marketer.pk)
    ]


def test_create_refuses_stage_and_score_in_the_body(marketer_client):
    response = marketer_client.post(
        LIST, {"email": "x@example.com", "stage": "SQL", "score": 99}, format="json"
    )

    body = assert_error(response, 400, "invalid", {"stage", "score"})
    assert "transition" in body["fields"]["stage"][0]
    assert not Lead.objects.filter(email="x@example.com").exists()


def test_put_may_echo_the_current_stage_but_not_change_it(marketer_client):
    lead = LeadFactory(stage=Stage.MQL)
    url = f"{LIST}{lead.pk}/"
    echoed = marketer_client.patch(url, {"stage": "MQL", "title": "CTO"}, format="json")
    changed = marketer_client.patch(url, {"stage": "SQL", "title": "CEO"}, format="json")

    assert echoed.status_code == 200
    assert_error(changed, 400, "invalid", {"stage"})
    lead.refresh_from_db()
    assert (lead.stage, lead.title) == (Stage.MQL, "CTO")


def test_temperature_filter_refuses_an_unknown_value(marketer_client):
    assert_error(
        marketer_client.get(LIST, {"temperature": "tepid"}), 400, "invalid", {"temperature"}
    )


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"email": "not-an-email"}, {"email"}),
        ({"first_name": "No email"}, {"email"}),
        ({"email": "a@example.com", "source": "carrier pigeon"}, {"source"}),
        ({"email": "a@example.com", "temperature": "x", "company_size": -1}, {"company_size"}),
        ({"email": "a@example.com", "do_not_contact": True}, {"do_not_contact_reason"}),
        ({"email": "a@example.com", "owner": 999999}, {"owner"}),
    ],
)
def test_create_with_bad_input_is_400_and_creates_nothing(marketer_client, body, fields):
    response = marketer_client.post(LIST, body, format="json")

    assert_error(response, 400, "invalid", fields)
    assert Lead.objects.count() == 0
    assert StageChange.objects.count() == 0


def test_create_with_a_marketer_as_owner_is_400(marketer_client, marketer):
    response = marketer_client.post(
        LIST, {"email": "a@example.com", "owner": marketer.pk}, format="json"
    )

    body = assert_error(response, 400, "invalid", {"owner"})
    assert body["fields"]["owner"] == ["A lead's owner must be a sales rep or an admin."]
    assert Lead.objects.count() == 0


def test_create_with_malformed_json_is_400(marketer_client):
    response = marketer_client.post(LIST, "{not json", content_type="application/json")

    assert_error(response, 400, "parse_error")
    assert Lead.objects.count() == 0


def test_create_duplicate_email_in_another_case_is_409_and_writes_nothing(marketer_client):
    existing = LeadFactory(email="ada@example.com", first_name="Original")
    before = snapshot(existing.pk)

    response = marketer_client.post(
        LIST, {"email": "ADA@example.com", "first_name": "Copy"}, format="json"
    )

    body = assert_error(response, 409, "duplicate_email", {"email"})
    assert body["message"] == "A lead with this email already exists."
    assert Lead.objects.count() == 1
    assert snapshot(existing.pk) == before


def test_create_with_a_taken_external_id_is_409(marketer_client):
    LeadFactory(external_id="user-1")

    response = marketer_client.post(
        LIST, {"email": "new@example.com", "external_id": "user-1"}, format="json"
    )

    assert_error(response, 409, "duplicate_external_id", {"external_id"})
    assert Lead.objects.count() == 1


# --- update, delete ----------------------------------------------------------------------------


def test_patch_updates_only_the_given_fields(marketer_client):
    lead = LeadFactory(first_name="Ada", title="Engineer")

    response = marketer_client.patch(detail(lead.pk), {"title": "CTO"}, format="json")

    assert response.status_code == 200
    assert (response.json()["title"], response.json()["first_name"]) == ("CTO", "Ada")
    lead.refresh_from_db()
    assert (lead.title, lead.first_name) == ("CTO", "Ada")


def test_put_replaces_the_lead(marketer_client):
    lead = LeadFactory(email="old@example.com", title="Engineer")

    response = marketer_client.put(
        detail(lead.pk), {"email": "NEW@example.com", "first_name": "New"}, format="json"
    )

    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.email, lead.first_name, lead.stage) == ("new@example.com", "New", Stage.IQL)


def test_patch_to_duplicate_email_is_409_and_changes_nothing(marketer_client):
    LeadFactory(email="taken@example.com")
    lead = LeadFactory(email="mine@example.com")
    before = snapshot(lead.pk)

    response = marketer_client.patch(detail(lead.pk), {"email": "Taken@Example.com"}, format="json")

    assert_error(response, 409, "duplicate_email", {"email"})
    assert snapshot(lead.pk) == before


def test_patch_with_invalid_email_is_400_and_changes_nothing(marketer_client):
    lead = LeadFactory()
    before = snapshot(lead.pk)

    response = marketer_client.patch(detail(lead.pk), {"email": "nope"}, format="json")

    assert_error(response, 400, "invalid", {"email"})
    assert snapshot(lead.pk) == before


def test_patch_cannot_change_stage_or_score(marketer_client):
    lead = LeadFactory(stage=Stage.MQL, score=7)
    before = snapshot(lead.pk)

    response = marketer_client.patch(detail(lead.pk), {"stage": "SQL", "score": 90}, format="json")

    assert_error(response, 400, "invalid", {"stage", "score"})
    assert snapshot(lead.pk) == before


def test_delete_removes_the_lead_and_its_history(marketer_client):
    lead = LeadFactory()

    response = marketer_client.delete(detail(lead.pk))

    assert response.status_code == 204
    assert snapshot(lead.pk) == {"lead": None, "history": []}


def test_unknown_lead_is_404_json(marketer_client):
    assert_error(marketer_client.get(detail(999999)), 404, "not_found")


# --- transition, timeline, stage durations ----------------------------------------------------


def test_transition_moves_the_lead(marketer_client, marketer):
    lead = LeadFactory(stage=Stage.IQL)

    response = marketer_client.post(
        detail(lead.pk, "transition/"),
        {"to": "MQL", "reason": "Downloaded the guide"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["stage"] == "MQL"
    row = lead.stage_changes.order_by("-id").first()
    assert (row.from_stage, row.to_stage, row.changed_by, row.reason) == (
        "IQL",
        "MQL",
        marketer,
        "Downloaded the guide",
    )


def test_qualifying_through_the_generic_transition_is_refused_and_changes_nothing(rep_client, rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)
    before = snapshot(lead.pk)

    response = rep_client.post(detail(lead.pk, "transition/"), {"to": "SQL"}, format="json")

    body = assert_error(response, 409, "use_qualify")
    assert "POST /api/v1/leads/{id}/qualify/" in body["message"]
    assert snapshot(lead.pk) == before


def test_illegal_transition_is_409_and_changes_nothing(marketer_client):
    lead = LeadFactory(stage=Stage.IQL)
    before = snapshot(lead.pk)

    response = marketer_client.post(detail(lead.pk, "transition/"), {"to": "SQL"}, format="json")

    body = assert_error(response, 409, "illegal_transition")
    assert body["message"] == "A lead cannot move from IQL to SQL."
    assert snapshot(lead.pk) == before


def test_transition_to_unknown_stage_is_400_and_changes_nothing(marketer_client):
    lead = LeadFactory(stage=Stage.IQL)
    before = snapshot(lead.pk)

    response = marketer_client.post(detail(lead.pk, "transition/"), {"to": "WON"}, format="json")

    body = assert_error(response, 400, "invalid", {"to"})
    assert body["fields"]["to"] == ['"WON" is not a valid choice.']
    assert snapshot(lead.pk) == before


def test_transition_without_target_is_400(marketer_client):
    lead = LeadFactory(stage=Stage.IQL)
    before = snapshot(lead.pk)

    response = marketer_client.post(detail(lead.pk, "transition/"), {}, format="json")

    assert_error(response, 400, "invalid", {"to"})
    assert snapshot(lead.pk) == before


def test_transition_needing_a_reason_without_one_is_400_and_changes_nothing(marketer_client):
    lead = LeadFactory(stage=Stage.MQL)
    before = snapshot(lead.pk)

    response = marketer_client.post(
        detail(lead.pk, "transition/"), {"to": "DISQUALIFIED", "reason": " "}, format="json"
    )

    assert_error(response, 400, "reason_required", {"reason"})
    assert snapshot(lead.pk) == before


def test_transition_by_the_wrong_role_is_403_and_changes_nothing(rep_client, rep):
    lead = LeadFactory(stage=Stage.IQL, owner=rep)
    before = snapshot(lead.pk)

    response = rep_client.post(detail(lead.pk, "transition/"), {"to": "MQL"}, format="json")

    assert_error(response, 403, "transition_forbidden")
    assert snapshot(lead.pk) == before


def test_get_on_transition_is_405_json(marketer_client):
    lead = LeadFactory()

    assert_error(marketer_client.get(detail(lead.pk, "transition/")), 405, "method_not_allowed")


def test_timeline_lists_stage_changes_newest_first(marketer_client, rep_client, rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)  # assigned to the rep
    rep_client.post(detail(lead.pk, "transition/"), {"to": "SAL"}, format="json")

    response = marketer_client.get(detail(lead.pk, "timeline/"))

    assert response.status_code == 200
    items = response.json()
    assert [(i["kind"], i["title"]) for i in items] == [
        ("stage_change", "MQL → SAL"),
        ("stage_change", "new → MQL"),
    ]
    assert items[0]["detail"] == {
        "from": "MQL",
        "to": "SAL",
        "by": "rep",
        "rule": None,
        "reason": "",
    }
    assert datetime.fromisoformat(items[0]["at"]) >= datetime.fromisoformat(items[1]["at"])


def test_stage_durations_lists_each_visit(marketer_client):
    lead = LeadFactory(stage=Stage.IQL)
    marketer_client.post(detail(lead.pk, "transition/"), {"to": "MQL"}, format="json")
    rows = list(lead.stage_changes.order_by("id"))
    StageChange.objects.filter(pk=rows[0].pk).update(changed_at=datetime(2025, 1, 1, tzinfo=UTC))
    StageChange.objects.filter(pk=rows[1].pk).update(changed_at=datetime(2025, 1, 3, tzinfo=UTC))

    response = marketer_client.get(detail(lead.pk, "stage-durations/"))

    assert response.status_code == 200
    visits = response.json()
    assert visits[0] == {
        "stage": "IQL",
        "entered_at": "2025-01-01T00:00:00Z",
        "left_at": "2025-01-03T00:00:00Z",
        "seconds": 2 * 86400,
    }
    assert (visits[1]["stage"], visits[1]["left_at"]) == ("MQL", None)
    assert visits[1]["seconds"] > 0


# --- roles: anonymous -------------------------------------------------------------------------


def test_anonymous_cannot_list(anonymous):
    LeadFactory()

    assert_error(anonymous.get(LIST), 401, "not_authenticated")


def test_anonymous_cannot_create(anonymous):
    assert_error(
        anonymous.post(LIST, {"email": "a@example.com"}, format="json"), 401, "not_authenticated"
    )
    assert Lead.objects.count() == 0


@pytest.mark.parametrize(("method", "suffix", "body"), LEAD_ENDPOINTS)
def test_anonymous_gets_401_on_every_lead_endpoint(anonymous, method, suffix, body):
    lead = LeadFactory(stage=Stage.SAL)
    before = snapshot(lead.pk)

    assert_error(call(anonymous, method, detail(lead.pk, suffix), body), 401, "not_authenticated")
    assert snapshot(lead.pk) == before


# --- roles: rep and other rep ----------------------------------------------------------------


def test_rep_lists_own_leads_and_the_unowned_handoff_queue(rep_client, rep, other_rep, pool_mode):
    visible = [
        LeadFactory(owner=rep, stage=Stage.SAL),
        LeadFactory(owner=rep, stage=Stage.DISQUALIFIED),
        LeadFactory(stage=Stage.MQL),
        LeadFactory(stage=Stage.PQL),
    ]
    LeadFactory(owner=other_rep, stage=Stage.SAL)
    LeadFactory(owner=other_rep, stage=Stage.MQL)
    LeadFactory(stage=Stage.IQL)
    LeadFactory(stage=Stage.SQL)

    assert sorted(ids(rep_client.get(LIST))) == sorted(lead.pk for lead in visible)


def test_in_assign_mode_a_rep_lists_only_the_leads_assigned_to_them(rep_client, rep, other_rep):
    mine = [LeadFactory(owner=rep, stage=Stage.SAL), LeadFactory(owner=rep, stage=Stage.MQL)]
    LeadFactory(stage=Stage.MQL)  # waiting in the unassigned pool: routing hands it out
    LeadFactory(stage=Stage.PQL)
    LeadFactory(owner=other_rep, stage=Stage.MQL)

    assert sorted(ids(rep_client.get(LIST))) == sorted(lead.pk for lead in mine)


@pytest.mark.parametrize(("method", "suffix", "body"), LEAD_ENDPOINTS)
def test_other_rep_gets_404_on_every_endpoint_of_a_reps_lead(
    other_rep_client, rep, method, suffix, body
):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)
    before = snapshot(lead.pk)

    response = call(other_rep_client, method, detail(lead.pk, suffix), body)

    assert_error(response, 404, "not_found")
    assert snapshot(lead.pk) == before


@pytest.mark.parametrize(("method", "suffix", "body"), LEAD_ENDPOINTS)
def test_rep_gets_404_on_unowned_leads_outside_the_handoff_queue(rep_client, method, suffix, body):
    lead = LeadFactory(stage=Stage.IQL)
    before = snapshot(lead.pk)

    assert_error(call(rep_client, method, detail(lead.pk, suffix), body), 404, "not_found")
    assert snapshot(lead.pk) == before


@pytest.mark.parametrize("suffix", ["", "timeline/", "stage-durations/"])
def test_rep_reads_own_lead(rep_client, rep, suffix):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)

    assert rep_client.get(detail(lead.pk, suffix)).status_code == 200


def test_rep_cannot_create(rep_client):
    response = rep_client.post(LIST, {"email": "a@example.com"}, format="json")

    body = assert_error(response, 403, "permission_denied")
    assert body["message"] == "A sales rep may not create leads."
    assert Lead.objects.count() == 0


def test_rep_is_refused_before_the_body_is_read(rep_client):
    response = rep_client.post(LIST, {"email": "not an email", "stage": "SQL"}, format="json")

    body = assert_error(response, 403, "permission_denied")
    assert body["message"] == "A sales rep may not create leads."
    assert Lead.objects.count() == 0


def test_rep_cannot_delete_own_lead(rep_client, rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)
    before = snapshot(lead.pk)

    assert_error(rep_client.delete(detail(lead.pk)), 403, "permission_denied")
    assert snapshot(lead.pk) == before


def test_rep_edits_contact_fields_of_own_lead(rep_client, rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)

    response = rep_client.patch(detail(lead.pk), {"phone": "+1 555 0100"}, format="json")

    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.phone == "+1 555 0100"


def test_rep_cannot_edit_fields_outside_their_set(rep_client, rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)
    before = snapshot(lead.pk)

    response = rep_client.patch(
        detail(lead.pk), {"email": "x@example.com", "source": "event"}, format="json"
    )

    body = assert_error(response, 403, "permission_denied", {"email", "source"})
    assert body["message"] == "A sales rep may not change: email, source."
    assert snapshot(lead.pk) == before


def test_rep_may_put_back_the_lead_they_read_with_editable_changes(rep_client, rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL, email="keep@example.com")
    body = rep_client.get(detail(lead.pk)).json()
    body["title"] = "Head of Data"

    response = rep_client.put(detail(lead.pk), body, format="json")

    assert response.status_code == 200, response.content
    lead.refresh_from_db()
    assert (lead.title, lead.email, lead.owner) == ("Head of Data", "keep@example.com", rep)


def test_rep_cannot_edit_a_handoff_lead_before_accepting_it(rep_client, pool_mode):
    lead = LeadFactory(stage=Stage.MQL)
    before = snapshot(lead.pk)

    response = rep_client.patch(detail(lead.pk), {"title": "Mine now"}, format="json")

    assert_error(response, 403, "permission_denied")
    assert snapshot(lead.pk) == before


def test_rep_accepts_from_the_handoff_queue_and_other_rep_then_loses_sight(
    rep_client, other_rep_client, rep, pool_mode
):
    lead = LeadFactory(stage=Stage.PQL)
    assert other_rep_client.get(detail(lead.pk)).status_code == 200

    response = rep_client.post(detail(lead.pk, "transition/"), {"to": "SAL"}, format="json")

    assert response.status_code == 200
    assert (response.json()["stage"], response.json()["owner"]) == ("SAL", rep.pk)
    assert_error(other_rep_client.get(detail(lead.pk)), 404, "not_found")


def test_rep_recycles_own_lead_which_leaves_their_list(rep_client, rep):
    lead = LeadFactory(stage=Stage.SQL, owner=rep)

    response = rep_client.post(
        detail(lead.pk, "transition/"), {"to": "MQL", "reason": "Budget next year"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["owner"], response.json()["recycle_count"]) == (None, 1)
    # back in the hand-off queue, so still visible, but no longer theirs
    assert rep_client.get(LIST, {"owner": rep.pk}).json()["count"] == 0


# --- roles: marketer and admin ----------------------------------------------------------------


def test_marketer_sees_every_lead(marketer_client, rep, other_rep):
    leads = [
        LeadFactory(owner=rep, stage=Stage.SAL),
        LeadFactory(owner=other_rep, stage=Stage.SQL),
        LeadFactory(stage=Stage.IQL),
        LeadFactory(stage=Stage.DISQUALIFIED),
    ]

    assert sorted(ids(marketer_client.get(LIST))) == sorted(lead.pk for lead in leads)


@pytest.mark.parametrize(("method", "suffix", "body"), LEAD_ENDPOINTS)
def test_marketer_reaches_every_endpoint_of_a_reps_lead(marketer_client, rep, method, suffix, body):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)
    if suffix == "transition/":
        body = {"to": "MQL", "reason": "Marketing takes it back"}

    response = call(marketer_client, method, detail(lead.pk, suffix), body)

    assert response.status_code == (204 if method == "delete" else 200), response.content


@pytest.fixture
def superuser_client():
    """An admin made the way `manage.py createsuperuser` makes one: no role chosen."""
    call_command(
        "createsuperuser", interactive=False, username="root", email="root@example.com", verbosity=0
    )
    user = User.objects.get(username="root")
    client = APIClient()
    client.force_authenticate(user)
    return client, user


def test_superuser_is_admin_sees_all_and_may_make_sales_moves(superuser_client, rep):
    client, user = superuser_client
    owned = LeadFactory(owner=rep, stage=Stage.SAL)
    unowned = LeadFactory(stage=Stage.MQL)
    iql = LeadFactory(stage=Stage.IQL)

    assert sorted(ids(client.get(LIST))) == sorted([owned.pk, unowned.pk, iql.pk])
    response = client.post(detail(unowned.pk, "transition/"), {"to": "SAL"}, format="json")
    assert (response.status_code, response.json()["owner"]) == (200, user.pk)
    body = {"to": "DISQUALIFIED", "reason": "No budget this year"}
    assert client.post(detail(owned.pk, "transition/"), body, format="json").status_code == 200
    assert client.post(LIST, {"email": "su@example.com"}, format="json").status_code == 201
    assert client.delete(detail(iql.pk)).status_code == 204


@pytest.mark.parametrize(("method", "suffix", "body"), LEAD_ENDPOINTS)
def test_admin_reaches_every_endpoint_of_a_reps_lead(admin_client_api, rep, method, suffix, body):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)

    response = call(admin_client_api, method, detail(lead.pk, suffix), body)

    assert response.status_code == (204 if method == "delete" else 200), response.content


# --- authentication: token and session ---------------------------------------------------------


def test_token_from_drf_create_token_authenticates(rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)
    out = io.StringIO()
    call_command("drf_create_token", "rep", stdout=out)
    token = re.search(r"Generated token (\w+) for user rep", out.getvalue()).group(1)
    client = APIClient()

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get(LIST)

    assert ids(response) == [lead.pk]


def test_wrong_token_is_401(rep):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    assert_error(client.get(LIST), 401, "authentication_failed")


def test_session_auth_reads_and_writes_with_csrf(marketer):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="marketer", password="pw-for-tests")
    LeadFactory(email="seen@example.com")

    listed = client.get(LIST)
    without_csrf = client.post(LIST, {"email": "a@example.com"}, format="json")
    client.get("/accounts/login/")  # sets the csrftoken cookie, as the browser would have it
    with_csrf = client.post(
        LIST,
        {"email": "a@example.com"},
        format="json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )

    assert [row["email"] for row in listed.json()["results"]] == ["seen@example.com"]
    assert_error(without_csrf, 403, "permission_denied")
    assert with_csrf.status_code == 201
    assert Lead.objects.filter(email="a@example.com").count() == 1


# --- schema and docs ---------------------------------------------------------------------------


def test_schema_is_public_openapi_3(anonymous):
    response = anonymous.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/v1/leads/",
        "/api/v1/leads/{id}/transition/",
        "/api/v1/leads/{id}/timeline/",
    } <= set(schema["paths"])


def test_docs_are_public_and_load_nothing_from_another_host(anonymous):
    response = anonymous.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert len(assets) >= 3  # the Swagger UI css, bundle and preset
    for url in assets:
        parsed = urlparse(url)
        assert parsed.netloc in ("", "testserver"), url
        if (parsed.path, parsed.query) == ("/api/docs/", "script="):
            continue  # Swagger UI's start script, from the docs view itself (no inline script)
        assert parsed.path.startswith("/static/"), url
        assert finders.find(parsed.path.removeprefix("/static/")), f"{url} is not shipped with us"
    assert not re.search(r"https?://(?!testserver)", html)


def test_schema_generates_without_warnings(tmp_path):
    # --fail-on-warn turns drf-spectacular's warnings (untyped ids, clashing enums) into errors
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")
    )

    assert "/api/v1/leads/{id}/stage-durations/:" in (tmp_path / "schema.yml").read_text()
