"""The team pages: people, routing rules and hand-off settings, for admins and sales managers,
with the same rules as the API (a manager manages reps only; nobody locks themselves out)."""

import re

import pytest
from django.test import Client

from accounts.models import Role, User
from handoff.models import HandoffSettings, RoutingRule
from leads.models import Stage
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

PAGES = ["/team/", "/team/people/new/", "/team/rules/new/", "/team/settings/"]


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def person_post(**values) -> dict:
    return {"username": "rep9", "role": "rep", "is_active": "on", "capacity": "20", **values}


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_is_sent_to_log_in(client, path):
    response = client.get(path)

    assert (response.status_code, response["Location"]) == (302, f"/accounts/login/?next={path}")


@pytest.mark.parametrize("who", ["rep", "marketer"])
def test_reps_and_marketers_may_not_manage_the_team(request, who):
    client = logged_in(request.getfixturevalue(who))

    answers = [client.get(path).status_code for path in PAGES]
    created = client.post("/team/people/new/", person_post())

    assert answers == [403, 403, 403, 403]
    assert created.status_code == 403
    assert not User.objects.filter(username="rep9").exists()


def test_the_team_page_shows_each_reps_load_against_capacity(
    manager, rep, django_assert_max_num_queries
):
    for stage in (Stage.SAL, Stage.SQL, Stage.CUSTOMER):
        LeadFactory(owner=rep, stage=stage)
    client = logged_in(manager)

    with django_assert_max_num_queries(8):
        page = text(client.get("/team/"))

    row = re.search(rf'<a href="/team/people/{rep.pk}/">.*?</tr>', page).group(0)
    assert f"2 / {rep.capacity}" in row  # a customer is no open lead


def test_a_manager_adds_a_rep_but_not_an_admin(manager):
    client = logged_in(manager)

    refused = client.post("/team/people/new/", person_post(username="boss", role="admin"))
    made = client.post("/team/people/new/", person_post(password="a-long-secret-9"))

    assert "A sales manager may create sales reps only." in text(refused)
    assert not User.objects.filter(username="boss").exists()
    assert made["Location"] == "/team/"
    rep = User.objects.get(username="rep9")
    assert (rep.role, rep.capacity, rep.check_password("a-long-secret-9")) == ("rep", 20, True)


def test_a_manager_sets_a_reps_territory_and_away(manager, rep):
    response = logged_in(manager).post(
        f"/team/people/{rep.pk}/",
        person_post(
            username=rep.username, capacity="12", is_away="on",
            territory_countries="Germany, Austria", territory_size_min="50",
            territory_size_max="10",
        ),
    )  # fmt: skip

    assert response.status_code == 200  # the size range is upside down
    assert "territory_size_min" in text(response) or "size" in text(response)
    rep.refresh_from_db()
    assert (rep.capacity, rep.is_away, rep.territory_countries) == (25, False, [])

    logged_in(manager).post(
        f"/team/people/{rep.pk}/",
        person_post(username=rep.username, capacity="12", is_away="on",
                    territory_countries="Germany, Austria"),
    )  # fmt: skip
    rep.refresh_from_db()
    assert (rep.capacity, rep.is_away, rep.territory_countries) == (
        12,
        True,
        ["Germany", "Austria"],
    )


def test_a_manager_may_not_change_a_marketer(manager, marketer):
    response = logged_in(manager).post(
        f"/team/people/{marketer.pk}/", person_post(username="marketer", role="marketer")
    )

    assert "You may not change this user." in text(response)
    marketer.refresh_from_db()
    assert marketer.capacity == 25


def test_an_admin_may_not_take_away_their_own_admin_role(admin_user):
    response = logged_in(admin_user).post(
        f"/team/people/{admin_user.pk}/", person_post(username="admin", role="marketer")
    )

    assert "You may not change your own role" in text(response)
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN


def test_rules_are_made_ordered_and_deleted(manager, rep, other_rep):
    client = logged_in(manager)
    client.post("/team/rules/new/", {"name": "DACH", "is_active": "on", "reps": [rep.pk],
                                     "countries": "Germany, Austria"})  # fmt: skip
    client.post("/team/rules/new/", {"name": "Big", "is_active": "on", "reps": [other_rep.pk],
                                     "size_min": "500"})  # fmt: skip
    big = RoutingRule.objects.get(name="Big")

    client.post(f"/team/rules/{big.pk}/move/", {"direction": "up"})
    order = list(RoutingRule.objects.order_by("position").values_list("name", flat=True))
    client.post(f"/team/rules/{big.pk}/delete/")

    assert order == ["Big", "DACH"]
    dach = RoutingRule.objects.get()
    assert (dach.name, dach.position, dach.countries) == ("DACH", 1, ["Germany", "Austria"])
    assert list(dach.reps.all()) == [rep]


def test_a_rule_with_an_upside_down_range_is_refused_on_its_field(manager, rep):
    response = logged_in(manager).post(
        "/team/rules/new/",
        {"name": "Odd", "is_active": "on", "reps": [rep.pk], "size_min": "500", "size_max": "5"},
    )

    assert response.status_code == 200
    assert re.search(r'field invalid">\s*<label for="id_size_(min|max)"', response.content.decode())
    assert not RoutingRule.objects.exists()


def test_settings_with_bad_business_hours_are_refused_and_good_ones_saved(manager):
    client = logged_in(manager)
    base = {"mode": "assign", "accept_within_minutes": "30", "first_touch_within_minutes": "120",
            "reassign_after_minutes": "15"}  # fmt: skip

    bad = client.post("/team/settings/", {**base, "business_hours": '{"time_zone": "Mars/Base"}'})
    good = client.post(
        "/team/settings/",
        {**base, "business_hours": '{"time_zone": "Europe/Berlin", "days": [1, 2, 3, 4, 5], '
                                   '"start": "09:00", "end": "17:00"}'},
    )  # fmt: skip

    assert "business_hours.time_zone must be an IANA time zone" in text(bad)
    assert good["Location"] == "/team/"
    row = HandoffSettings.objects.get()
    assert (row.accept_within_minutes, row.business_hours["time_zone"]) == (30, "Europe/Berlin")


def test_an_unknown_person_or_rule_is_not_found(manager):
    client = logged_in(manager)

    assert client.get("/team/people/999999/").status_code == 404
    assert client.get("/team/rules/999999/").status_code == 404


def test_a_new_person_needs_a_username(manager):
    UserFactory(username="taken", role=Role.REP)

    response = logged_in(manager).post("/team/people/new/", person_post(username="taken"))

    assert response.status_code == 200
    assert User.objects.filter(username="taken").count() == 1
