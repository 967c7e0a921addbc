"""The CSV export (`GET /api/v1/leads/export/`): exact content, streamed, scoped to what the
user may see, with the list's filters, a selection, an ordering; and the bulk bar's Export."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.test import Client

from leads.models import Lead, SourceChannel, Stage, Temperature
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/leads/export/"
HEADER = (
    "id,email,first_name,last_name,title,phone,country,company_name,company_domain,"
    "company_size,source,utm_source,utm_medium,utm_campaign,stage,stage_entered_at,score,"
    "temperature,owner,do_not_contact,consent,created_at"
)


def text(response) -> str:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content).decode()


def emails(response) -> list[str]:
    return [row["email"] for row in csv.DictReader(io.StringIO(text(response)))]


def make(email: str, created: datetime, **fields) -> Lead:
    lead = LeadFactory(email=email, **fields)
    Lead.objects.filter(pk=lead.pk).update(created_at=created)
    return lead


def test_export_content_is_exact(marketer_client, rep):
    ada = make(
        "ada@x.test",
        datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        first_name="Ada",
        last_name="Lovelace",
        title="Analyst",
        phone="+44 20 7946 0000",
        country="UK",
        company_name="Engines, Ltd",
        company_domain="engines.test",
        company_size=12,
        source=SourceChannel.EVENT,
        utm_source="meetup",
        utm_medium="talk",
        utm_campaign="spring",
        stage=Stage.SAL,
        stage_entered_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        score=72,
        temperature=Temperature.HOT,
        owner=rep,
    )
    bob = make(
        "bob@x.test",
        datetime(2026, 3, 3, 8, 0, tzinfo=UTC),
        first_name="Bob",
        last_name='"Quoted"',
        company_name='=HYPERLINK("http://evil.test")',
        stage_entered_at=datetime(2026, 3, 3, 8, 0, tzinfo=UTC),
        do_not_contact=True,
        do_not_contact_reason="bounced",
    )

    response = marketer_client.get(URL)

    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith('attachment; filename="leads-')
    assert text(response) == (
        f"{HEADER}\r\n"
        f'{bob.pk},bob@x.test,Bob,"""Quoted""",,,,"\'=HYPERLINK(""http://evil.test"")",,,other,'
        ",,,IQL,2026-03-03T08:00:00.000000+00:00,0,cold,,true,unknown,2026-03-03T08:00:00.000000+00:00\r\n"
        f'{ada.pk},ada@x.test,Ada,Lovelace,Analyst,\'+44 20 7946 0000,UK,"Engines, Ltd",'
        "engines.test,12,event,meetup,talk,spring,SAL,2026-03-02T10:00:00.000000+00:00,72,hot,rep,"
        "false,unknown,2026-03-01T09:30:00.000000+00:00\r\n"
    )


def test_export_without_leads_is_the_header(marketer_client):
    assert text(marketer_client.get(URL)) == f"{HEADER}\r\n"


def test_anonymous_cannot_export(anonymous):
    LeadFactory()

    response = anonymous.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_rep_exports_only_their_own_leads(rep_client, other_rep_client, rep, other_rep):
    LeadFactory(email="mine@x.test", owner=rep, stage=Stage.SAL)
    LeadFactory(email="theirs@x.test", owner=other_rep, stage=Stage.SAL)
    LeadFactory(email="nobody@x.test")

    assert emails(rep_client.get(URL)) == ["mine@x.test"]
    assert emails(other_rep_client.get(URL)) == ["theirs@x.test"]
    # Naming someone else's lead does not reach it.
    other = Lead.objects.get(email="theirs@x.test")
    assert emails(rep_client.get(URL, {"id": other.pk})) == []


def test_export_applies_filters_a_selection_and_the_ordering(marketer_client):
    a = make("a@x.test", datetime(2026, 1, 1, tzinfo=UTC), score=5, stage=Stage.MQL)
    b = make("b@x.test", datetime(2026, 1, 2, tzinfo=UTC), score=9, stage=Stage.MQL)
    c = make("c@x.test", datetime(2026, 1, 3, tzinfo=UTC), score=9, stage=Stage.IQL)

    assert emails(marketer_client.get(URL)) == ["c@x.test", "b@x.test", "a@x.test"]
    assert emails(marketer_client.get(URL, {"stage": "MQL"})) == ["b@x.test", "a@x.test"]
    assert emails(marketer_client.get(URL, {"id": [a.pk, c.pk]})) == ["c@x.test", "a@x.test"]
    # Ties on the ordering are broken by id, in the ordering's direction.
    assert emails(marketer_client.get(URL, {"ordering": "-score"})) == [
        "c@x.test",
        "b@x.test",
        "a@x.test",
    ]
    assert emails(marketer_client.get(URL, {"ordering": "score"})) == [
        "a@x.test",
        "b@x.test",
        "c@x.test",
    ]
    assert b.pk < c.pk


def test_export_answers_csv_whatever_the_accept_header(marketer_client):
    LeadFactory(email="a@x.test")

    response = marketer_client.get(URL, HTTP_ACCEPT="text/csv")

    assert emails(response) == ["a@x.test"]


def test_export_reads_in_one_query(marketer_client, django_assert_max_num_queries):
    for n in range(30):
        LeadFactory(email=f"l{n}@x.test")

    with django_assert_max_num_queries(1):
        assert len(emails(marketer_client.get(URL))) == 30


# --- The bulk bar's Export (a POST that lands on the export) --------------------------------------


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_bulk_export_of_a_selection_goes_to_the_export_of_those_ids(marketer):
    a, b, _ = (LeadFactory(email=f"{n}@x.test", stage=Stage.MQL) for n in "abc")

    response = page_client(marketer).post(
        "/leads/bulk/export/",
        {"scope": "selected", "id": [b.pk, a.pk], "stage": "MQL", "sort": "score"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"{URL}?stage=MQL&id={b.pk}&id={a.pk}&ordering=score%2Cid"


def test_bulk_export_of_the_filter_ignores_the_ticked_rows(marketer):
    a = LeadFactory(stage=Stage.MQL)

    response = page_client(marketer).post(
        "/leads/bulk/export/", {"scope": "filter", "id": [a.pk], "stage": "MQL"}
    )

    assert response["Location"] == f"{URL}?stage=MQL&ordering=-created_at%2C-id"


def test_bulk_export_with_nothing_selected_says_so(marketer):
    client = page_client(marketer)

    response = client.post("/leads/bulk/export/", {"scope": "selected", "stage": "MQL"})

    assert response["Location"] == "/leads/?stage=MQL"
    html = client.get(response["Location"]).content.decode()
    assert "Select some leads first" in html


def test_bulk_export_needs_a_login_and_a_post(client, marketer):
    response = client.post("/leads/bulk/export/", {"scope": "filter"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert page_client(marketer).get("/leads/bulk/export/").status_code == 405


def test_bulk_export_with_a_bad_filter_says_so_and_exports_nothing(marketer):
    client = page_client(marketer)

    response = client.post("/leads/bulk/export/", {"scope": "filter", "score_min": "lots"})

    assert response["Location"] == "/leads/?score_min=lots"
    assert "score_min: Enter a number." in client.get("/leads/").content.decode()
