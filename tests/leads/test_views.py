"""The server-rendered pages: log-in, lead list, lead detail and its stage-change form."""

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from leads.models import Stage, StageChange
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def asset_urls(html: str) -> list[str]:
    return re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', html)


# --- log-in ------------------------------------------------------------------------------------


def test_login_page_renders_for_anonymous(client):
    html = page(client.get("/accounts/login/"))

    assert '<input name="username"' in html
    assert 'type="password" name="password"' in html


def test_login_with_username_and_password_opens_the_app(marketer):
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value

    response = client.post(
        "/accounts/login/",
        {"username": "marketer", "password": "pw-for-tests", "csrfmiddlewaretoken": token},
    )

    assert (response.status_code, response["Location"]) == (302, "/")
    assert "<h1>Leads</h1>" in page(client.get("/leads/"))


def test_login_with_wrong_password_shows_an_error_and_stays_anonymous(client, marketer):
    response = client.post("/accounts/login/", {"username": "marketer", "password": "wrong"})

    assert "Your username and password didn" in page(response)
    assert client.get("/").status_code == 302


def test_login_follows_next(client, marketer):
    lead = LeadFactory()

    response = client.post(
        "/accounts/login/",
        {"username": "marketer", "password": "pw-for-tests", "next": f"/leads/{lead.pk}/"},
    )

    assert response["Location"] == f"/leads/{lead.pk}/"


def test_logout_ends_the_session(marketer):
    client = logged_in(marketer)

    response = client.post("/accounts/logout/")

    assert (response.status_code, response["Location"]) == (302, "/accounts/login/")
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("path", ["/", "/leads/", "/leads/1/"])
def test_anonymous_is_redirected_to_login(client, path):
    LeadFactory()

    response = client.get(path)

    assert (response.status_code, response["Location"]) == (302, f"/accounts/login/?next={path}")


# --- lead list ---------------------------------------------------------------------------------


def test_marketer_sees_every_lead_in_the_list(marketer, rep, other_rep):
    leads = [
        LeadFactory(email="mine@example.com", owner=rep, stage=Stage.SAL),
        LeadFactory(email="theirs@example.com", owner=other_rep, stage=Stage.SQL),
        LeadFactory(email="new@example.com"),
    ]

    html = page(logged_in(marketer).get("/leads/"))

    for lead in leads:
        assert f'href="/leads/{lead.pk}/"' in html
    assert "3 leads" in html


def test_rep_sees_own_and_handoff_leads_only(rep, other_rep, pool_mode):
    mine = LeadFactory(email="mine@example.com", owner=rep, stage=Stage.SAL)
    queue = LeadFactory(email="queue@example.com", stage=Stage.MQL)
    LeadFactory(email="theirs@example.com", owner=other_rep, stage=Stage.SQL)
    LeadFactory(email="fresh@example.com", stage=Stage.IQL)

    html = page(logged_in(rep).get("/leads/"))

    assert re.findall(r"<small>([^<]+@example\.com)</small>", html) == [queue.email, mine.email]


def test_list_filters_by_stage_and_search(marketer):
    hit = LeadFactory(email="grace@navy.mil", stage=Stage.MQL)
    LeadFactory(email="grace@example.com", stage=Stage.IQL)
    LeadFactory(email="alan@navy.mil", company_name="Navy", stage=Stage.IQL)

    html = page(logged_in(marketer).get("/leads/", {"stage": "MQL", "q": "grace"}))

    assert re.findall(r"<small>([^<]+)</small>", html) == [hit.email]


def test_list_query_count_does_not_grow_with_leads(marketer, rep, django_assert_max_num_queries):
    for _ in range(20):
        LeadFactory(owner=rep)
    client = logged_in(marketer)

    # session, user, saved views, the owner filter's users, the page of leads joined to
    # owners, the count (capped: tests/leads/test_list_page.py), the bulk bar's sequences
    with django_assert_max_num_queries(7):
        html = page(client.get("/leads/"))

    assert len(re.findall(r'href="/leads/\d+/"', html)) == 20


# --- lead detail -------------------------------------------------------------------------------


def test_detail_shows_the_lead_its_timeline_and_moves(marketer):
    lead = LeadFactory(
        email="ada@example.com", first_name="Ada", last_name="Lovelace", stage=Stage.IQL
    )

    html = page(logged_in(marketer).get(f"/leads/{lead.pk}/"))

    assert "<h1>Ada Lovelace" in html
    assert "new → IQL" in html
    options = re.findall(r'<option value="(\w+)">', html)
    assert options == ["MQL", "PQL", "DISQUALIFIED"]


def test_rep_sees_own_lead_detail(rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)

    html = page(logged_in(rep).get(f"/leads/{lead.pk}/"))

    # Qualifying (SQL) has its own form with the discovery checklist, not the stage form.
    assert re.findall(r'<option value="(\w+)">', html) == ["MQL", "DISQUALIFIED"]


