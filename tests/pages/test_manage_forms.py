"""The marketer's form pages in Chromium, under the CSP: build a form, copy its snippet, open
its hosted page; the pages fit a phone."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support import PHONE, scroll_width
from tests.web.conftest import make_form
from web import rendering
from web.models import Form

pytestmark = pytest.mark.browser


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("LEADCRM_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_build_a_form_and_copy_its_snippet(logged_in, marketer, shots):
    page = logged_in(marketer)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/forms/")
    page.get_by_role("link", name="New form").click()

    page.get_by_label("Name", exact=True).fill("Webinar sign-up")
    page.get_by_label("Slug").fill("webinar")
    page.get_by_label("Title", exact=True).fill("Join the scoring webinar")
    page.get_by_label("Consent text").fill("Send me the webinar link and related emails.")
    page.locator("#id_f1_name").select_option("company_name")
    page.locator("#id_f1_label").fill("Company")
    page.screenshot(path=shots / "forms-builder-desktop.png", full_page=True)
    page.get_by_role("button", name="Save the form").click()

    expect(page.get_by_role("heading", name="Webinar sign-up")).to_be_visible()
    form = Form.objects.get(slug="webinar")
    assert [f["name"] for f in form.fields] == ["email", "company_name"]
    page.get_by_role("button", name="Copy the snippet").click()
    expect(page.locator('[data-copy-status="snippet"]')).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == rendering.form_snippet(form)
    page.screenshot(path=shots / "forms-detail-desktop.png", full_page=True)


@pytest.mark.parametrize("path", ["/forms/", "/forms/{id}/", "/forms/{id}/edit/"])
def test_form_pages_fit_a_phone(logged_in, marketer, path):
    form = make_form(marketer)
    page = logged_in(marketer, PHONE)

    page.goto(path.format(id=form.pk))

    assert scroll_width(page) <= PHONE["width"]
