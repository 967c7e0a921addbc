"""accounts.services: who may create and change whom, password rules, and capacity freed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import Role, User
from core.errors import ApiError, Forbidden
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def sent(monkeypatch):
    """Tasks published by name (core.publish), as (name, args)."""
    from core import publish

    messages = []
    monkeypatch.setattr(publish, "publish", lambda name, *a, **kw: messages.append((name, a)))
    return messages


def row(user_id: int) -> dict:
    return User.objects.filter(pk=user_id).values().get()


# --- creating ---------------------------------------------------------------------------------


def test_admin_creates_any_role(admin_user):
    for role in Role.values:
        user = services.user_create(
            actor=admin_user, username=f"new-{role}", password=GOOD_PASSWORD, role=role
        )
        assert (user.role, user.check_password(GOOD_PASSWORD)) == (role, True)


def test_manager_creates_a_rep_with_capacity_and_territory(manager):
    user = services.user_create(
        actor=manager,
        username="rita",
        password=GOOD_PASSWORD,
        role=Role.REP,
        capacity=7,
        territory_countries=["Germany"],
        territory_size_min=10,
        territory_size_max=500,
    )
    user.refresh_from_db()
    assert (user.role, user.capacity, user.territory_countries) == (Role.REP, 7, ["Germany"])
    assert (user.territory_size_min, user.territory_size_max) == (10, 500)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MARKETER, Role.MANAGER])
def test_manager_may_not_create_other_roles(manager, role):
    with pytest.raises(Forbidden):
        services.user_create(actor=manager, username="x", password=GOOD_PASSWORD, role=role)
    assert not User.objects.filter(username="x").exists()


@pytest.mark.parametrize("actor_fixture", ["rep", "marketer"])
def test_reps_and_marketers_create_nobody(request, actor_fixture):
    actor = request.getfixturevalue(actor_fixture)
    with pytest.raises(Forbidden):
        services.user_create(actor=actor, username="x", password=GOOD_PASSWORD, role=Role.REP)
    assert not User.objects.filter(username="x").exists()


def test_weak_password_is_refused_naming_the_field(admin_user):
    with pytest.raises(ApiError) as caught:
        services.user_create(actor=admin_user, username="weak", password="123", role=Role.REP)
    assert caught.value.detail.code == "invalid"
    assert set(caught.value.fields) == {"password"}
    assert not User.objects.filter(username="weak").exists()


def test_duplicate_username_is_a_conflict(admin_user, rep):
    with pytest.raises(services.DuplicateUsername):
        services.user_create(actor=admin_user, username="rep", password=GOOD_PASSWORD)


def test_territory_range_upside_down_is_refused(admin_user):
    with pytest.raises(ApiError) as caught:
        services.user_create(
            actor=admin_user,
            username="t",
            role=Role.REP,
            territory_size_min=100,
            territory_size_max=99,
        )
    assert set(caught.value.fields) == {"territory_size_max"}


def test_without_a_password_the_user_cannot_log_in(admin_user):
    user = services.user_create(actor=admin_user, username="nopw", role=Role.REP)
    assert not user.has_usable_password()


# --- updating ---------------------------------------------------------------------------------


def test_rep_sets_their_own_away_status(rep):
    until = timezone.now() + timedelta(days=3)
    services.user_update(actor=rep, user_id=rep.pk, is_away=True, away_until=until)
    rep.refresh_from_db()
    assert (rep.is_away, rep.away_until) == (True, until)


@pytest.mark.parametrize(
    "changes",
    [
        {"capacity": 50},
        {"role": Role.MANAGER},
        {"territory_countries": ["France"]},
        {"email": "x@y.z"},
    ],
)
def test_rep_may_change_nothing_else_about_themselves(rep, changes):
    before = row(rep.pk)
    with pytest.raises(Forbidden):
        services.user_update(actor=rep, user_id=rep.pk, **changes)
    assert row(rep.pk) == before


def test_rep_may_not_change_another_rep(rep, other_rep):
    before = row(other_rep.pk)
    with pytest.raises(Forbidden):
        services.user_update(actor=rep, user_id=other_rep.pk, is_away=True)
    assert row(other_rep.pk) == before


def test_resending_unchanged_values_is_not_a_change(rep):
    services.user_update(actor=rep, user_id=rep.pk, capacity=rep.capacity, is_away=True)
    rep.refresh_from_db()
    assert rep.is_away is True


def test_manager_updates_a_rep_but_never_promotes_one(manager, rep):
    services.user_update(actor=manager, user_id=rep.pk, capacity=3, is_active=False)
    rep.refresh_from_db()
    assert (rep.capacity, rep.is_active) == (3, False)
    with pytest.raises(Forbidden):
        services.user_update(actor=manager, user_id=rep.pk, role=Role.MANAGER)
    with pytest.raises(Forbidden):
        services.user_update(actor=manager, user_id=rep.pk, is_superuser=True)
    rep.refresh_from_db()
    assert rep.role == Role.REP and not rep.is_superuser


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MARKETER, Role.MANAGER])
def test_manager_may_not_change_other_roles(manager, role):
    other = UserFactory(username="other", role=role)
    before = row(other.pk)
    with pytest.raises(Forbidden):
        services.user_update(actor=manager, user_id=other.pk, first_name="Changed")
    assert row(other.pk) == before


def test_manager_sets_only_their_own_away_status(manager):
    services.user_update(actor=manager, user_id=manager.pk, is_away=True)
    with pytest.raises(Forbidden):
        services.user_update(actor=manager, user_id=manager.pk, capacity=99)


def test_admin_changes_roles_but_not_their_own(admin_user, rep):
    services.user_update(actor=admin_user, user_id=rep.pk, role=Role.MANAGER)
    assert User.objects.get(pk=rep.pk).role == Role.MANAGER
    with pytest.raises(Forbidden):
        services.user_update(actor=admin_user, user_id=admin_user.pk, role=Role.REP)
    with pytest.raises(Forbidden):
        services.user_update(actor=admin_user, user_id=admin_user.pk, is_active=False)


def test_password_change_is_validated_and_hashed(admin_user, rep):
    with pytest.raises(ApiError):
        services.user_update(actor=admin_user, user_id=rep.pk, password="rep")
    services.user_update(actor=admin_user, user_id=rep.pk, password=GOOD_PASSWORD)
    assert User.objects.get(pk=rep.pk).check_password(GOOD_PASSWORD)


def test_rep_may_not_change_their_password_through_the_api_service(rep):
    with pytest.raises(Forbidden):
        services.user_update(actor=rep, user_id=rep.pk, password=GOOD_PASSWORD)


def test_user_set_away_and_back_clears_the_end(rep):
    until = timezone.now() + timedelta(hours=5)
    services.user_set_away(actor=rep, user_id=rep.pk, is_away=True, away_until=until)
    services.user_set_away(actor=rep, user_id=rep.pk, is_away=False, away_until=until)
    rep.refresh_from_db()
    assert (rep.is_away, rep.away_until) == (False, None)


# --- capacity freed: the hand-off routes its pool after the commit -----------------------------


def test_back_from_away_publishes_route_pool_after_commit(
    rep, sent, django_capture_on_commit_callbacks
):
    services.user_update(actor=None, user_id=rep.pk, is_away=True)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.user_update(actor=rep, user_id=rep.pk, is_away=False)
        assert sent == []
    for callback in callbacks:
        callback()
    assert sent == [("handoff.route_pool", ())]


def test_more_capacity_and_a_new_rep_publish_route_pool(
    manager, rep, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.user_update(actor=manager, user_id=rep.pk, capacity=rep.capacity + 5)
    with django_capture_on_commit_callbacks(execute=True):
        services.user_create(actor=manager, username="fresh", role=Role.REP)
    assert sent == [("handoff.route_pool", ()), ("handoff.route_pool", ())]


def test_changes_that_free_nothing_publish_nothing(
    admin_user, rep, marketer, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.user_update(actor=admin_user, user_id=rep.pk, first_name="Renamed")
        services.user_update(actor=admin_user, user_id=marketer.pk, capacity=99)
    assert sent == []


def test_a_refused_change_publishes_nothing(rep, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Forbidden):
        services.user_update(actor=rep, user_id=rep.pk, capacity=99)
    assert sent == []


# --- deleting ---------------------------------------------------------------------------------


def test_only_admins_delete_users(admin_user, manager, rep):
    with pytest.raises(Forbidden):
        services.user_delete(actor=manager, user_id=rep.pk)
    services.user_delete(actor=admin_user, user_id=rep.pk)
    assert not User.objects.filter(pk=rep.pk).exists()
    with pytest.raises(Forbidden):
        services.user_delete(actor=admin_user, user_id=admin_user.pk)
