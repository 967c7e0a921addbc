"""The team pages in Chromium, under the CSP: a manager adds a routing rule with its reps by
keyboard-usable checkboxes; the pages fit a phone."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from handoff.models import RoutingRule
from tests.support import PHONE, scroll_width

pytestmark = pytest.mark.browser


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("LEADCRM_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_manager_adds_a_routing_rule(logged_in, manager, rep, other_rep, shots):
    page = logged_in(manager)
    page.goto("/team/")
    page.get_by_role("link", name="New rule").click()

    page.get_by_label("Name", exact=True).fill("Enterprise")
    page.get_by_label(rep.username, exact=True).check()
    page.get_by_label("Company size from").fill("500")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_contain_text("Saved the rule “Enterprise”.")
    rule = RoutingRule.objects.get()
    assert (rule.name, rule.size_min, list(rule.reps.all())) == ("Enterprise", 500, [rep])
    page.screenshot(path=shots / "team-desktop.png", full_page=True)


@pytest.mark.parametrize(
    "path", ["/team/", "/team/people/new/", "/team/rules/new/", "/team/settings/"]
)
def test_team_pages_fit_a_phone(logged_in, manager, rep, path):
    page = logged_in(manager, PHONE)

    page.goto(path)

    assert scroll_width(page) <= PHONE["width"]
