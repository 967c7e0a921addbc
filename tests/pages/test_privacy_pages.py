"""The privacy pages in a real browser (Chromium, under the site's CSP): the audit log, the
lead's erasure, API tokens, two-factor setup and log-in; at desktop and phone width."""

import os
from pathlib import Path

import pytest
from django_otp.oath import TOTP, totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from leads import services as lead_services
from tests.factories import LeadFactory, UserFactory
from tests.support import DESKTOP, PHONE, scroll_width

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("LEADCRM_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _code(device: TOTPDevice, later: int = 0) -> str:
    device.refresh_from_db()
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=later)
    return f"{value:0{device.digits}d}"


def _next_code(device: TOTPDevice) -> str:
    """The code of the step after the last one the device accepted: a used step is refused
    (replay), and a code for "now + 1" computed across a step's boundary from the setup's
    could fall outside the one-step tolerance. Valid while the clock is within a step of it."""
    device.refresh_from_db()
    token = TOTP(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    token.time = device.t0 + (device.last_t + 1) * device.step
    return f"{token.token():0{device.digits}d}"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_audit_log_page(logged_in, shots, viewport, transactional_db):
    admin = UserFactory(username="admin", role="admin", is_superuser=True, is_staff=True)
    marketer = UserFactory(username="marketer", role="marketer")
    for n in range(3):
        lead = LeadFactory(email=f"audit{n}@example.com", phone="+1 555 0100")
        lead_services.lead_update(lead=lead, actor=marketer, phone=f"+1 555 01{n:02d}", title="VP")

    page = logged_in(admin, viewport)
    page.goto("/audit/")
    page.get_by_label("Action").select_option("lead.update")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit/?*action=lead.update*")

    assert page.get_by_text("3 entries").is_visible()
    assert page.locator("table.audit tbody tr").count() == 3
    name = "audit" if viewport is DESKTOP else "audit-phone"
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert scroll_width(page) <= viewport["width"]


def test_erase_a_lead_from_its_page(logged_in, shots, transactional_db):
    admin = UserFactory(username="admin", role="admin", is_superuser=True, is_staff=True)
    lead = LeadFactory(email="forget.me@example.com", first_name="Forget", last_name="Me")

    page = logged_in(admin)
    page.goto(f"/leads/{lead.pk}/")
    assert page.get_by_role("link", name="Export (JSON)").is_visible()
    page.get_by_role("link", name="Erase…").click()
    page.get_by_label("Reason (the request it answers)").fill("Art. 17 request by email")
    page.screenshot(path=str(shots / "erase.png"), full_page=True)
    page.get_by_role("button", name="Erase personal data").click()

    page.wait_for_url(f"**/leads/{lead.pk}/")
    assert page.get_by_text("The lead's personal data was erased.").is_visible()
    assert page.get_by_text(f"erased-{lead.pk}@invalid").first.is_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_create_and_revoke_a_token(logged_in, shots, viewport, transactional_db):
    rep = UserFactory(username="rep", role="rep")
    page = logged_in(rep, viewport)
    page.goto("/")
    page.get_by_role("link", name="Account").click()
    page.get_by_label("Name").fill("laptop sync")
    page.get_by_label("Expires").select_option("30")
    page.get_by_role("button", name="Create token").click()

    key = page.locator("#new-key").inner_text()
    assert key.startswith("lcrm_")
    assert scroll_width(page) <= viewport["width"]
    name = "tokens" if viewport is DESKTOP else "tokens-phone"
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    page.get_by_role("button", name="Revoke laptop sync").click()
    assert page.get_by_text("Token revoked: it no longer works.").is_visible()
    assert page.get_by_text("No tokens yet.").is_visible()


def test_two_factor_setup_then_log_in_with_a_code(new_page, shots, transactional_db):
    user = UserFactory(username="rep", role="rep")
    page = new_page(PHONE)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("rep")
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/inbox/**")
    page.goto("/account/two-factor/")
    assert page.locator(".qr svg").is_visible()
    assert scroll_width(page) <= PHONE["width"]
    page.screenshot(path=str(shots / "two-factor-setup.png"), full_page=True)
    device = TOTPDevice.objects.get(user=user)
    page.get_by_role("textbox", name="Code").fill(_code(device))
    page.get_by_role("button", name="Turn on").click()
    assert page.get_by_role("heading", name="Your recovery codes").is_visible()
    assert page.locator(".recovery-codes li").count() == 10
    assert two_factor.enabled(user)

    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Username").fill("rep")
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/accounts/login/verify/")
    page.screenshot(path=str(shots / "two-factor-login.png"), full_page=True)
    page.get_by_label("Code").fill(_next_code(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/inbox/**")
