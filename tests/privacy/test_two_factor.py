"""Two-factor log-in (django-otp): setup with a real TOTP code computed from the device's key,
the log-in's second step, recovery codes, and the admins' requirement."""

import time

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from audit.models import AuditEntry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PAGE = "/account/two-factor/"
PASSWORD = "pw-for-tests"


def code(device: TOTPDevice, *, later: int = 0) -> str:
    """The code an authenticator app shows now (RFC 6238, from the device's own key), or
    `later` steps of 30 s on. django-otp refuses a code of a step already used (replay), and
    accepts the next step's (its clock tolerance is one step): the tests log in with that one
    after the setup used the current step's."""
    device.refresh_from_db()
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=later)
    return f"{value:0{device.digits}d}"


def next_code(user) -> str:
    return code(TOTPDevice.objects.get(user=user, confirmed=True), later=1)


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _enable(user) -> list[str]:
    device = two_factor.setup_start(user=user)
    return two_factor.setup_confirm(user=user, token=code(device))


def test_setup_page_shows_a_qr_code_the_key_and_the_uri(rep):
    html = _logged_in(rep).get(PAGE).content.decode()

    device = TOTPDevice.objects.get(user=rep, confirmed=False)
    assert "<svg" in html and 'viewBox="0 0' in html
    assert "otpauth://totp/leadcrm%3Arep?secret=" in html.replace("&amp;", "&")
    assert two_factor_secret(device) in html
    # a reload keeps the same secret (an app that scanned it keeps working)
    _logged_in(rep).get(PAGE)
    assert TOTPDevice.objects.filter(user=rep).count() == 1


def two_factor_secret(device) -> str:
    from base64 import b32encode

    return b32encode(device.bin_key).decode()


def test_setup_confirms_with_a_real_code_and_shows_ten_recovery_codes_once(rep):
    client = _logged_in(rep)
    client.get(PAGE)
    device = TOTPDevice.objects.get(user=rep)

    response = client.post(PAGE, {"action": "confirm", "token": code(device)})

    assert response.status_code == 200
    device.refresh_from_db()
    assert device.confirmed is True
    codes = list(StaticToken.objects.filter(device__user=rep).values_list("token", flat=True))
    assert len(codes) == 10
    html = response.content.decode()
    assert all(c in html for c in codes)
    assert not any(c in client.get(PAGE).content.decode() for c in codes)
    assert AuditEntry.objects.filter(action="two_factor.enable", object_id=str(rep.pk)).count() == 1


def test_setup_refuses_a_wrong_code(rep):
    client = _logged_in(rep)
    client.get(PAGE)
    device = TOTPDevice.objects.get(user=rep)
    wrong = f"{(int(code(device)) + 1) % 1_000_000:06d}"

    response = client.post(PAGE, {"action": "confirm", "token": wrong})

    assert response.status_code == 400
    device.refresh_from_db()
    assert device.confirmed is False and StaticToken.objects.count() == 0


