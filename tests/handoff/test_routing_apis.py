"""The routing API: /handoff/settings/, /handoff/rules/, /leads/{id}/assign/ — roles, errors,
validation, ordering, and bounded queries."""

import pytest

from accounts.models import Role
from handoff.models import Assignment, AssignmentStatus, HandoffSettings, RoutingRule
from handoff.services import routing_setup
from handoff.services.routing import assignment_open
from leads.models import Lead, Stage
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

SETTINGS = "/api/v1/handoff/settings/"
RULES = "/api/v1/handoff/rules/"
HOURS = {
    "time_zone": "Europe/Berlin",
    "days": [0, 1, 2, 3, 4],
    "start": "09:00",
    "end": "17:00",
    "holidays": "DE",
}


def rule_url(rule_id: int) -> str:
    return f"{RULES}{rule_id}/"


def assign_url(lead_id: int) -> str:
    return f"/api/v1/leads/{lead_id}/assign/"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["message"]
    return body


def make_rule(reps, name="rule", **fields) -> RoutingRule:
    return routing_setup.routing_rule_create(
        actor=None, name=name, reps=[r.pk for r in reps], **fields
    )


def positions() -> list[tuple[str, int]]:
    return list(RoutingRule.objects.order_by("position").values_list("name", "position"))


@pytest.fixture
def reps(db):
    return [UserFactory(username=f"r{n}", role=Role.REP) for n in range(3)]


@pytest.fixture
def rule(reps):
    return make_rule(reps[:1], name="first")


# --- anonymous and other roles on every endpoint ----------------------------------------------


def endpoints(rule_id: int, lead_id: int) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", SETTINGS, None),
        ("put", SETTINGS, {"mode": "pool"}),
        ("patch", SETTINGS, {"mode": "pool"}),
        ("get", RULES, None),
        ("post", RULES, {"name": "x", "reps": []}),
        ("get", rule_url(rule_id), None),
        ("put", rule_url(rule_id), {"name": "renamed"}),
        ("patch", rule_url(rule_id), {"name": "renamed"}),
        ("delete", rule_url(rule_id), None),
        ("post", assign_url(lead_id), {"owner": 1}),
    ]


def snapshot() -> dict:
    return {
        "settings": list(HandoffSettings.objects.values()),
        "rules": list(RoutingRule.objects.values()),
        "assignments": list(Assignment.objects.values()),
        "owners": list(Lead.objects.values_list("pk", "owner_id")),
    }


def test_anonymous_gets_401_on_every_endpoint(anonymous, rule):
    lead = LeadFactory(stage=Stage.MQL)
    before = snapshot()
    for method, url, body in endpoints(rule.pk, lead.pk):
        response = getattr(anonymous, method)(url, body, format="json")
        assert_error(response, 401, "not_authenticated")
    assert snapshot() == before


@pytest.mark.parametrize("client_fixture", ["rep_client", "marketer_client"])
def test_reps_and_marketers_get_403_on_every_endpoint(request, client_fixture, rule, rep):
    client = request.getfixturevalue(client_fixture)
    lead = LeadFactory(stage=Stage.MQL, owner=rep)  # a lead the rep can see
    before = snapshot()
    for method, url, body in endpoints(rule.pk, lead.pk):
        response = getattr(client, method)(url, body, format="json")
        assert_error(response, 403, "permission_denied")
    assert snapshot() == before


# --- settings ---------------------------------------------------------------------------------


def test_manager_reads_the_default_settings(manager_client):
    body = manager_client.get(SETTINGS).json()
    assert body["mode"] == "assign"
    assert (
        body["accept_within_minutes"],
        body["first_touch_within_minutes"],
        body["reassign_after_minutes"],
        body["business_hours"],
    ) == (60, 240, 120, None)


def test_manager_puts_settings_with_business_hours(manager_client, manager):
    response = manager_client.put(
        SETTINGS,
        {"mode": "pool", "accept_within_minutes": 15, "business_hours": HOURS},
        format="json",
    )
    assert response.status_code == 200, response.content
    row = HandoffSettings.objects.get(pk=1)
    assert (row.mode, row.accept_within_minutes, row.business_hours) == ("pool", 15, HOURS)
    assert (row.reassign_after_minutes, row.updated_by_id) == (120, manager.pk)


def test_admin_patches_business_hours_back_to_around_the_clock(admin_client_api):
    admin_client_api.put(SETTINGS, {"business_hours": HOURS}, format="json")
    response = admin_client_api.patch(SETTINGS, {"business_hours": None}, format="json")
    assert response.json()["business_hours"] is None


