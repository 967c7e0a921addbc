"""The lead list page (/leads/): keyset pages in every sort, with ties on the sort value (no
duplicate, no gap, forwards and back), the capped count, htmx's partial, the query count."""

import html as html_lib
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from leads import listing
from leads.models import Lead, Stage
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

T = datetime(2026, 3, 1, tzinfo=UTC)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="id" value="(\d+)"', html)]


def link(html: str, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    return f"/leads/{html_lib.unescape(match.group(1))}" if match else None


@pytest.fixture
def tied_leads():
    """Nine leads whose every sort column ties in groups: the id must break the ties."""
    made = []
    for n in range(9):
        lead = LeadFactory(
            email=f"lead{n}@x.test",
            last_name=["Adams", "Baker", "Baker"][n % 3],
            company_name=["Zeta", "Alpha", "Alpha"][n % 3],
            score=[10, 20, 20][n % 3],
            stage_entered_at=T + timedelta(minutes=n % 2),
        )
        Lead.objects.filter(pk=lead.pk).update(created_at=T + timedelta(minutes=n % 3))
        made.append(lead.pk)
    return made


def expected_order(sort: listing.Sort) -> list[int]:
    rows = Lead.objects.order_by(*sort.order_by).values_list("pk", flat=True)
    return list(rows)


@pytest.mark.parametrize("sort", [value for value, _ in listing.SORT_LABELS])
def test_keyset_pages_walk_every_lead_once_forwards_and_back(
    marketer, tied_leads, monkeypatch, sort
):
    monkeypatch.setattr(listing, "PAGE_SIZE", 4)
    client = client_for(marketer)
    want = expected_order(listing.sort_parse(sort))

    pages, url = [], f"/leads/?sort={sort.replace('-', '%2D')}"
    while url:
        html = client.get(url).content.decode()
        pages.append(row_ids(html))
        last_html, url = html, link(html, "next")
    assert [len(p) for p in pages] == [4, 4, 1]
    assert sum(pages, []) == want

    back, url = [], link(last_html, "prev")
    while url:
        html = client.get(url).content.decode()
        back.insert(0, row_ids(html))
        url = link(html, "prev")
    assert back == pages[:-1]
    assert link(client.get(f"/leads/?sort={sort}").content.decode(), "prev") is None


def test_a_lead_added_while_paging_neither_repeats_nor_hides_a_row(marketer, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    leads = [LeadFactory(email=f"l{n}@x.test", score=n) for n in range(4)]
    client = client_for(marketer)
    first = client.get("/leads/?sort=-score").content.decode()

    LeadFactory(email="new@x.test", score=99)  # lands before the cursor: not on later pages
    second = client.get(link(first, "next")).content.decode()

    assert row_ids(first) == [leads[3].pk, leads[2].pk]
    assert row_ids(second) == [leads[1].pk, leads[0].pk]


@pytest.mark.parametrize("cursor", ["garbage", "e30", "WyJzY29yZSIsIngiLDEsZmFsc2Vd"])
def test_a_damaged_cursor_or_one_of_another_sort_shows_the_first_page(marketer, cursor):
    leads = [LeadFactory(email=f"l{n}@x.test") for n in range(2)]

    html = client_for(marketer).get("/leads/", {"cursor": cursor}).content.decode()

    assert row_ids(html) == [leads[1].pk, leads[0].pk]


def test_the_count_stops_at_its_cap(marketer, monkeypatch):
    monkeypatch.setattr(listing, "COUNT_CAP", 3)
    for n in range(3):
        LeadFactory(email=f"l{n}@x.test")
    client = client_for(marketer)
    assert "<strong>3</strong> leads" in client.get("/leads/").content.decode()

    LeadFactory(email="l4@x.test")
    assert "<strong>3+</strong> leads" in client.get("/leads/").content.decode()


def test_one_lead_is_singular(marketer):
    LeadFactory()
    assert "<strong>1</strong> lead<" in client_for(marketer).get("/leads/").content.decode()


def test_htmx_gets_the_rows_alone_and_a_clean_address(marketer):
    LeadFactory(email="mql@x.test", stage=Stage.MQL)
    LeadFactory(email="iql@x.test", stage=Stage.IQL)

    response = client_for(marketer).get(
        "/leads/?q=&stage=MQL&owner=&score_min=&sort=-created", HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert "<html" not in html and "lead-filters" not in html
    assert re.findall(r"<small>([^<]+@x\.test)</small>", html) == ["mql@x.test"]
    assert response["HX-Push-Url"] == "/leads/?stage=MQL"


def test_the_page_keeps_the_filters_in_its_form_and_links(marketer, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 1)
    for n in range(3):
        LeadFactory(email=f"l{n}@x.test", stage=Stage.MQL, score=50)

    html = client_for(marketer).get("/leads/?stage=MQL&score_min=50&sort=score").content.decode()

    assert 'value="MQL" checked' in html
    assert 'name="score_min" value="50"' in html
    assert '<option value="score" selected>' in html
    assert re.search(r'rel="next" href="\?stage=MQL&amp;score_min=50&amp;sort=score&amp;', html)
    # The export link carries the filters and the sort, the sort as the API's ordering.
    assert 'href="/api/v1/leads/export/?stage=MQL&amp;score_min=50&amp;ordering=score%2Cid"' in html
    assert '<details class="more-filters" open>' in html


def test_query_count_does_not_grow_with_leads_or_pages(
    marketer, manager, rep, django_assert_max_num_queries, monkeypatch
):
    monkeypatch.setattr(listing, "PAGE_SIZE", 10)
    for n in range(25):
        LeadFactory(email=f"l{n}@x.test", owner=rep, stage=Stage.SAL)
    for user in (marketer, manager):
        client = client_for(user)
        client.get("/leads/")
        # session, user, saved views, owners, the page's rows with owners, the capped count,
        # the bulk bar's sequences (a marketer) or reps (a manager)
        with django_assert_max_num_queries(7):
            first = client.get("/leads/?sort=name").content.decode()
        with django_assert_max_num_queries(7):
            second = client.get(link(first, "next")).content.decode()
        assert len(row_ids(first)) == len(row_ids(second)) == 10


def test_a_rep_pages_through_only_what_they_may_see(rep, other_rep, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    mine = [LeadFactory(email=f"m{n}@x.test", owner=rep, stage=Stage.SAL) for n in range(3)]
    for n in range(3):
        LeadFactory(email=f"t{n}@x.test", owner=other_rep, stage=Stage.SAL)
    client = client_for(rep)

    first = client.get("/leads/?sort=created").content.decode()
    second = client.get(link(first, "next")).content.decode()

    assert row_ids(first) + row_ids(second) == [lead.pk for lead in mine]
    assert link(second, "next") is None


def test_htmx_history_restore_gets_the_whole_page(marketer):
    LeadFactory()

    response = client_for(marketer).get(
        "/leads/?stage=IQL", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )

    html = response.content.decode()
    assert "<html" in html and 'id="lead-filters"' in html
    assert "HX-Push-Url" not in response
