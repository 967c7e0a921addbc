"""The audit trail: who changed what, written in the change's transaction, read by admins."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from audit.models import AuditEntry
from audit.services import audit_record
from events import services as event_services
from handoff.services import routing_setup
from leads import selectors as lead_selectors
from leads import services as lead_services
from nurturing.services import sequences
from scoring import services as scoring_services
from tests.factories import LeadFactory, UserFactory
from tests.support import assert_error

pytestmark = pytest.mark.django_db
API = "/api/v1/audit/"


def _entries(**filters):
    return list(
        AuditEntry.objects.filter(**filters)
        .order_by("id")
        .values_list("action", "object_type", "actor_name", "changes")
    )


def test_lead_update_records_old_and_new_values_with_actor_and_ip(admin_client_api, admin_user):
    lead = LeadFactory(email="ann@example.com", phone="111", title="CTO")

    response = admin_client_api.patch(
        f"/api/v1/leads/{lead.pk}/",
        {"phone": "222", "title": "CTO"},
        format="json",
        REMOTE_ADDR="198.51.100.9",
    )

    assert response.status_code == 200
    entry = AuditEntry.objects.get(object_type="lead", object_id=str(lead.pk))
    assert (entry.action, entry.actor, entry.actor_name) == ("lead.update", admin_user, "admin")
    assert entry.changes == {"phone": ["111", "222"]}
    assert entry.object_label == "ann@example.com"
    assert entry.ip == "198.51.100.9"


def test_owner_change_is_recorded_by_username(marketer, rep):
    lead = LeadFactory()

    lead_services.lead_update(lead=lead, actor=marketer, owner=rep)

    assert _entries(object_type="lead") == [
        ("lead.update", "lead", "marketer", {"owner": [None, "rep"]})
    ]


def test_an_edit_that_changes_nothing_writes_no_row(marketer):
    lead = LeadFactory(phone="111")

    lead_services.lead_update(lead=lead, actor=marketer, phone="111")

    assert AuditEntry.objects.count() == 0


def test_a_refused_edit_leaves_no_audit_row(rep):
    lead = LeadFactory(owner=rep, phone="111")

    with pytest.raises(Exception):  # noqa: B017 - the refusal's own type is not the point
        lead_services.lead_update(lead=lead, actor=rep, email="other@example.com")

    assert AuditEntry.objects.count() == 0


def test_the_audit_row_rolls_back_with_its_change(marketer):
    lead = LeadFactory(phone="111")

    with pytest.raises(RuntimeError), transaction.atomic():
        lead_services.lead_update(lead=lead, actor=marketer, phone="222")
        raise RuntimeError("the caller fails after the edit")

    lead.refresh_from_db()
    assert (lead.phone, AuditEntry.objects.count()) == ("111", 0)


@pytest.mark.django_db(transaction=True)
def test_audit_record_outside_a_transaction_is_refused_on_a_real_connection():
    with pytest.raises(RuntimeError, match="inside the change's transaction"):
        audit_record(actor=None, action="x", object_type="y", object_id=1)
    assert AuditEntry.objects.count() == 0


def test_field_changes_show_on_the_lead_timeline(marketer):
    lead = LeadFactory(phone="111")
    lead_services.lead_update(lead=lead, actor=marketer, phone="222", country="France")

    items = [i for i in lead_selectors.lead_timeline(lead=lead) if i["kind"] == "field_change"]

    assert len(items) == 1
    assert items[0]["title"] == "Edited country, phone"
    assert items[0]["detail"] == {
        "by": "marketer",
        "action": "lead.update",
        "changes": {"country": ["", "France"], "phone": ["111", "222"]},
        "reason": "",
    }


def test_timeline_api_lists_the_field_change(marketer_client):
    lead = LeadFactory(phone="111")
    marketer_client.patch(f"/api/v1/leads/{lead.pk}/", {"phone": "333"}, format="json")

    body = marketer_client.get(f"/api/v1/leads/{lead.pk}/timeline/").json()

    assert [i["title"] for i in body if i["kind"] == "field_change"] == ["Edited phone"]


def test_lead_delete_and_do_not_contact_are_recorded(marketer):
    lead = LeadFactory(email="gone@example.com")
    kept = LeadFactory()

    lead_services.lead_mark_do_not_contact(lead_id=kept.pk, reason="bounced")
    lead_services.lead_delete(lead=lead, actor=marketer)

    assert _entries() == [
        (
            "lead.do_not_contact",
            "lead",
            "",
            {"do_not_contact": [False, True], "do_not_contact_reason": ["", "bounced"]},
        ),
        ("lead.delete", "lead", "marketer", {}),
    ]


def test_rule_changes_are_recorded(marketer):
    rule = scoring_services.rule_create(
        actor=marketer,
        name="Pricing",
        definition={"kind": "event", "event_name": "Pricing Viewed", "points": 10},
        rescore=False,
    )
    scoring_services.rule_update(actor=marketer, rule_id=rule.pk, name="Pricing page")

    rows = _entries(object_type="scoring_rule")
    assert [r[0] for r in rows] == ["scoring_rule.create", "scoring_rule.update"]
    assert rows[0][3]["name"] == [None, "Pricing"]
    assert rows[1][3] == {"name": ["Pricing", "Pricing page"]}


def test_settings_changes_are_recorded(admin_user):
    scoring_services.scoring_settings_update(
        actor=admin_user, data={"mql_threshold": 70}, rescore=False
    )
    routing_setup.handoff_settings_update(actor=admin_user, accept_within_minutes=45)

    rows = _entries()
    assert rows[0][:3] == ("scoring_settings.update", "scoring_settings", "admin")
    assert rows[0][3]["mql_threshold"][1] == 70
    assert rows[1][:3] == ("handoff_settings.update", "handoff_settings", "admin")
    assert rows[1][3]["accept_within_minutes"][1] == 45


def test_sequence_changes_are_recorded(marketer):
    seq = sequences.sequence_create(actor=marketer, name="Welcome", key="welcome")
    sequences.sequence_update(sequence=seq, actor=marketer, name="Welcome!")

    step = sequences.step_create(sequence=seq, actor=marketer, subject="Hi", body_text="Hello")
    sequences.step_delete(step=step, actor=marketer)

    rows = _entries(object_type="sequence")
    assert [r[0] for r in rows] == [
        "sequence.create",
        "sequence.update",
        "sequence.step_create",
        "sequence.step_delete",
    ]
    assert rows[1][3] == {"name": ["Welcome", "Welcome!"]}
    assert rows[2][3]["subject"] == [None, "Hi"]


def test_source_changes_are_recorded(admin_user):
    source, _key = event_services.source_create(name="Site", actor=admin_user)
    event_services.source_update(source=source, actor=admin_user, name="Website")
    event_services.source_rotate_key(source=source, actor=admin_user)

    rows = _entries(object_type="source")
    assert [r[0] for r in rows] == ["source.create", "source.update", "source.rotate_key"]
    assert rows[1][3] == {"name": ["Site", "Website"]}


def test_user_changes_are_recorded_with_the_password_hidden(admin_user):
    user = account_services.user_create(
        actor=admin_user, username="bob", password="a-long-pass-phrase", role="rep"
    )
    account_services.user_update(
        actor=admin_user, user_id=user.pk, capacity=10, password="another-pass-phrase"
    )
    account_services.user_delete(actor=admin_user, user_id=user.pk)

    rows = _entries(object_type="user")
    assert [r[0] for r in rows] == ["user.create", "user.update", "user.delete"]
    assert rows[0][3] == {"role": [None, "rep"], "username": [None, "bob"]}
    assert rows[1][3] == {"capacity": [25, 10], "password": ["***", "***"]}
    assert "a-long-pass-phrase" not in str(rows) and "another-pass-phrase" not in str(rows)


# --- GET /api/v1/audit/ ----------------------------------------------------------------------


def _entry(action="lead.update", object_type="lead", object_id="1", actor=None, at=None):
    return AuditEntry.objects.create(
        at=at or timezone.now(),
        actor=actor,
        actor_name=actor.username if actor else "",
        action=action,
        object_type=object_type,
        object_id=object_id,
    )


def test_audit_api_anonymous_is_401(anonymous):
    assert_error(anonymous.get(API), 401, "not_authenticated")


@pytest.mark.parametrize("who", ["marketer_client", "manager_client", "rep_client"])
def test_audit_api_is_admins_only(who, request):
    _entry()
    assert_error(request.getfixturevalue(who).get(API), 403, "permission_denied")


def test_audit_api_filters_by_actor_action_object_and_time(admin_client_api, marketer):
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    a = _entry(actor=marketer, at=t0)
    b = _entry(action="lead.delete", object_id="2", at=t0 + timedelta(hours=1))
    c = _entry(object_type="source", object_id="1", at=t0 + timedelta(days=1))

    def ids(query):
        response = admin_client_api.get(API, query)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids({}) == [c.pk, b.pk, a.pk]
    assert ids({"actor": marketer.pk}) == [a.pk]
    assert ids({"action": "lead.delete"}) == [b.pk]
    assert ids({"object_type": "lead", "object_id": "1"}) == [a.pk]
    # from is inclusive, to exclusive, at the exact instant
    assert ids({"from": t0.isoformat(), "to": (t0 + timedelta(hours=1)).isoformat()}) == [a.pk]
    assert ids({"from": (t0 + timedelta(hours=1)).isoformat()}) == [c.pk, b.pk]
    assert ids({"to": "2026-03-02"}) == [b.pk, a.pk]


def test_audit_api_row_shape(admin_client_api, marketer):
    lead = LeadFactory(email="x@example.com", phone="1")
    lead_services.lead_update(lead=lead, actor=marketer, phone="2")

    row = admin_client_api.get(API).json()["results"][0]

    assert {k: v for k, v in row.items() if k not in ("id", "at")} == {
        "actor": marketer.pk,
        "actor_name": "marketer",
        "action": "lead.update",
        "object_type": "lead",
        "object_id": str(lead.pk),
        "object_label": "x@example.com",
        "changes": {"phone": ["1", "2"]},
        "reason": "",
        "ip": None,
    }


@pytest.mark.parametrize(
    "query,field",
    [
        ({"actor": "99999999999999999999999"}, "actor"),
        ({"actor": "x"}, "actor"),
        ({"from": "not a date"}, "from"),
        ({"object_id": "9" * 65}, "object_id"),
    ],
)
def test_audit_api_bad_filter_is_400(admin_client_api, query, field):
    assert_error(admin_client_api.get(API, query), 400, "invalid", {field})


def test_audit_api_paginates_with_a_fixed_query_count(
    admin_client_api, django_assert_max_num_queries
):
    for i in range(60):
        _entry(object_id=str(i))

    with django_assert_max_num_queries(3):  # COUNT, one page (session auth is forced here)
        body = admin_client_api.get(API).json()

    assert (body["count"], len(body["results"])) == (60, 50)
    assert len(admin_client_api.get(API, {"page": 2}).json()["results"]) == 10


# --- /audit/ page -----------------------------------------------------------------------------


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_audit_page_anonymous_goes_to_log_in():
    response = Client().get("/audit/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("role", ["marketer", "manager", "rep"])
def test_audit_page_is_admins_only(role):
    response = _logged_in(UserFactory(username=f"u-{role}", role=role)).get("/audit/")
    assert response.status_code == 403


def test_audit_page_shows_filtered_rows_and_the_nav_link(admin_user, marketer):
    lead = LeadFactory(email="page@example.com", phone="1")
    lead_services.lead_update(lead=lead, actor=marketer, phone="2")
    _entry(action="source.create", object_type="source", object_id="5")
    client = _logged_in(admin_user)

    html = client.get("/audit/", {"action": "lead.update"}).content.decode()

    assert 'href="/audit/">Audit</a>' in html
    assert "page@example.com" in html and "<del>1</del> → <ins>2</ins>" in html
    assert "source.create</code>" not in html
    assert "1 entries" in html


def test_audit_page_bad_filter_shows_the_error_and_the_unfiltered_log(admin_user):
    _entry()
    html = _logged_in(admin_user).get("/audit/", {"from": "nope"}).content.decode()
    assert 'role="alert"' in html and "1 entries" in html


def test_audit_page_query_count(admin_user, django_assert_max_num_queries):
    for i in range(30):
        _entry(object_id=str(i))
    client = _logged_in(admin_user)
    with django_assert_max_num_queries(9):
        assert client.get("/audit/").status_code == 200


def test_nav_has_no_audit_link_for_non_admins(marketer):
    html = _logged_in(marketer).get("/leads/").content.decode()
    assert 'href="/audit/"' not in html
