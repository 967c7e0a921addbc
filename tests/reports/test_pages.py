"""The funnel page (home at / for marketers, managers and admins) and the sources page: who
may open them, the figures with their links to the leads, the htmx body, bad input."""

import re
from html import unescape

import pytest
from django.test import Client

from tests.reports.history import PERIOD, build

pytestmark = pytest.mark.django_db

CREATED = "created_after=2026-03-01&created_before=2026-05-01"


@pytest.fixture
def history(rep):
    return build(rep)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _html(response) -> str:
    return unescape(response.content.decode())


def _table(html: str, ident: str) -> str:
    match = re.search(rf'<table[^>]*id="{ident}".*?</table>', html, re.DOTALL)
    assert match, ident
    return match.group(0)


def _link(html: str, href: str) -> str:
    """The text of the first link to `href`, its tags taken out."""
    match = re.search(rf'<a[^>]*href="{re.escape(href)}"[^>]*>(.*?)</a>', html, re.DOTALL)
    assert match, f"no link to {href}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


@pytest.mark.parametrize("path", ["/", "/reports/sources/"])
def test_anonymous_is_sent_to_log_in(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_rep_gets_the_inbox_at_home_and_no_sources(rep):
    client = _client(rep)

    assert client.get("/")["Location"] == "/inbox/"
    assert client.get("/reports/sources/").status_code == 403


def test_funnel_numbers_link_to_their_leads(marketer, history):
    html = _html(_client(marketer).get("/", PERIOD))
    stages, cohorts = _table(html, "funnel-table"), _table(html, "cohort-table")

    assert _link(html, f"/leads/?{CREATED}") == "8 leads created"
    assert _link(html, f"/leads/?{CREATED}&reached=CUSTOMER") == "1 customers · 12.5%"
    assert _link(stages, f"/leads/?{CREATED}&reached=MQL") == "6"
    assert _link(stages, f"/leads/?{CREATED}&reached=MQL&reached=SAL") == "66.7%"
    assert _link(stages, f"/leads/?{CREATED}&reached=MQL&not_reached=SAL") == "2"
    assert _link(stages, f"/leads/?{CREATED}&reached=IQL&not_reached=MQL&not_reached=PQL") == "2"
    # Each month's cohort is its own month of creation.
    march = "created_after=2026-03-01&created_before=2026-04-01"
    assert _link(cohorts, f"/leads/?{march}&reached=SAL") == "4"
    assert _link(cohorts, "/leads/?created_after=2026-04-01&created_before=2026-05-01") == "3"
    # The chart's bars link to the same lists.
    assert _link(html, f"/leads/?{CREATED}&reached=MQL") == "MQL: 6 of 8 leads (75.0%)"


def test_funnel_table_and_charts(marketer, history):
    html = _html(_client(marketer).get("/", PERIOD))

    assert '<table class="report-table" id="funnel-table">' in html
    assert html.count('<svg class="chart') == 2
    assert "<title" in html and ">leads</text>" in html  # axis labels are text
    assert "7.0 d" in html  # IQL -> SQL, median
    assert "33.3%" in html  # recycled
    assert 'value="2026-03-01"' in html and 'value="2026-04-30"' in html


def test_filters_carry_into_the_links(marketer, rep, history):
    query = {**PERIOD, "source": "paid_search", "utm_campaign": "spring", "owner": str(rep.pk)}
    html = _html(_client(marketer).get("/", query))

    base = f"/leads/?{CREATED}&source=paid_search&utm_campaign=spring&owner={rep.pk}"
    assert _link(html, base) == "0 leads created"  # F is the rep's, but of "summer"
    assert f'<option value="{rep.pk}" selected>' in html
    assert '<option value="paid_search" selected>' in html


def test_htmx_gets_the_report_body_alone(marketer, history):
    response = _client(marketer).get("/", PERIOD, headers={"HX-Request": "true"})

    html = _html(response)
    assert response.status_code == 200
    assert "<html" not in html and 'id="funnel-table"' in html


def test_a_bad_date_says_so(marketer):
    response = _client(marketer).get("/", {"from": "someday"})

    assert response.status_code == 400
    assert "from: An ISO 8601 date" in _html(response)
    assert 'id="funnel-table"' not in _html(response)


def test_a_bad_filter_in_the_htmx_form_is_swapped_in_as_a_message(marketer):
    client = _client(marketer)
    response = client.get("/reports/sources/", {"owner": "x"}, headers={"HX-Request": "true"})

    assert response.status_code == 200  # htmx swaps only a 2xx answer in
    html = _html(response)
    assert "<html" not in html and "owner must be a user id" in html


@pytest.mark.parametrize("path", ["/", "/reports/sources/"])
def test_managers_and_admins_see_the_reports(manager, admin_user, path):
    assert _client(manager).get(path).status_code == 200
    assert _client(admin_user).get(path).status_code == 200


def test_sources_ranked_with_links(marketer, history):
    html = _html(_client(marketer).get("/reports/sources/", PERIOD))
    sources, campaigns = _table(html, "sources-table"), _table(html, "campaigns-table")

    assert _link(sources, f"/leads/?{CREATED}&source=paid_search") == "3"
    assert _link(sources, f"/leads/?{CREATED}&source=paid_search&reached=CUSTOMER") == "1"
    assert _link(campaigns, f"/leads/?{CREATED}&utm_campaign=spring&reached=SQL") == "2"
    assert _link(html, f"/leads/?{CREATED}&source=paid_search") == "Paid search: 3 Leads"
    ranked = re.findall(
        r'<td data-label="#" class="num rank">(\d+)</td>\s*<th scope="row">([^<]+)', html
    )
    assert ranked[:5] == [
        ("1", "Paid search"),
        ("2", "Social"),
        ("3", "Event"),
        ("4", "Organic search"),
        ("5", "Referral"),
    ]
    assert ranked[5:] == [("1", "spring"), ("2", "(no campaign)"), ("3", "fall"), ("4", "summer")]


@pytest.mark.parametrize("path", ["/", "/reports/sources/"])
def test_page_query_count_is_bounded(marketer, path, django_assert_max_num_queries, rep):
    build(rep)
    client = _client(marketer)
    # Session and user, the owners for the filter, and the report's statement with its
    # SET LOCAL and savepoint.
    with django_assert_max_num_queries(7):
        assert client.get(path, PERIOD).status_code == 200