def test_page_anonymous_goes_to_log_in():
    response = Client().get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_user_without_a_device_logs_in_with_the_password_alone(rep):
    client = Client()
    response = client.post("/accounts/login/", {"username": "rep", "password": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.get("/leads/").status_code == 200


def test_log_in_asks_for_the_code_after_the_password(rep):
    _enable(rep)
    client = Client()

    response = client.post("/accounts/login/", {"username": "rep", "password": PASSWORD})

    assert (response.status_code, response["Location"]) == (302, "/accounts/login/verify/")
    # the password alone logged nobody in
    assert client.get("/leads/")["Location"].startswith("/accounts/login/")
    done = client.post("/accounts/login/verify/", {"token": next_code(rep)})
    assert (done.status_code, done["Location"]) == (302, "/")
    assert client.get("/leads/").status_code == 200


def test_a_wrong_code_does_not_log_in(rep):
    _enable(rep)
    client = Client()
    client.post("/accounts/login/", {"username": "rep", "password": PASSWORD})
    right = code(TOTPDevice.objects.get(user=rep))

    response = client.post("/accounts/login/verify/", {"token": f"{(int(right) + 1) % 10**6:06d}"})

    assert response.status_code == 400
    assert client.get("/leads/")["Location"].startswith("/accounts/login/")


def test_a_code_is_accepted_once(rep):
    _enable(rep)
    first = Client()
    first.post("/accounts/login/", {"username": "rep", "password": PASSWORD})
    token = next_code(rep)
    assert first.post("/accounts/login/verify/", {"token": token}).status_code == 302

    second = Client()
    second.post("/accounts/login/", {"username": "rep", "password": PASSWORD})
    assert second.post("/accounts/login/verify/", {"token": token}).status_code == 400


def test_a_recovery_code_logs_in_once(rep):
    codes = _enable(rep)
    client = Client()
    client.post("/accounts/login/", {"username": "rep", "password": PASSWORD})

    assert client.post("/accounts/login/verify/", {"token": codes[0]}).status_code == 302
    assert StaticToken.objects.filter(token=codes[0]).count() == 0
    assert two_factor.recovery_codes_left(rep) == 9

    again = Client()
    again.post("/accounts/login/", {"username": "rep", "password": PASSWORD})
    assert again.post("/accounts/login/verify/", {"token": codes[0]}).status_code == 400


def test_the_code_step_without_a_password_step_goes_back_to_log_in():
    response = Client().get("/accounts/login/verify/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/")


def test_the_code_step_runs_out_after_five_minutes(rep, monkeypatch):
    _enable(rep)
    client = Client()
    client.post("/accounts/login/", {"username": "rep", "password": PASSWORD})
    start = time.time()
    monkeypatch.setattr(time, "time", lambda: start + 301)

    response = client.post("/accounts/login/verify/", {"token": "000000"})

    assert (response.status_code, response["Location"]) == (302, "/accounts/login/")


def test_turning_off_needs_a_current_code(rep):
    _enable(rep)
    client = _logged_in(rep)

    assert client.post(PAGE, {"action": "disable", "token": "000000"}).status_code == 400
    assert two_factor.enabled(rep)
    response = client.post(PAGE, {"action": "disable", "token": next_code(rep)})

    assert response.status_code == 302
    assert not two_factor.enabled(rep) and StaticToken.objects.count() == 0


def test_new_recovery_codes_replace_the_old(rep):
    old = _enable(rep)
    client = _logged_in(rep)

    response = client.post(PAGE, {"action": "renew", "token": next_code(rep)})

    new = set(StaticToken.objects.values_list("token", flat=True))
    assert response.status_code == 200 and len(new) == 10 and not (new & set(old))


# --- admins, when required ----------------------------------------------------------------------


def test_required_admin_without_a_device_only_reaches_the_setup(settings, admin_user):
    settings.LEADCRM_ADMIN_2FA_REQUIRED = True
    client = _logged_in(admin_user)

    assert client.get("/leads/")["Location"] == PAGE
    api = client.get("/api/v1/leads/")
    assert (api.status_code, api.json()["code"]) == (403, "two_factor_required")
    assert client.get(PAGE).status_code == 200


def test_required_admin_after_setup_reaches_everything_and_may_not_turn_it_off(
    settings, admin_user
):
    settings.LEADCRM_ADMIN_2FA_REQUIRED = True
    client = _logged_in(admin_user)
    client.get(PAGE)
    device = TOTPDevice.objects.get(user=admin_user)
    client.post(PAGE, {"action": "confirm", "token": code(device)})

    assert client.get("/leads/").status_code == 200
    assert "Turn off" not in client.get(PAGE).content.decode()
    with pytest.raises(Exception, match="required"):
        two_factor.disable(user=admin_user, token="x")


def test_required_does_not_touch_other_roles(settings, marketer):
    settings.LEADCRM_ADMIN_2FA_REQUIRED = True
    assert _logged_in(marketer).get("/leads/").status_code == 200


def test_not_required_by_default(admin_user):
    assert _logged_in(admin_user).get("/leads/").status_code == 200


def test_admin_with_a_token_is_not_stopped(settings):
    from rest_framework.test import APIClient

    from accounts import tokens

    settings.LEADCRM_ADMIN_2FA_REQUIRED = True
    admin = UserFactory(username="tokadmin", role="admin")
    _t, key = tokens.token_create(user=admin, name="ci")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/leads/").status_code == 200


def test_the_admin_sites_log_in_goes_through_the_two_step_log_in():
    response = Client().get("/admin/login/", {"next": "/admin/leads/lead/"})
    assert (response.status_code, response["Location"]) == (
        302,
        "/accounts/login/?next=%2Fadmin%2Fleads%2Flead%2F",
    )
    elsewhere = Client().get("/admin/login/", {"next": "https://evil.example/"})
    assert elsewhere["Location"] == "/accounts/login/?next=%2Fadmin%2F"


def test_an_admin_with_two_factor_reaches_the_admin_only_after_the_code(admin_user):
    _enable(admin_user)
    client = Client()
    client.post("/accounts/login/", {"username": "admin", "password": PASSWORD, "next": "/admin/"})
    assert client.get("/admin/")["Location"].startswith("/admin/login/")

    done = client.post("/accounts/login/verify/", {"token": next_code(admin_user)})

    assert done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
