"""The log-in lockout page in Chromium: under the CSP, readable on a phone."""

import pytest

from tests.support import PHONE, scroll_width

pytestmark = pytest.mark.browser


def test_five_failed_log_ins_lock_and_the_page_says_so_even_for_the_right_password(
    new_page, console, marketer, tmp_path
):
    page = new_page(PHONE)
    for _ in range(5):
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill("marketer")
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("marketer")
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()

    assert page.get_by_role("heading", name="Too many failed log-ins").is_visible()
    assert page.get_by_role("alert").inner_text() == (
        "This account or this address is locked after 5 failed log-ins. "
        "Try again in 15 minutes, or ask an administrator to unlock it."
    )
    assert scroll_width(page) <= PHONE["width"]
    page.screenshot(path=str(tmp_path / "locked.png"), full_page=True)
    print(tmp_path / "locked.png")
    # Chromium logs every 4xx document as a console error: the two 429s are the point here.
    expected = "Failed to load resource: the server responded with a status of 429"
    assert [e for e in console.errors if expected in e] == console.errors
    assert len(console.errors) == 2
    console.errors.clear()
