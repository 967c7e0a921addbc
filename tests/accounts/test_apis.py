"""GET/POST /api/v1/users/ and GET/PATCH /api/v1/users/{id}/: scope, roles, errors."""

import pytest

from accounts.models import Role, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/users/"
GOOD_PASSWORD = "correct-horse-battery-9"


def detail(user_id: int) -> str:
    return f"/api/v1/users/{user_id}/"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["message"]
    return body


def usernames(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["username"] for row in response.json()["results"]]


@pytest.fixture
def people(admin_user, marketer, manager, rep, other_rep):
    return {"admin": admin_user, "marketer": marketer, "manager": manager, "rep": rep}


# --- anonymous --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", LIST, None),
        ("post", LIST, {"username": "x"}),
        ("get", None, None),
        ("patch", None, {}),
    ],
)
def test_anonymous_gets_401_everywhere(anonymous, rep, method, url, body):
    response = getattr(anonymous, method)(url or detail(rep.pk), body, format="json")
    assert_error(response, 401, "not_authenticated")


# --- listing ----------------------------------------------------------------------------------


def test_admin_lists_everyone(admin_client_api, people):
    assert usernames(admin_client_api.get(LIST)) == sorted(
        ["admin", "marketer", "manager", "rep", "other_rep"]
    )


def test_manager_lists_reps_and_themselves(manager_client, people):
    assert usernames(manager_client.get(LIST)) == ["manager", "other_rep", "rep"]


@pytest.mark.parametrize("client_fixture", ["rep_client", "marketer_client"])
def test_others_list_only_themselves(request, people, client_fixture):
    client = request.getfixturevalue(client_fixture)
    assert usernames(client.get(LIST)) == [client_fixture.removesuffix("_client")]


def test_list_json_has_the_fields_and_never_the_password(admin_client_api, rep):
    rep.capacity, rep.territory_countries = 12, ["Germany"]
    rep.save()
    [row] = [r for r in admin_client_api.get(LIST).json()["results"] if r["username"] == "rep"]
    assert set(row) == {
        "id",
        "username",
        "first_name",
        "last_name",
        "email",
        "role",
        "is_active",
        "capacity",
        "is_away",
        "away_until",
        "away_now",
        "territory_countries",
        "territory_size_min",
        "territory_size_max",
    }
    assert (row["capacity"], row["territory_countries"], row["role"]) == (12, ["Germany"], "rep")


def test_list_queries_stay_bounded(admin_client_api, django_assert_max_num_queries):
    for n in range(30):
        UserFactory(username=f"bulk{n}", role=Role.REP)
    with django_assert_max_num_queries(3):
        response = admin_client_api.get(LIST)
    assert response.json()["count"] == 31


# --- creating ---------------------------------------------------------------------------------


def test_manager_creates_a_rep(manager_client):
    response = manager_client.post(
        LIST,
        {
            "username": "rina",
            "password": GOOD_PASSWORD,
            "role": "rep",
            "email": "rina@example.com",
            "capacity": 9,
            "territory_countries": ["Spain"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert "password" not in body
    user = User.objects.get(username="rina")
    assert (body["id"], user.capacity, user.check_password(GOOD_PASSWORD)) == (user.pk, 9, True)


def test_manager_creating_a_manager_is_403(manager_client):
    response = manager_client.post(
        LIST, {"username": "boss", "password": GOOD_PASSWORD, "role": "manager"}, format="json"
    )
    assert_error(response, 403, "permission_denied")
    assert not User.objects.filter(username="boss").exists()


@pytest.mark.parametrize("client_fixture", ["rep_client", "marketer_client"])
def test_reps_and_marketers_creating_users_is_403_before_the_body_is_read(request, client_fixture):
    client = request.getfixturevalue(client_fixture)
    assert_error(client.post(LIST, {}, format="json"), 403, "permission_denied")


def test_weak_password_is_400_naming_it(admin_client_api):
    response = admin_client_api.post(LIST, {"username": "w", "password": "abc"}, format="json")
    body = assert_error(response, 400, "invalid")
    assert set(body["fields"]) == {"password"}


def test_duplicate_username_is_409(admin_client_api, rep):
    response = admin_client_api.post(
        LIST, {"username": "rep", "password": GOOD_PASSWORD}, format="json"
    )
    assert_error(response, 409, "duplicate_username")


def test_unknown_role_is_400(admin_client_api):
    response = admin_client_api.post(LIST, {"username": "r", "role": "boss"}, format="json")
    assert set(assert_error(response, 400, "invalid")["fields"]) == {"role"}


# --- reading and patching one -----------------------------------------------------------------


def test_rep_reads_themselves_but_another_user_is_404(rep_client, rep, other_rep, manager):
    assert rep_client.get(detail(rep.pk)).json()["username"] == "rep"
    assert_error(rep_client.get(detail(other_rep.pk)), 404, "not_found")
    assert_error(rep_client.get(detail(manager.pk)), 404, "not_found")


def test_manager_cannot_see_an_admin(manager_client, admin_user):
    assert_error(manager_client.get(detail(admin_user.pk)), 404, "not_found")
    before = User.objects.filter(pk=admin_user.pk).values().get()
    assert_error(manager_client.patch(detail(admin_user.pk), {"first_name": "X"}), 404, "not_found")
    assert User.objects.filter(pk=admin_user.pk).values().get() == before


def test_rep_patches_their_away_status(rep_client, rep):
    response = rep_client.patch(
        detail(rep.pk), {"is_away": True, "away_until": "2030-01-02T09:00:00Z"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["is_away"], response.json()["away_until"]) == (
        True,
        "2030-01-02T09:00:00Z",
    )


@pytest.mark.parametrize(
    "body",
    [{"capacity": 99}, {"role": "manager"}, {"password": GOOD_PASSWORD}, {"is_active": False}],
)
def test_rep_patching_anything_else_is_403_and_changes_nothing(rep_client, rep, body):
    before = User.objects.filter(pk=rep.pk).values().get()
    assert_error(rep_client.patch(detail(rep.pk), body, format="json"), 403, "permission_denied")
    assert User.objects.filter(pk=rep.pk).values().get() == before


def test_rep_patching_another_rep_is_404(rep_client, other_rep):
    assert_error(rep_client.patch(detail(other_rep.pk), {"is_away": True}), 404, "not_found")
    assert User.objects.get(pk=other_rep.pk).is_away is False


def test_manager_patches_a_rep_but_cannot_promote(manager_client, rep):
    response = manager_client.patch(detail(rep.pk), {"capacity": 4}, format="json")
    assert (response.status_code, response.json()["capacity"]) == (200, 4)
    assert_error(
        manager_client.patch(detail(rep.pk), {"role": "admin"}, format="json"),
        403,
        "permission_denied",
    )
    assert User.objects.get(pk=rep.pk).role == Role.REP


def test_marketer_patching_a_rep_is_404(marketer_client, rep):
    assert_error(marketer_client.patch(detail(rep.pk), {"capacity": 1}), 404, "not_found")


def test_admin_sets_a_password_that_is_never_returned(admin_client_api, rep):
    response = admin_client_api.patch(detail(rep.pk), {"password": GOOD_PASSWORD}, format="json")
    assert response.status_code == 200 and "password" not in response.json()
    assert User.objects.get(pk=rep.pk).check_password(GOOD_PASSWORD)


def test_put_is_not_allowed(admin_client_api, rep):
    assert_error(admin_client_api.put(detail(rep.pk), {}, format="json"), 405, "method_not_allowed")
