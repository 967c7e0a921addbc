"""/api/v1/forms/: forms (marketers and admins), with their hosted page, embed snippet and
submissions."""

import pytest

from tests.nurturing.conftest import make_sequence
from tests.support import assert_error
from tests.web.conftest import FIELDS, make_form, submit
from web.models import Form

pytestmark = pytest.mark.django_db

FORMS = "/api/v1/forms/"


def body(**values) -> dict:
    return {
        "slug": "checklist",
        "name": "Checklist",
        "title": "The qualification checklist",
        "fields": FIELDS,
        "offer_title": "the checklist",
        "offer_url": "https://example.com/checklist.pdf",
        "source_channel": "lead_magnet",
        "consent_text": "Send me the checklist.",
        "double_opt_in": True,
        **values,
    }


def state() -> list:
    return list(Form.objects.order_by("pk").values_list("slug", "title", "is_active"))


def test_a_marketer_creates_a_form_and_gets_its_page_and_snippet(marketer_client, settings):
    settings.SITE_URL = "https://crm.example.com"
    sequence = make_sequence(key="checklist-followup")

    response = marketer_client.post(FORMS, body(sequence=sequence.pk), format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["slug"] == "checklist"
    assert data["sequence"] == sequence.pk
    assert data["hosted_url"] == "https://crm.example.com/f/checklist/"
    assert data["submission_count"] == 0
    snippet = data["embed_snippet"]
    assert snippet.startswith(
        '<link rel="stylesheet" href="https://crm.example.com/static/css/leadcrm-form.css">'
    )
    assert (
        '<form class="leadcrm-form" action="https://crm.example.com/f/checklist/" method="post"'
        in snippet
    )
    assert snippet.rstrip().endswith(
        '<script src="https://crm.example.com/static/js/leadcrm-form.js" defer></script>'
    )
    assert [f["name"] for f in data["fields"]] == [f["name"] for f in FIELDS]


def test_invalid_forms_get_400_with_fields_and_a_taken_slug_409(marketer_client, marketer):
    make_form(marketer, slug="checklist")

    bad = marketer_client.post(
        FORMS, body(slug="other", offer_url="javascript:alert(1)", fields="x"), format="json"
    )
    taken = marketer_client.post(FORMS, body(), format="json")

    assert_error(bad, 400, "invalid", {"offer_url", "fields"})
    assert_error(taken, 409, "duplicate_slug", {"slug"})
    assert state() == [("checklist", "Get the lead-scoring ebook", True)]


def test_read_update_and_switch_off(marketer_client, marketer):
    form = make_form(marketer)

    read = marketer_client.get(f"{FORMS}{form.pk}/")
    patched = marketer_client.patch(
        f"{FORMS}{form.pk}/", {"is_active": False, "title": "Closed"}, format="json"
    )

    assert read.json()["title"] == "Get the lead-scoring ebook"
    assert patched.status_code == 200
    assert (patched.json()["is_active"], patched.json()["title"]) == (False, "Closed")
    assert state() == [("ebook", "Closed", False)]


def test_delete_a_form_nobody_sent_but_not_one_with_submissions(marketer_client, marketer):
    unused = make_form(marketer, slug="unused")
    used = make_form(marketer)
    submit(used)

    gone = marketer_client.delete(f"{FORMS}{unused.pk}/")
    kept = marketer_client.delete(f"{FORMS}{used.pk}/")

    assert gone.status_code == 204
    assert_error(kept, 409, "form_has_submissions")
    assert state() == [("ebook", "Get the lead-scoring ebook", True)]


def test_a_forms_submissions(marketer_client, marketer):
    form = make_form(marketer)
    other = make_form(marketer, slug="other")
    first = submit(form, email="first@example.com")
    second = submit(form, email="second@example.com")
    submit(other, email="elsewhere@example.com")

    response = marketer_client.get(f"{FORMS}{form.pk}/submissions/")

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2
    assert [(r["id"], r["email"], r["status"]) for r in data["results"]] == [
        (second.pk, "second@example.com", "confirmed"),
        (first.pk, "first@example.com", "confirmed"),
    ]
    assert data["results"][0]["lead"] == second.lead_id
    assert data["results"][0]["data"]["fields"]["first_name"] == "Ada"
    assert marketer_client.get(f"{FORMS}{form.pk}/").json()["submission_count"] == 2


def test_the_list_query_count_does_not_grow(
    marketer_client, marketer, django_assert_max_num_queries
):
    sequence = make_sequence(key="s")
    for i in range(8):
        form = make_form(marketer, slug=f"form-{i}", sequence=sequence)
        submit(form, email=f"p{i}@example.com")

    with django_assert_max_num_queries(2):  # COUNT, and the forms with sequences and counts
        response = marketer_client.get(FORMS)

    assert response.json()["count"] == 8
    assert {row["submission_count"] for row in response.json()["results"]} == {1}


def test_the_submission_list_query_count_does_not_grow(
    marketer_client, marketer, django_assert_max_num_queries
):
    form = make_form(marketer)
    for i in range(8):
        submit(form, email=f"p{i}@example.com")

    with django_assert_max_num_queries(4):  # the user's token, the form, COUNT, the rows
        response = marketer_client.get(f"{FORMS}{form.pk}/submissions/")

    assert response.json()["count"] == 8


@pytest.mark.parametrize("who", ["rep_client", "manager_client"])
def test_reps_and_managers_get_403_everywhere(request, who, marketer):
    client = request.getfixturevalue(who)
    form = make_form(marketer)
    before = state()

    responses = [
        client.get(FORMS),
        client.get(f"{FORMS}{form.pk}/"),
        client.get(f"{FORMS}{form.pk}/submissions/"),
        client.post(FORMS, body(), format="json"),
        client.patch(f"{FORMS}{form.pk}/", {"title": "x"}, format="json"),
        client.delete(f"{FORMS}{form.pk}/"),
    ]

    for response in responses:
        assert_error(response, 403, "permission_denied")
    assert state() == before


def test_anonymous_gets_401_everywhere(anonymous, marketer):
    form = make_form(marketer)
    before = state()

    responses = [
        anonymous.get(FORMS),
        anonymous.get(f"{FORMS}{form.pk}/"),
        anonymous.get(f"{FORMS}{form.pk}/submissions/"),
        anonymous.post(FORMS, body(), format="json"),
        anonymous.patch(f"{FORMS}{form.pk}/", {"title": "x"}, format="json"),
        anonymous.delete(f"{FORMS}{form.pk}/"),
    ]

    for response in responses:
        assert_error(response, 401, "not_authenticated")
    assert state() == before


def test_an_admin_manages_forms_too(admin_client_api):
    response = admin_client_api.post(FORMS, body(), format="json")

    assert response.status_code == 201
    assert admin_client_api.get(f"{FORMS}404/").status_code == 404
