"""The lead's page in Chromium: read the score breakdown, filter the timeline in place (htmx),
merge a duplicate; at phone width without sideways scrolling. Under the CSP (no console error)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from handoff.models import Merge
from leads.models import Lead, StageChange
from playbook import scoring as playbook
from scoring import services as scoring_services
from tests.factories import EventFactory, LeadFactory
from tests.support import PHONE, scroll_width

pytestmark = pytest.mark.browser


@pytest.fixture
def scored(db):
    playbook.playbook_load()
    now = timezone.now()
    lead = LeadFactory(title="VP Sales", first_name="Ada", email="ada@example.com")
    for days in (1, 2):
        EventFactory(lead=lead, type="page", name="Pricing", occurred_at=now - timedelta(days=days))
    scoring_services.events_score_batch()
    scoring_services.leads_fit_refresh(lead_ids=[lead.pk])
    StageChange.objects.create(
        lead=lead, from_stage="IQL", to_stage="MQL", changed_at=now, rule="score >= 50"
    )
    return Lead.objects.get(pk=lead.pk)


def test_read_the_score_breakdown_and_filter_the_timeline(logged_in, marketer, scored):
    page = logged_in(marketer)
    page.goto(f"/leads/{scored.pk}/")
    page.evaluate("window.__same_document = true")

    table = page.get_by_role("table", name="Points by scoring rule")
    rows = table.locator("tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("th").inner_text() == "Viewed the pricing page"
    assert rows.nth(0).locator("td.points").inner_text() == "+20"
    assert rows.nth(1).locator("th").inner_text() == "Senior title"
    assert page.locator("#score-title .score-total").inner_text() == str(scored.score) == "35"

    timeline = page.locator("#timeline")
    assert timeline.locator("li[data-group=event]").count() == 2
    timeline.get_by_role("link", name="Stage changes").click()

    page.wait_for_url(f"**/leads/{scored.pk}/?kind=stage")
    page.locator("#timeline a[aria-current=true]", has_text="Stage changes").wait_for()
    groups = page.locator("#timeline li").evaluate_all("items => items.map(i => i.dataset.group)")
    assert groups == ["stage", "stage"]
    assert page.evaluate("window.__same_document === true")  # swapped in place


def test_merge_a_duplicate_from_the_lead_page(logged_in, marketer, scored):
    twin = LeadFactory(email="ada+news@example.com")
    page = logged_in(marketer)
    page.goto(f"/leads/{scored.pk}/")

    section = page.locator("section.duplicates")
    section.get_by_text("Same email ignoring case and +tags: ada+news@example.com").wait_for()
    section.locator("summary").click()
    section.get_by_role("button", name="Merge ada+news@example.com into this lead").click()

    page.locator("#flash").get_by_text("Merged ada+news@example.com into Ada Lead.").wait_for()
    assert not Lead.objects.filter(pk=twin.pk).exists()
    assert Merge.objects.get(lead=scored).merged_lead_id == twin.pk
    # The duplicates load after the page: wait until that request has answered (none left).
    expect(page.locator("section.duplicates")).to_have_count(0)


def test_lead_page_at_phone_width(logged_in, marketer, scored):
    LeadFactory(email="ada+news@example.com")
    page = logged_in(marketer, viewport=PHONE)
    page.goto(f"/leads/{scored.pk}/")

    assert scroll_width(page) <= PHONE["width"]