@pytest.mark.parametrize(
    "hours",
    [
        {**HOURS, "time_zone": "Mars/Olympus"},
        {**HOURS, "days": []},
        {**HOURS, "start": "18:00"},
        {**HOURS, "holidays": "XX"},
        {**HOURS, "lunch": "12:00"},
        "weekdays",
    ],
)
def test_bad_business_hours_is_400_naming_the_field(manager_client, hours):
    response = manager_client.put(SETTINGS, {"business_hours": hours}, format="json")
    body = assert_error(response, 400, "invalid")
    assert set(body["fields"]) == {"business_hours"}
    assert "business_hours" in body["message"]
    assert HandoffSettings.objects.filter(business_hours__isnull=False).count() == 0


@pytest.mark.parametrize(
    "body",
    [{"mode": "auction"}, {"accept_within_minutes": 0}, {"reassign_after_minutes": -5}],
)
def test_bad_settings_are_400(manager_client, body):
    response = manager_client.put(SETTINGS, body, format="json")
    assert set(assert_error(response, 400, "invalid")["fields"]) == set(body)


# --- rules ------------------------------------------------------------------------------------


def test_manager_creates_a_rule_with_conditions(manager_client, reps):
    response = manager_client.post(
        RULES,
        {
            "name": "DACH enterprise",
            "countries": ["Germany", " Austria "],
            "size_min": 200,
            "sources": ["event", "referral"],
            "stages": ["MQL"],
            "score_min": 50,
            "score_max": 100,
            "reps": [reps[1].pk, reps[0].pk],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["countries"] == ["Germany", "Austria"]
    assert (body["position"], body["reps"], body["is_default"]) == (
        1,
        sorted([reps[0].pk, reps[1].pk]),
        False,
    )


def test_rules_need_active_reps_and_say_which_are_not(manager_client, reps, manager):
    inactive = UserFactory(username="gone", role=Role.REP, is_active=False)
    for members in ([], [manager.pk], [inactive.pk], [reps[0].pk, 999_999]):
        response = manager_client.post(RULES, {"name": "x", "reps": members}, format="json")
        body = assert_error(response, 400, "invalid")
        assert set(body["fields"]) == {"reps"}
    response = manager_client.post(RULES, {"name": "x", "reps": [manager.pk]}, format="json")
    assert str(manager.pk) in response.json()["message"]
    assert not RoutingRule.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"size_min": 10, "size_max": 9}, "size_max"),
        ({"score_min": 10, "score_max": 9}, "score_max"),
        ({"stages": ["SAL"]}, "stages"),
        ({"sources": ["carrier pigeon"]}, "sources"),
        ({"is_default": True, "countries": ["Spain"]}, "countries"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_rules_are_400_naming_the_field(manager_client, reps, body, field):
    response = manager_client.post(
        RULES, {"name": "x", "reps": [reps[0].pk], **body}, format="json"
    )
    assert field in assert_error(response, 400, "invalid")["fields"]
    assert not RoutingRule.objects.exists()


def test_one_default_rule_a_new_one_takes_over(manager_client, reps):
    old = make_rule(reps[:1], name="old default", is_default=True)
    response = manager_client.post(
        RULES, {"name": "new default", "is_default": True, "reps": [reps[1].pk]}, format="json"
    )
    assert response.status_code == 201
    old.refresh_from_db()
    assert old.is_default is False
    assert RoutingRule.objects.get(is_default=True).name == "new default"


def test_create_at_a_position_shifts_the_others(manager_client, reps):
    for name in ("a", "b", "c"):
        make_rule(reps[:1], name=name)
    response = manager_client.post(
        RULES, {"name": "new", "position": 2, "reps": [reps[0].pk]}, format="json"
    )
    assert response.json()["position"] == 2
    assert positions() == [("a", 1), ("new", 2), ("b", 3), ("c", 4)]


def test_reorder_by_putting_a_position(manager_client, reps):
    rules = {name: make_rule(reps[:1], name=name) for name in ("a", "b", "c", "d")}
    manager_client.put(rule_url(rules["d"].pk), {"position": 1}, format="json")
    assert positions() == [("d", 1), ("a", 2), ("b", 3), ("c", 4)]
    manager_client.patch(rule_url(rules["d"].pk), {"position": 3}, format="json")
    assert positions() == [("a", 1), ("b", 2), ("d", 3), ("c", 4)]
    manager_client.put(rule_url(rules["a"].pk), {"position": 99}, format="json")
    assert positions() == [("b", 1), ("d", 2), ("c", 3), ("a", 4)]


def test_put_changes_only_the_fields_sent(manager_client, reps):
    rule = make_rule(reps[:1], name="a", countries=["Spain"], score_min=10)
    response = manager_client.put(
        rule_url(rule.pk), {"name": "b", "reps": [reps[2].pk]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["countries"], body["score_min"], body["reps"]) == (
        "b",
        ["Spain"],
        10,
        [reps[2].pk],
    )


def test_delete_closes_up_positions_and_keeps_assignments(manager_client, reps):
    _, b, _ = (make_rule(reps[:1], name=name) for name in ("a", "b", "c"))
    lead = LeadFactory(stage=Stage.MQL)
    assignment = assignment_open(lead=lead, rep=reps[0], rule=b)
    assert manager_client.delete(rule_url(b.pk)).status_code == 204
    assert positions() == [("a", 1), ("c", 2)]
    assignment.refresh_from_db()
    assert assignment.rule_id is None


def test_unknown_rule_is_404(manager_client):
    assert_error(manager_client.get(rule_url(999_999)), 404, "not_found")


def test_rule_list_queries_stay_bounded(manager_client, reps, django_assert_max_num_queries):
    for n in range(25):
        make_rule(reps, name=f"rule {n}")
    with django_assert_max_num_queries(3):
        response = manager_client.get(RULES)
    body = response.json()
    assert body["count"] == 25
    assert [row["position"] for row in body["results"]] == list(range(1, 26))
    assert body["results"][0]["reps"] == sorted(r.pk for r in reps)


# --- reassignment -----------------------------------------------------------------------------


def test_manager_reassigns_a_lead(manager_client, manager, reps):
    lead = LeadFactory(stage=Stage.PQL)
    response = manager_client.post(assign_url(lead.pk), {"owner": reps[1].pk}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["lead"], body["rep"], body["status"], body["assigned_by"]) == (
        lead.pk,
        reps[1].pk,
        "pending",
        manager.pk,
    )
    lead.refresh_from_db()
    assert (lead.owner_id, lead.stage) == (reps[1].pk, Stage.PQL)


def test_admin_reassigns_from_one_rep_to_another(admin_client_api, reps):
    lead = LeadFactory(stage=Stage.MQL)
    admin_client_api.post(assign_url(lead.pk), {"owner": reps[0].pk}, format="json")
    admin_client_api.post(assign_url(lead.pk), {"owner": reps[1].pk}, format="json")
    statuses = list(Assignment.objects.order_by("id").values_list("rep_id", "status"))
    assert statuses == [
        (reps[0].pk, AssignmentStatus.REASSIGNED),
        (reps[1].pk, AssignmentStatus.PENDING),
    ]


@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        ({"role": Role.MARKETER}, "not_a_rep", "not a sales rep"),
        ({"role": Role.REP, "is_active": False}, "rep_inactive", "not active"),
        ({"role": Role.REP, "is_away": True}, "rep_away", "is away"),
        ({"role": Role.REP, "capacity": 0}, "rep_full", "is full"),
    ],
)
def test_reassign_refusals_are_400_saying_which(manager_client, fields, code, words):
    target = UserFactory(username="target", **fields)
    lead = LeadFactory(stage=Stage.MQL)
    response = manager_client.post(assign_url(lead.pk), {"owner": target.pk}, format="json")
    body = assert_error(response, 400, code)
    assert words in body["message"] and set(body["fields"]) == {"owner"}
    lead.refresh_from_db()
    assert lead.owner_id is None and not Assignment.objects.exists()


def test_reassign_to_an_unknown_user_is_400_not_a_rep(manager_client):
    lead = LeadFactory(stage=Stage.MQL)
    response = manager_client.post(assign_url(lead.pk), {"owner": 999_999}, format="json")
    assert_error(response, 400, "not_a_rep")


def test_reassign_body_must_name_an_owner(manager_client):
    lead = LeadFactory(stage=Stage.MQL)
    response = manager_client.post(assign_url(lead.pk), {}, format="json")
    assert set(assert_error(response, 400, "invalid")["fields"]) == {"owner"}


def test_reassign_a_lead_outside_the_handoff_is_409(manager_client, reps):
    lead = LeadFactory(stage=Stage.SQL, owner=reps[0])
    response = manager_client.post(assign_url(lead.pk), {"owner": reps[1].pk}, format="json")
    assert_error(response, 409, "not_in_handoff")


def test_reassign_an_unknown_lead_is_404(manager_client, reps):
    response = manager_client.post(assign_url(999_999), {"owner": reps[0].pk}, format="json")
    assert_error(response, 404, "not_found")
