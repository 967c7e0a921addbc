"""The sources page in Chromium, under the CSP: create a browser source and copy its snippet;
the pages fit a phone."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from events import selectors
from events.models import Source
from tests.factories import EventFactory, SourceFactory
from tests.support import PHONE, scroll_width

pytestmark = pytest.mark.browser


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("LEADCRM_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_create_a_source_and_copy_its_snippet(logged_in, marketer, shots):
    EventFactory(source=SourceFactory(name="Backend"))
    page = logged_in(marketer)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/sources/")
    page.get_by_role("link", name="New source").click()

    page.get_by_label("Name").fill("Website")
    page.get_by_label("Allowed origins").fill("https://www.example.com")
    page.get_by_role("button", name="Make the key").click()

    key = page.locator("code#key").inner_text()
    assert selectors.source_for_write_key(write_key=key) == Source.objects.get(name="Website")
    page.get_by_role("button", name="Copy the snippet").click()
    expect(page.locator('[data-copy-status="snippet"]')).to_have_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert f'writeKey: "{key}"' in copied and copied.startswith("import { AnalyticsBrowser }")
    page.screenshot(path=shots / "sources-key-desktop.png", full_page=True)
    page.get_by_role("link", name="← Sources and their keys").click()
    expect(
        page.get_by_role("img", name="1 events from Backend in the last 30 days")
    ).to_be_visible()
    page.screenshot(path=shots / "sources-keys-desktop.png", full_page=True)


@pytest.mark.parametrize("path", ["/sources/", "/sources/new/"])
def test_source_pages_fit_a_phone(logged_in, marketer, path):
    SourceFactory(name="A website with a rather long name for a phone screen")
    page = logged_in(marketer, PHONE)

    page.goto(path)

    assert scroll_width(page) <= PHONE["width"]
