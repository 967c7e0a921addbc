"""The lead list in Chromium, under the CSP (any console error fails a test): filter and sort
with htmx, save and apply a view, select leads and assign them, download the CSV export, and
the page at phone width."""

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from handoff.models import Assignment
from leads import listing
from leads.models import Lead, SavedView, Stage
from tests.factories import LeadFactory
from tests.support import PHONE, scroll_width

pytestmark = pytest.mark.browser


def emails(page) -> list[str]:
    return page.locator("table.lead-list tbody small").all_inner_texts()


@pytest.fixture
def leads():
    now = timezone.now()
    made = {}
    for n, (name, stage, score) in enumerate(
        [
            ("ada", Stage.MQL, 40),
            ("bob", Stage.MQL, 90),
            ("cyd", Stage.IQL, 70),
            ("dee", Stage.MQL, 10),
        ]
    ):
        lead = LeadFactory(
            email=f"{name}@x.test", first_name=name.title(), stage=stage, score=score
        )
        Lead.objects.filter(pk=lead.pk).update(created_at=now - timedelta(hours=n))
        made[name] = lead
    return made


def test_filter_sort_and_save_a_view(logged_in, marketer, leads):
    page = logged_in(marketer)
    page.goto("/leads/")
    assert emails(page) == ["ada@x.test", "bob@x.test", "cyd@x.test", "dee@x.test"]

    # htmx: ticking a stage updates the rows and the address, without a page load.
    page.evaluate("window.notReloaded = true")
    page.get_by_role("checkbox", name="MQL", exact=True).check()
    page.wait_for_url("**/leads/?stage=MQL")
    assert emails(page) == ["ada@x.test", "bob@x.test", "dee@x.test"]
    page.get_by_label("Sort").select_option("-score")
    page.wait_for_url("**/leads/?stage=MQL&sort=-score")
    assert emails(page) == ["bob@x.test", "ada@x.test", "dee@x.test"]
    assert page.evaluate("window.notReloaded") is True
    assert page.locator(".result-count").inner_text() == "3 leads"

    page.get_by_placeholder("Name this view").fill("Best MQLs")
    page.get_by_role("button", name="Save view").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == "Saved the view “Best MQLs”."
    assert SavedView.objects.get(user=marketer).query == "stage=MQL&sort=-score"

    page.goto("/leads/")
    page.get_by_role("navigation", name="Saved views").get_by_role("link", name="Best MQLs").click()
    page.wait_for_url("**/leads/?stage=MQL&sort=-score")
    assert emails(page) == ["bob@x.test", "ada@x.test", "dee@x.test"]
    assert page.get_by_role("checkbox", name="MQL", exact=True).is_checked()

    page.get_by_role("button", name="Delete the view Best MQLs").click()
    page.wait_for_load_state()
    assert not SavedView.objects.exists()
    assert page.get_by_role("navigation", name="Saved views").count() == 0


def test_search_types_ahead(logged_in, marketer, leads):
    page = logged_in(marketer)
    page.goto("/leads/")

    page.get_by_role("searchbox", name="Search").press_sequentially("cyd")

    page.wait_for_url("**/leads/?q=cyd")
    assert emails(page) == ["cyd@x.test"]


def test_select_leads_and_assign_them(logged_in, manager, rep, leads):
    page = logged_in(manager)
    page.goto("/leads/?stage=MQL")

    page.get_by_role("checkbox", name="Select Ada Lead").check()
    page.get_by_role("checkbox", name="Select Bob Lead").check()
    assert page.locator("[data-selected-count]").inner_text() == "(2)"
    page.get_by_label("Assign to").select_option(label="rep")
    page.get_by_role("button", name="Assign", exact=True).click()

    page.wait_for_url("**/leads/?stage=MQL")
    assert page.get_by_role("status").inner_text() == "Assigned 2 leads."
    assigned = Assignment.objects.values_list("lead__email", "rep", "assigned_by")
    assert sorted(assigned) == [
        ("ada@x.test", rep.pk, manager.pk),
        ("bob@x.test", rep.pk, manager.pk),
    ]


def test_select_every_lead_of_the_page_at_once(logged_in, marketer, leads):
    page = logged_in(marketer)
    page.goto("/leads/?stage=MQL")

    page.get_by_role("checkbox", name="Select every lead on this page").check()

    assert page.locator('input[name="id"]:checked').count() == 3
    assert page.locator("[data-selected-count]").inner_text() == "(3)"
    page.get_by_role("checkbox", name="Select Bob Lead").uncheck()
    assert page.evaluate("document.querySelector('[data-select-all]').indeterminate") is True


def read_download(download) -> list[dict]:
    text = Path(download.path()).read_text()
    return list(csv.DictReader(io.StringIO(text)))


def test_export_button_downloads_the_filtered_csv(logged_in, marketer, leads):
    page = logged_in(marketer)
    page.goto("/leads/?stage=MQL&sort=score")

    with page.expect_download() as info:
        page.locator(".results-head").get_by_role("link", name="Export CSV").click()

    assert re.fullmatch(r"leads-\d{8}-\d{6}\.csv", info.value.suggested_filename)
    rows = read_download(info.value)
    assert [row["email"] for row in rows] == ["dee@x.test", "ada@x.test", "bob@x.test"]
    assert rows[0]["stage"] == "MQL"


def test_export_of_the_selection(logged_in, marketer, leads):
    page = logged_in(marketer)
    page.goto("/leads/")
    page.get_by_role("checkbox", name="Select Cyd Lead").check()
    page.get_by_role("checkbox", name="Select Ada Lead").check()

    with page.expect_download() as info:
        page.locator("#bulk").get_by_role("button", name="Export", exact=True).click()

    assert [row["email"] for row in read_download(info.value)] == ["ada@x.test", "cyd@x.test"]


def test_the_list_fits_a_phone_with_every_filter_open(logged_in, manager, leads):
    page = logged_in(manager, PHONE)
    page.goto("/leads/?score_min=0")

    assert page.locator("details.more-filters").get_attribute("open") == ""
    assert page.get_by_label("Assign to").is_visible()
    assert scroll_width(page) <= PHONE["width"]


def test_next_and_previous_pages_with_htmx(logged_in, marketer, leads, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setattr(listing, "PAGE_SIZE", 3)
    page = logged_in(marketer)
    page.goto("/leads/?sort=name")
    first = emails(page)
    rest = sorted({lead.email for lead in leads.values()} - set(first))
    page.evaluate("window.notReloaded = true")
    emails_cells = page.locator("table.lead-list tbody small")

    page.get_by_role("link", name="Next →").click()
    expect(emails_cells).to_have_text(rest)
    page.wait_for_url(re.compile(r"/leads/\?sort=name&cursor="))
    page.get_by_role("link", name="← Previous").click()
    expect(emails_cells).to_have_text(first)
    assert len(first) == 3
    assert page.evaluate("window.notReloaded") is True
