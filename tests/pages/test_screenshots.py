"""Every main page on a desktop (1280 px) and a phone (390 px), on the demo data: no console
error, no sideways scrolling, and a screenshot of each.

The screenshots go to a temporary folder; `LEADCRM_SCREENSHOTS=docs/screenshots` writes the
README's (look at them before committing: a test cannot see a broken layout).
"""

import os
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import User
from leads.models import Lead
from tests.support import DESKTOP, PHONE, scroll_width

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

DEMO_PASSWORDS = {"admin": "admin-demo", "marketer": "marketer-demo", "rep1": "rep1-demo"}


@pytest.fixture
def demo(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("demo_setup", stdout=open(os.devnull, "w"))  # noqa: SIM115


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("LEADCRM_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _pages() -> list[tuple[str, str, str]]:
    """(file name, user, path) of each page shown."""
    sql_lead = Lead.objects.get(email="seth.quail@cyberdyne.example")
    return [
        ("login", "", "/accounts/login/"),
        ("leads", "marketer", "/"),
        ("lead", "rep1", f"/leads/{sql_lead.pk}/"),
    ]


@pytest.mark.parametrize("size, viewport", [("desktop", DESKTOP), ("phone", PHONE)])
def test_main_pages_on_desktop_and_phone(new_page, demo, shots, size, viewport):
    from tests.support import log_in

    pages = {}
    for name, username, path in _pages():
        if username not in pages:
            page = new_page(viewport)
            if username:
                log_in(page, User.objects.get(username=username), DEMO_PASSWORDS[username])
            pages[username] = page
        page = pages[username]
        page.goto(path)

        page.screenshot(path=shots / f"{name}-{size}.png", full_page=True)
        assert scroll_width(page) <= viewport["width"], name
