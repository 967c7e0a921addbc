"""The pipeline board's page (/board/): columns, totals, paging, who sees which cards."""

import re

import pytest
from django.test import Client

from leads.models import SourceChannel, Stage
from tests.factories import AssignmentFactory, LeadFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def column(html: str, stage: str) -> str:
    """The HTML of one column (its <section>)."""
    match = re.search(
        rf'<section class="column[^"]*" data-column="{stage}".*?</section>', html, re.S
    )
    assert match, stage
    return match.group(0)


def cards(html: str, stage: str) -> list[int]:
    return [
        int(i) for i in re.findall(r'<li class="board-card" id="card-(\d+)"', column(html, stage))
    ]


def totals(html: str, stage: str) -> tuple[int, str]:
    part = column(html, stage)
    count = int(re.search(r"data-count>(\d+)<", part).group(1))
    return count, re.search(r"<span data-totals>([^<]+)</span>", part).group(1)


@pytest.mark.parametrize(
    "path", ["/board/", "/board/column/IQL/?page=2", "/board/leads/1/move/?to=MQL"]
)
def test_anonymous_is_sent_to_log_in(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/board/")


def test_anonymous_cannot_move_a_card(client):
    lead = LeadFactory(stage=Stage.IQL)

    response = client.post(f"/board/leads/{lead.pk}/move/", {"to": "MQL"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    lead.refresh_from_db()
    assert (lead.stage, lead.stage_changes.count()) == (Stage.IQL, 1)


def test_marketer_sees_every_column_with_exact_totals(marketer, rep):
    for score in (10, 25, 40):
        LeadFactory(stage=Stage.MQL, score=score)
    LeadFactory(stage=Stage.SAL, score=7, owner=rep)
    LeadFactory(stage=Stage.CUSTOMER, score=90, owner=rep)

    html = html_of(logged_in(marketer).get("/board/"))

    assert re.findall(r'data-column="(\w+)"', html) == [
        "IQL", "MQL", "PQL", "SAL", "SQL", "CUSTOMER", "DISQUALIFIED",
    ]  # fmt: skip
    assert totals(html, "MQL") == (3, "score total 75 · avg 25.0")
    assert totals(html, "SAL") == (1, "score total 7 · avg 7.0")
    assert totals(html, "IQL") == (0, "score total 0 · avg —")
    assert totals(html, "CUSTOMER") == (1, "score total 90 · avg 90.0")
    assert len(cards(html, "MQL")) == 3
    # A closed column is counted; its cards load when asked for.
    assert cards(html, "CUSTOMER") == []
    assert "Show 1 lead" in column(html, "CUSTOMER")


def test_rep_sees_only_their_own_leads(rep, other_rep):
    mine = LeadFactory(stage=Stage.SAL, owner=rep, score=30)
    theirs = LeadFactory(stage=Stage.SAL, owner=other_rep, score=50)
    LeadFactory(stage=Stage.IQL)

    html = html_of(logged_in(rep).get("/board/"))

    assert cards(html, "SAL") == [mine.pk]
    assert f"card-{theirs.pk}" not in html
    assert totals(html, "SAL") == (1, "score total 30 · avg 30.0")
    assert totals(html, "IQL")[0] == 0
    # A rep gets no owner filter (they see only their own leads anyway).
    assert 'name="owner"' not in html


def test_rep_in_pool_mode_also_sees_the_pool(rep, other_rep, pool_mode):
    pool = LeadFactory(stage=Stage.MQL)
    LeadFactory(stage=Stage.MQL, owner=other_rep)

    html = html_of(logged_in(rep).get("/board/"))

    assert cards(html, "MQL") == [pool.pk]
    # From the pool the one move a rep makes is accepting it.
    assert 'data-moves="SAL:"' in column(html, "MQL")


def test_filters_by_owner_and_source(marketer, rep, other_rep):
    hit = LeadFactory(stage=Stage.SAL, owner=rep, source=SourceChannel.REFERRAL)
    LeadFactory(stage=Stage.SAL, owner=rep, source=SourceChannel.SOCIAL)
    LeadFactory(stage=Stage.SAL, owner=other_rep, source=SourceChannel.REFERRAL)

    html = html_of(logged_in(marketer).get("/board/", {"owner": rep.pk, "source": "referral"}))

    assert cards(html, "SAL") == [hit.pk]
    assert totals(html, "SAL")[0] == 1
    assert f'<option value="{rep.pk}" selected>' in html
    assert '<option value="referral" selected>' in html
    # The moves keep the filters, so the board a move returns to is the same.
    assert f'action="/board/leads/{hit.pk}/move/?owner={rep.pk}&amp;source=referral"' in html


def test_unknown_filters_are_ignored(marketer):
    lead = LeadFactory(stage=Stage.IQL)

    html = html_of(logged_in(marketer).get("/board/", {"owner": "x", "source": "nonsense"}))

    assert cards(html, "IQL") == [lead.pk]


def test_board_query_count_does_not_grow_with_leads(marketer, rep, django_assert_max_num_queries):
    for stage in (Stage.IQL, Stage.MQL, Stage.PQL, Stage.SAL, Stage.SQL):
        for _ in range(22):
            LeadFactory(stage=stage, owner=rep if stage in (Stage.SAL, Stage.SQL) else None)
    AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL))
    client = logged_in(marketer)

    # session, user, the totals (one GROUP BY), the cards (one UNION ALL), the owners filter
    with django_assert_max_num_queries(5):
        html = html_of(client.get("/board/"))

    assert [len(cards(html, stage)) for stage in ("IQL", "MQL", "PQL", "SAL", "SQL")] == [20] * 5
    assert totals(html, "MQL")[0] == 23


def test_rep_board_query_count(rep, pool_mode, django_assert_max_num_queries):
    for _ in range(25):
        LeadFactory(stage=Stage.SAL, owner=rep)
        LeadFactory(stage=Stage.MQL)
    client = logged_in(rep)

    with django_assert_max_num_queries(4):  # session, user, totals, cards
        html = html_of(client.get("/board/"))

    assert len(cards(html, "SAL")) == 20
    assert len(cards(html, "MQL")) == 20


# --- paging ------------------------------------------------------------------------------------


def test_more_loads_the_next_page_of_a_column(marketer, django_assert_max_num_queries):
    leads = [LeadFactory(stage=Stage.IQL) for _ in range(45)]
    newest_first = [lead.pk for lead in reversed(leads)]
    client = logged_in(marketer)

    first = html_of(client.get("/board/"))
    with django_assert_max_num_queries(3):  # session, user, the page
        second = html_of(client.get("/board/column/IQL/", {"page": 2}, HTTP_HX_REQUEST="true"))
    third = html_of(client.get("/board/column/IQL/", {"page": 3}, HTTP_HX_REQUEST="true"))

    assert cards(first, "IQL") == newest_first[:20]
    assert 'hx-get="/board/column/IQL/?page=2"' in first
    got = [int(i) for i in re.findall(r'id="card-(\d+)"', second)]
    assert got == newest_first[20:40]
    assert 'hx-swap-oob="true"' in second and 'hx-get="/board/column/IQL/?page=3"' in second
    assert [int(i) for i in re.findall(r'id="card-(\d+)"', third)] == newest_first[40:]
    assert "hx-get" not in third  # the last page: no more button


def test_exactly_one_page_has_no_more_button(marketer):
    for _ in range(20):
        LeadFactory(stage=Stage.IQL)

    html = html_of(logged_in(marketer).get("/board/"))

    assert len(cards(html, "IQL")) == 20
    assert "/board/column/IQL/" not in html


def test_twenty_one_cards_have_a_more_button(marketer):
    for _ in range(21):
        LeadFactory(stage=Stage.IQL)

    html = html_of(logged_in(marketer).get("/board/"))

    assert len(cards(html, "IQL")) == 20
    assert 'hx-get="/board/column/IQL/?page=2"' in html


def test_closed_column_loads_its_cards_on_demand(marketer, rep):
    won = LeadFactory(stage=Stage.CUSTOMER, owner=rep)

    html = html_of(
        logged_in(marketer).get("/board/column/CUSTOMER/", {"page": 1}, HTTP_HX_REQUEST="true")
    )

    assert re.findall(r'id="card-(\d+)"', html) == [str(won.pk)]


def test_column_page_keeps_the_reps_scope(rep, other_rep):
    LeadFactory(stage=Stage.SAL, owner=other_rep)
    mine = LeadFactory(stage=Stage.SAL, owner=rep)

    html = html_of(logged_in(rep).get("/board/column/SAL/", {"page": 1}, HTTP_HX_REQUEST="true"))

    assert re.findall(r'id="card-(\d+)"', html) == [str(mine.pk)]


def test_column_without_htmx_is_the_lead_list(marketer):
    response = logged_in(marketer).get("/board/column/MQL/", {"page": 2})

    assert (response.status_code, response["Location"]) == (302, "/leads/?stage=MQL")


def test_unknown_column_is_404(marketer):
    response = logged_in(marketer).get("/board/column/NOPE/", HTTP_HX_REQUEST="true")

    assert response.status_code == 404


def test_board_page_loads_sortable_from_our_own_static(marketer):
    html = html_of(logged_in(marketer).get("/board/"))

    assert '/static/vendor/sortablejs-1.15.6/Sortable.min.js"' in html
    assert '/static/js/board.js"' in html
    assert "<script>" not in html and "style=" not in html


def test_vendored_sortable_carries_its_licence():
    from tests.support import ROOT

    folder = ROOT / "static" / "vendor" / "sortablejs-1.15.6"
    assert "MIT License" in (folder / "LICENSE").read_text()
    assert (folder / "Sortable.min.js").read_text().startswith("/*! Sortable 1.15.6")
