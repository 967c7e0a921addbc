"""Users in the Django admin: saves go through accounts.services, lists follow the selectors."""

import pytest
from django.urls import reverse

from accounts.models import Role, User
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

USER_PERMS = ["accounts.view_user", "accounts.add_user", "accounts.change_user"]
GOOD_PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def root_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", GOOD_PASSWORD))
    return client


@pytest.fixture
def staff_manager_client(client):
    client.force_login(StaffFactory(username="boss", role=Role.MANAGER, perms=USER_PERMS))
    return client


def add(client, **fields):
    data = {"username": "newbie", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    data.update(fields)
    return client.post(reverse("admin:accounts_user_add"), data)


def change_data(user: User, **fields) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "is_active": "on" if user.is_active else "",
        "capacity": user.capacity,
        "away_until_0": "",
        "away_until_1": "",
        "territory_countries": ",".join(user.territory_countries),
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v != ""}


def test_admin_adds_a_rep_through_the_service(root_client):
    response = add(root_client, role="rep", capacity=11)
    assert response.status_code == 302, response.content
    user = User.objects.get(username="newbie")
    assert (user.role, user.capacity, user.check_password(GOOD_PASSWORD)) == ("rep", 11, True)


def test_manager_adding_a_manager_is_refused_on_the_form(staff_manager_client):
    response = add(staff_manager_client, role="manager", capacity=5)
    assert response.status_code == 200
    assert "A sales manager may create sales reps only." in response.text
    assert not User.objects.filter(username="newbie").exists()


def test_manager_adds_a_rep(staff_manager_client):
    assert add(staff_manager_client, role="rep", capacity=5).status_code == 302
    assert User.objects.get(username="newbie").role == Role.REP


def test_manager_sees_only_reps_and_themselves(staff_manager_client):
    UserFactory(username="ada", role=Role.ADMIN)
    UserFactory(username="rob", role=Role.REP)
    response = staff_manager_client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 200
    assert [u.username for u in response.context["cl"].result_list] == ["boss", "rob"]


def test_manager_promoting_a_rep_is_refused_and_changes_nothing(staff_manager_client):
    rep = UserFactory(username="rob", role=Role.REP)
    response = staff_manager_client.post(
        reverse("admin:accounts_user_change", args=[rep.pk]), change_data(rep, role="admin")
    )
    assert response.status_code == 200
    assert "may not change a user" in response.text
    assert User.objects.get(pk=rep.pk).role == Role.REP


def test_manager_changes_a_reps_capacity(staff_manager_client):
    rep = UserFactory(username="rob", role=Role.REP, capacity=5)
    response = staff_manager_client.post(
        reverse("admin:accounts_user_change", args=[rep.pk]), change_data(rep, capacity=8)
    )
    assert response.status_code == 302, response.text[:3000]
    assert User.objects.get(pk=rep.pk).capacity == 8


def test_manager_cannot_open_an_admins_password_page(staff_manager_client):
    admin = UserFactory(username="ada", role=Role.ADMIN)
    url = reverse("admin:auth_user_password_change", args=[admin.pk])
    assert staff_manager_client.get(url).status_code in (302, 404)
    assert User.objects.get(pk=admin.pk).password == admin.password


def test_manager_sets_a_reps_password(staff_manager_client):
    rep = UserFactory(username="rob", role=Role.REP)
    url = reverse("admin:auth_user_password_change", args=[rep.pk])
    response = staff_manager_client.post(
        url, {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD, "usable_password": "true"}
    )
    assert response.status_code == 302
    assert User.objects.get(pk=rep.pk).check_password(GOOD_PASSWORD)


def test_manager_cannot_delete_a_rep_even_with_the_permission(client):
    boss = StaffFactory(
        username="boss", role=Role.MANAGER, perms=[*USER_PERMS, "accounts.delete_user"]
    )
    client.force_login(boss)
    rep = UserFactory(username="rob", role=Role.REP)
    response = client.post(reverse("admin:accounts_user_delete", args=[rep.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert User.objects.filter(pk=rep.pk).exists()
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Only an admin may delete users; deactivate the user instead."]
