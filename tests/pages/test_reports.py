"""The funnel and the sources in Chromium: a marketer reads the funnel, clicks a number through
to its leads, filters with the form (htmx), all under the CSP and at phone width."""

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.reports.history import build
from tests.support import PHONE, scroll_width

pytestmark = pytest.mark.browser

PERIOD = "from=2026-03-01&to=2026-04-30"


def _cell(page, stage: str, column: str) -> str:
    return page.locator(
        f'#funnel-table tr[data-stage="{stage}"] td[data-label="{column}"]'
    ).inner_text()


def test_a_marketer_reads_the_funnel_and_clicks_through_to_the_leads(logged_in, marketer, rep):
    build(rep)
    page = logged_in(marketer)
    page.goto(f"/?{PERIOD}")

    assert page.get_by_role("heading", name="Funnel", level=1).is_visible()
    assert [_cell(page, stage, "Reached") for stage in ("IQL", "MQL", "SAL", "CUSTOMER")] == [
        "7",
        "6",
        "4",
        "1",
    ]
    assert _cell(page, "SQL", "Median") == "7.0 d"

    page.locator('#funnel-table tr[data-stage="MQL"] td[data-label="Reached"] a').click()

    page.wait_for_url("**/leads/?**")
    query = parse_qs(urlsplit(page.url).query)
    assert query == {
        "created_after": ["2026-03-01"],
        "created_before": ["2026-05-01"],
        "reached": ["MQL"],
    }
    assert page.get_by_role("heading", name="Leads").is_visible()


def test_the_filters_form_updates_the_report_in_place(logged_in, marketer, rep):
    build(rep)
    page = logged_in(marketer)
    page.goto(f"/?{PERIOD}")

    page.get_by_label("Source").select_option("paid_search")
    page.get_by_role("button", name="Apply").click()

    page.wait_for_url("**source=paid_search**")
    page.locator(
        '#funnel-table tr[data-stage="IQL"] td[data-label="Reached"]', has_text="3"
    ).wait_for()
    assert _cell(page, "CUSTOMER", "Reached") == "1"
    # htmx swapped the body only: the page (and its form) is still the one loaded.
    assert page.evaluate("document.querySelectorAll('form.report-filters').length") == 1
    href = page.locator(
        '#funnel-table tr[data-stage="SAL"] td[data-label="Reached"] a'
    ).get_attribute("href")
    assert "source=paid_search" in href and "reached=SAL" in href


@pytest.mark.parametrize("path", ["/", "/reports/sources/"])
def test_reports_fit_a_phone(logged_in, marketer, rep, path):
    build(rep)
    page = logged_in(marketer, PHONE)
    page.goto(f"{path}?{PERIOD}")

    assert page.locator("svg.chart").first.is_visible()
    assert scroll_width(page) <= PHONE["width"]


def test_sources_rank_the_channels(logged_in, marketer, rep):
    build(rep)
    page = logged_in(marketer)
    page.goto(f"/reports/sources/?{PERIOD}")

    rows = page.locator("#sources-table tbody th").all_inner_texts()
    assert rows == ["Paid search", "Social", "Event", "Organic search", "Referral"]
    page.locator("#sources-table tbody tr").first.locator('td[data-label="Customer"] a').click()
    page.wait_for_url("**/leads/?**")
    assert parse_qs(urlsplit(page.url).query)["source"] == ["paid_search"]


def test_long_campaign_names_stay_inside_the_chart(logged_in, marketer, rep):
    """A bar's label ends beside its bar: a long one used to start left of the drawing and
    lose its first letters ("ustomer-referral"). Each label now starts inside the chart, in
    full up to the column's width, shortened with an ellipsis beyond it (its whole name in
    the tooltip and the table)."""
    from tests.reports.history import START, make_lead

    names = ["customer-referral", "webinar-funnel-metrics", "q3-launch", "x" * 60]
    for n, campaign in enumerate(names):
        make_lead(f"L{n}", START, "IQL", [], source="paid_search", campaign=campaign)
    page = logged_in(marketer)
    page.goto(f"/reports/sources/?{PERIOD}")

    chart = page.locator("svg.chart").nth(1)  # by UTM campaign
    labels = chart.locator("text.label")
    shown = labels.evaluate_all("(ts) => ts.map((t) => t.lastChild.textContent)")
    assert {"customer-referral", "webinar-funnel-metrics", "q3-launch"} <= set(shown)
    shortened = [text for text in shown if text.endswith("\u2026")]
    assert len(shortened) == 1 and shortened[0].startswith("xxxx")
    tooltips = chart.locator("text.label title").evaluate_all(
        "(ts) => ts.map((t) => t.textContent)"
    )
    assert tooltips == ["x" * 60]
    lefts = labels.evaluate_all("(ts) => ts.map((t) => t.getBBox().x)")
    assert min(lefts) >= 0, dict(zip(shown, lefts, strict=True))