def test_other_reps_lead_detail_is_404(rep, other_rep):
    lead = LeadFactory(owner=other_rep, stage=Stage.SAL)

    assert logged_in(rep).get(f"/leads/{lead.pk}/").status_code == 404


def test_other_rep_cannot_move_a_reps_lead(rep, other_rep):
    lead = LeadFactory(owner=other_rep, stage=Stage.SAL)

    response = logged_in(rep).post(f"/leads/{lead.pk}/", {"to": "SQL"})

    assert response.status_code == 404
    lead.refresh_from_db()
    assert (lead.stage, lead.stage_changes.count()) == (Stage.SAL, 1)


def test_stage_form_moves_the_lead(rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)
    client = logged_in(rep)

    response = client.post(f"/leads/{lead.pk}/", {"to": "DISQUALIFIED", "reason": "No budget"})

    assert (response.status_code, response["Location"]) == (302, f"/leads/{lead.pk}/")
    lead.refresh_from_db()
    assert lead.stage == Stage.DISQUALIFIED
    row = lead.stage_changes.order_by("-id").first()
    assert (row.from_stage, row.to_stage, row.changed_by, row.reason) == (
        "SAL",
        "DISQUALIFIED",
        rep,
        "No budget",
    )
    html = page(client.get(response["Location"]))
    assert "Moved to DISQUALIFIED." in html


def test_stage_form_neither_offers_nor_makes_a_qualification_without_the_checklist(rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)
    client = logged_in(rep)

    offered = page(client.get(f"/leads/{lead.pk}/"))
    response = client.post(f"/leads/{lead.pk}/", {"to": "SQL"})

    assert '<option value="SQL"' not in offered
    html = page(client.get(response["Location"]))
    assert "Qualify a lead with the discovery checklist" in html
    lead.refresh_from_db()
    assert (lead.stage, lead.stage_changes.count()) == (Stage.SAL, 1)


@pytest.mark.parametrize(
    "form, message",
    [
        ({"to": "CUSTOMER"}, "A lead cannot move from SAL to CUSTOMER."),
        ({"to": "DISQUALIFIED", "reason": ""}, "Moving a lead to DISQUALIFIED"),
        ({"to": "IQL"}, "A lead cannot move from SAL to IQL."),
        ({"to": "NONSENSE"}, "is not a valid Stage"),
        ({}, "is not a valid Stage"),
    ],
)
def test_stage_form_shows_an_error_and_changes_nothing(rep, form, message):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)
    before = list(StageChange.objects.filter(lead=lead).values_list("id", flat=True))
    client = logged_in(rep)

    response = client.post(f"/leads/{lead.pk}/", form)

    assert response.status_code == 302
    html = page(client.get(response["Location"]))
    assert 'class="flash error"' in html
    assert message in html
    lead.refresh_from_db()
    assert lead.stage == Stage.SAL
    assert list(StageChange.objects.filter(lead=lead).values_list("id", flat=True)) == before


def test_stage_form_needs_a_csrf_token(rep):
    lead = LeadFactory(owner=rep, stage=Stage.SAL)
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)

    response = client.post(f"/leads/{lead.pk}/", {"to": "SQL"})

    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.stage == Stage.SAL


# --- static files: our own, no CDN -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/accounts/login/", "/", "/leads/", "/leads/{id}/"])
def test_pages_load_assets_only_from_our_own_static(marketer, path):
    lead = LeadFactory()
    client = Client() if path == "/accounts/login/" else logged_in(marketer)

    html = page(client.get(path.format(id=lead.pk)))

    assets = asset_urls(html)
    assert "/static/css/app.css" in assets
    for url in assets:
        parsed = urlparse(url)
        assert parsed.netloc == "" and parsed.path.startswith("/static/"), url
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html)


@pytest.mark.parametrize(
    "path, content_type",
    [
        ("/static/css/app.css", "text/css"),
        # the API docs page's Swagger UI, shipped with us instead of fetched from a CDN
        ("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js", "text/javascript"),
    ],
)
def test_static_files_are_served_by_the_app_with_debug_off(client, settings, path, content_type):
    assert settings.DEBUG is False
    source = Path(finders.find(path.removeprefix("/static/"))).read_bytes()

    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert b"".join(response.streaming_content) == source


# --- home ----------------------------------------------------------------------------------------


def test_home_is_the_funnel_for_a_marketer(marketer):
    html = page(logged_in(marketer).get("/"))

    assert "<h1>Funnel</h1>" in html


def test_home_sends_a_rep_to_the_inbox(rep):
    response = logged_in(rep).get("/")

    assert (response.status_code, response["Location"]) == (302, "/inbox/")
