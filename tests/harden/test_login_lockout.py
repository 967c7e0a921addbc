"""Log-in lockout through the real log-in form (django-axes): per account, per address."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "right-password-1"


@pytest.fixture
def user():
    user = UserFactory(username="ada")
    user.set_password(PASSWORD)
    user.save()
    return user


def attempt(username: str, password: str, ip: str = "203.0.113.5", **extra):
    client = Client(REMOTE_ADDR=ip, **extra)
    return client.post(LOGIN, {"username": username, "password": password})


def test_failures_below_the_limit_still_let_the_right_password_in(user):
    for _ in range(4):
        assert attempt("ada", "wrong").status_code == 200

    response = attempt("ada", PASSWORD)

    assert (response.status_code, response["Location"]) == (302, "/")
    assert AccessAttempt.objects.count() == 0  # a success clears the account's count


def test_the_fifth_failure_locks_the_account_even_with_the_right_password(user):
    answers = [attempt("ada", "wrong").status_code for _ in range(5)]

    locked = attempt("ada", PASSWORD)

    assert answers == [200, 200, 200, 200, 429]
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    text = locked.content.decode()
    assert "Too many failed log-ins" in text
    assert "locked after 5 failed log-ins" in text
    assert "Try again in 15 minutes, or ask an administrator to unlock it." in text
    assert "_auth_user_id" not in locked.client.session


def test_the_account_lock_holds_from_any_address(user):
    for number in range(5):
        attempt("ada", "wrong", ip=f"198.51.100.{number + 1}")

    from_elsewhere = attempt("ada", PASSWORD, ip="192.0.2.77")

    assert from_elsewhere.status_code == 429


def test_the_address_lock_holds_for_any_account(user):
    other = UserFactory(username="grace")
    other.set_password(PASSWORD)
    other.save()
    for number in range(5):
        attempt(f"nobody{number}", "wrong", ip="203.0.113.9")

    same_address = attempt("grace", PASSWORD, ip="203.0.113.9")
    other_address = attempt("grace", PASSWORD, ip="203.0.113.10")

    assert same_address.status_code == 429
    assert other_address.status_code == 302


def test_the_address_behind_a_trusted_proxy_is_the_forwarded_one(settings, user):
    settings.TRUSTED_PROXY_HOPS = 1
    for _ in range(5):
        attempt("nobody", "wrong", ip="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.20")

    other_client = attempt("ada", PASSWORD, ip="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.21")
    locked_client = attempt("ada", PASSWORD, ip="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.20")

    assert (other_client.status_code, locked_client.status_code) == (302, 429)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.20"}


def test_an_admin_unlocks_by_deleting_the_attempts_in_the_admin(user, admin_user):
    for _ in range(5):
        attempt("ada", "wrong")
    assert attempt("ada", PASSWORD).status_code == 429
    admin = Client()
    admin.force_login(admin_user)
    ids = list(AccessAttempt.objects.values_list("pk", flat=True))

    listed = admin.get("/admin/axes/accessattempt/")
    deleted = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )

    assert listed.status_code == 200
    assert "ada" in listed.content.decode()
    assert deleted.status_code == 302
    assert attempt("ada", PASSWORD).status_code == 302


def test_the_lock_ends_after_the_cool_off(user, settings):
    from datetime import timedelta

    from django.utils import timezone

    for _ in range(5):
        attempt("ada", "wrong")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert attempt("ada", PASSWORD).status_code == 302


def test_the_admin_log_in_is_the_app_log_in_with_its_lockout(user):
    client = Client(REMOTE_ADDR="203.0.113.44")

    # The admin site's own form would take a password alone (no two-factor step): it sends to
    # the app's log-in instead, which counts failures like any other.
    admin = client.post("/admin/login/", {"username": "ada", "password": PASSWORD})
    for _ in range(5):
        client.post("/accounts/login/", {"username": "ada", "password": "wrong"})
    locked = client.post(
        "/accounts/login/", {"username": "ada", "password": PASSWORD, "next": "/admin/"}
    )

    assert (admin.status_code, admin["Location"]) == (302, "/accounts/login/?next=%2Fadmin%2F")
    assert "_auth_user_id" not in client.session
    assert locked.status_code == 429


def test_authenticate_outside_a_request_still_works(user):
    assert authenticate(username="ada", password=PASSWORD) == user
    assert authenticate(username="ada", password="wrong") is None


# --- the password-reset form ---------------------------------------------------------------------

RESET = "/accounts/password_reset/"


@pytest.fixture
def mailbox(settings, redis_url):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    from django.core import mail

    mail.outbox = []
    return mail.outbox


def reset(email: str, ip: str = "203.0.113.5"):
    return Client(REMOTE_ADDR=ip).post(RESET, {"email": email})


@pytest.mark.services
def test_password_reset_per_address_asked_for(user, mailbox, rate_clock):
    user.email = "ada@example.com"
    user.save()

    answers = [reset("ada@example.com", ip=f"198.51.100.{n}").status_code for n in range(1, 5)]

    assert answers == [302, 302, 302, 429]
    assert len(mailbox) == 3


@pytest.mark.services
def test_password_reset_per_client_address(user, mailbox, rate_clock):
    answers = [reset(f"someone{n}@example.com").status_code for n in range(6)]
    refused = reset("another@example.com")
    elsewhere = reset("another@example.com", ip="192.0.2.1")

    assert answers == [302, 302, 302, 302, 302, 429]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "3600"
    assert "Too many password resets" in refused.content.decode()
    assert "Try again in 60 minutes." in refused.content.decode()
    assert elsewhere.status_code == 302
