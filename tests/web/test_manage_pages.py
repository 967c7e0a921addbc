"""The marketer's form pages: the list with submissions and conversion, the builder, a form's
page with its hosted address and embed snippet. Marketers and admins only."""

import re
from datetime import timedelta

import pytest
from django.test import Client

from leads.models import Stage, StageChange
from tests.web.conftest import make_form, submit
from web import rendering
from web.models import Form

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def builder_post(**values) -> dict:
    return {
        "name": "Checklist",
        "slug": "checklist",
        "title": "The lead-handoff checklist",
        "source_channel": "lead_magnet",
        "consent_text": "Send me the checklist and occasional emails.",
        "double_opt_in": "on",
        "is_active": "on",
        "f0_name": "email",
        "f0_label": "Work email",
        "f1_name": "first_name",
        "f1_label": "First name",
        "f1_required": "on",
        "f2_name": "custom",
        "f2_custom": "team_size",
        "f2_label": "Team size",
        "f2_kind": "select",
        "f2_options": "1-10, 11-50, 51+",
        **values,
    }


@pytest.mark.parametrize("path", ["/forms/", "/forms/new/", "/forms/1/", "/forms/1/edit/"])
def test_anonymous_is_sent_to_log_in(client, path):
    response = client.get(path)

    assert (response.status_code, response["Location"]) == (302, f"/accounts/login/?next={path}")


@pytest.mark.parametrize("who", ["rep", "manager"])
def test_sales_may_not_see_or_change_forms(request, marketer, who):
    form = make_form(marketer)
    client = logged_in(request.getfixturevalue(who))

    answers = [
        client.get("/forms/").status_code,
        client.get(f"/forms/{form.pk}/").status_code,
        client.get(f"/forms/{form.pk}/edit/").status_code,
        client.post("/forms/new/", builder_post()).status_code,
    ]

    assert answers == [403, 403, 403, 403]
    assert list(Form.objects.values_list("slug", flat=True)) == ["ebook"]


def test_the_list_counts_submissions_and_what_their_leads_became(marketer):
    form = make_form(marketer)
    first = submit(form, email="a@x.example")
    second = submit(form, email="b@x.example")
    submit(form, email="a@x.example")  # the same lead again
    StageChange.objects.create(
        lead=first.lead, from_stage="IQL", to_stage=Stage.MQL,
        changed_at=first.submitted_at + timedelta(days=3),
    )  # fmt: skip
    StageChange.objects.create(
        lead=second.lead, from_stage="IQL", to_stage=Stage.MQL,
        changed_at=second.submitted_at - timedelta(seconds=1),
    )  # fmt: skip

    page = text(logged_in(marketer).get("/forms/"))

    row = re.search(r"<tr>.*?/f/ebook/.*?</tr>", page).group(0)
    # submissions, confirmed (without double opt-in at once), leads, -> MQL (50%), -> SQL
    assert re.findall(r'class="num">(\d+)', row) == ["3", "3", "2", "1", "0"]
    assert "(50%)" in row


def test_a_form_built_on_the_page_is_saved_and_shows_its_snippet(marketer):
    client = logged_in(marketer)

    response = client.post("/forms/new/", builder_post())

    form = Form.objects.get(slug="checklist")
    assert response["Location"] == f"/forms/{form.pk}/"
    assert [f["name"] for f in form.fields] == ["email", "first_name", "team_size"]
    assert form.fields[2] == {
        "name": "team_size", "label": "Team size", "required": False, "kind": "select",
        "trait": "team_size", "options": ["1-10", "11-50", "51+"],
    }  # fmt: skip
    page = text(client.get(f"/forms/{form.pk}/"))
    url = rendering.hosted_url(form)
    assert f'Hosted page: <a href="{url}">{url}</a>' in page
    assert f"action=&quot;{url}&quot;" in page  # the snippet, escaped in the page
    assert 'data-copy="snippet"' in page


def test_builder_problems_are_said_on_the_row_and_nothing_is_saved(marketer):
    response = logged_in(marketer).post(
        "/forms/new/",
        builder_post(f2_options="", f3_name="custom", f3_custom="Bad Name", f3_label="X"),
    )

    page = text(response)
    assert response.status_code == 200
    assert "Field 3, options: 1 to 50 different texts." in page
    assert "Field 4, name: lowercase letters, digits and _ (at most 50)." in page
    assert not Form.objects.exists()


def test_editing_keeps_what_the_form_had(marketer):
    form = make_form(marketer)
    client = logged_in(marketer)
    page = text(client.get(f"/forms/{form.pk}/edit/"))
    assert 'name="f5_options" value="1-10, 11-50"' in page

    client.post(
        f"/forms/{form.pk}/edit/",
        builder_post(name="Ebook v2", slug="ebook", f3_name="", f2_options="1-10, 11-50"),
    )

    form.refresh_from_db()
    assert form.name == "Ebook v2"
