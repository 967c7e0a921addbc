"""The lead list and the lead page in Chromium: under the CSP, by keyboard, on a phone."""

import pytest

from leads.models import Stage
from tests.factories import LeadFactory
from tests.support import PHONE, scroll_width

pytestmark = pytest.mark.browser


def test_lead_list_works_under_the_csp(logged_in, marketer):
    LeadFactory(email="ada@example.com", first_name="Ada", last_name="Lovelace", stage=Stage.MQL)

    page = logged_in(marketer)
    page.goto("/leads/")

    assert page.get_by_role("heading", name="Leads").is_visible()
    assert page.get_by_role("link", name="Ada Lovelace").is_visible()
    # htmx loaded from our static files, with the configuration from the meta tag
    assert page.evaluate("htmx.version") == "2.0.11"
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False


def test_lead_list_filters_by_stage(logged_in, marketer):
    LeadFactory(email="mql@example.com", stage=Stage.MQL)
    LeadFactory(email="iql@example.com", stage=Stage.IQL)
    page = logged_in(marketer)
    page.goto("/leads/")

    page.get_by_role("checkbox", name="MQL", exact=True).check()
    page.get_by_role("button", name="Filter").click()

    page.wait_for_url("**/leads/?stage=MQL")
    assert page.locator("table.leads small").all_inner_texts() == ["mql@example.com"]


def test_lead_page_stage_form_by_keyboard_alone(logged_in, rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)
    page = logged_in(rep)
    page.goto(f"/leads/{lead.pk}/")

    # Tab from the top of the page to the stage form, as a keyboard user would.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "to":
            break
    # The first move offered is back to nurture (qualifying has its own checklist form);
    # the arrow key picks the next one, disqualifying.
    assert page.evaluate("document.activeElement.value") == "MQL"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.value") == "DISQUALIFIED"
    page.keyboard.press("Tab")
    page.keyboard.type("Budget frozen until Q3")
    page.keyboard.press("Enter")

    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == "Moved to DISQUALIFIED."
    lead.refresh_from_db()
    assert lead.stage == Stage.DISQUALIFIED
    assert lead.stage_changes.order_by("-id").first().reason == "Budget frozen until Q3"


@pytest.mark.parametrize("path", ["/accounts/login/", "/", "/leads/", "/leads/{id}/"])
def test_pages_fit_a_phone_screen(new_page, logged_in, marketer, path):
    lead = LeadFactory(
        email="a.very.long.address.for.a.phone@an-enterprise-company.example.com",
        company_name="An Enterprise Company With A Long Name",
        stage=Stage.MQL,
    )
    page = new_page(PHONE) if path == "/accounts/login/" else logged_in(marketer, PHONE)

    page.goto(path.format(id=lead.pk))

    assert scroll_width(page) <= PHONE["width"]


def test_api_docs_work_under_the_csp(logged_in, marketer):
    LeadFactory()
    page = logged_in(marketer)
    page.goto("/api/docs/")

    operation = page.locator("#operations-v1-v1_leads_list")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()

    status = operation.locator(".live-responses-table tbody .response-col_status")
    assert status.inner_text() == "200"


def test_admin_works_under_the_csp(logged_in, admin_user):
    lead = LeadFactory()
    page = logged_in(admin_user)

    page.goto(f"/admin/leads/lead/{lead.pk}/change/")

    assert page.get_by_role("heading", name="Change lead").is_visible()
