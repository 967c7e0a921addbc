"""Every main page on a desktop (1280 px) and a phone (390 px), on the demo data: no console
error, no sideways scrolling, and a screenshot of each.

The screenshots go to a temporary folder; `LEADCRM_SCREENSHOTS=docs/screenshots` writes the
README's (look at them before committing: a test cannot see a broken layout).
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import User
from imports.models import ImportJob
from leads.models import Lead, Stage
from playbook.demo_handoff_pages import demo_handoff_pages
from tests.handoff.inbox_data import route, start_first_touch
from tests.support import DESKTOP, PHONE, log_in, scroll_width

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

DEMO_PASSWORDS = {"marketer": "marketer-demo", "rep1": "rep1-demo"}
# Deadlines of the leads routing hands to rep1, in minutes: overdue, soon, later, tomorrow.
DEADLINES = (-5, 8, 23, 180, 1500)


@pytest.fixture
def demo():
    with open(os.devnull, "w") as quiet:
        call_command("demo_setup", stdout=quiet)
    rep = User.objects.get(username="rep1")
    pool = Lead.objects.filter(owner=None, stage__in=[Stage.MQL, Stage.PQL]).order_by("id")
    for lead, minutes in zip(pool, DEADLINES, strict=False):
        route(lead, rep, due_in=timedelta(minutes=minutes))
    sal = Lead.objects.filter(owner=rep, stage=Stage.SAL).order_by("id").first()
    assert sal is not None
    start_first_touch(sal, rep, due_in=timedelta(minutes=95))
    demo_handoff_pages()
    return {"sal": sal}


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("LEADCRM_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _dialog(page) -> None:
    page.locator("#queue a.button", has_text="Reject").first.click()
    page.get_by_role("dialog").wait_for()


@pytest.mark.parametrize("size, viewport", [("desktop", DESKTOP), ("phone", PHONE)])
def test_main_pages_on_desktop_and_phone(new_page, demo, shots, size, viewport):
    screens = [
        ("login", "", "/accounts/login/", None),
        ("leads", "marketer", "/leads/", None),
        ("import", "marketer", "/leads/import/", None),
        ("import-report", "marketer", f"/leads/import/{ImportJob.objects.get().pk}/", None),
        ("inbox", "rep1", "/inbox/", None),
        ("inbox-reject", "rep1", "/inbox/", _dialog),
        ("lead", "rep1", f"/leads/{demo['sal'].pk}/", None),
        ("funnel", "marketer", "/", None),
        ("sources", "marketer", "/reports/sources/", None),
        ("board", "marketer", "/board/", None),
    ]
    pages: dict = {}
    for name, username, path, then in screens:
        if username not in pages:
            pages[username] = new_page(viewport)
            if username:
                user = User.objects.get(username=username)
                log_in(pages[username], user, DEMO_PASSWORDS[username])
        page = pages[username]
        page.goto(path)
        if then:
            then(page)

        # A phone's screenshot is its first screen, and so is one with the dialog open (its
        # backdrop covers the screen, not the page); otherwise a desktop's is the whole page.
        whole = size == "desktop" and then is None
        page.screenshot(path=shots / f"{name}-{size}.png", full_page=whole)
        assert scroll_width(page) <= viewport["width"], name
