"""Found by fuzzing: bad input anywhere is a clear 400, never a 500."""

import json

import pytest
from django.test import Client

from leads.models import Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

DEEP = 50_000


def _body(response) -> dict:
    return json.loads(response.content)


# --- NUL characters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/scoring/rules/?kind=%00",
        "/api/v1/leads/?q=a%00b",
        "/api/v1/leads/?email=x%00@example.com",
        "/api/v1/nurturing/sequences/?search=%00",
        "/api/v1/leads/?ordering=%00",
        "/api/v1/leads/?a%00b=1",
    ],
)
def test_nul_in_a_query_parameter_is_invalid_text(admin_client_api, url):
    response = admin_client_api.get(url)

    assert response.status_code == 400
    assert _body(response)["code"] == "invalid_text"
    assert "NUL" in _body(response)["message"]


def test_nul_in_a_json_string_is_invalid_text(admin_client_api):
    body = {"email": "nul@example.com", "traits": {"a": "\u0000"}}

    response = admin_client_api.post("/api/v1/leads/", body, format="json")

    assert response.status_code == 400
    assert _body(response) == {
        "code": "invalid_text",
        "message": "The request body contains a NUL character.",
    }
    assert not Lead.objects.filter(email="nul@example.com").exists()


def test_nul_in_a_json_key_is_invalid_text(admin_client_api):
    response = admin_client_api.post(
        "/api/v1/leads/",
        '{"email": "k@example.com", "traits": {"a\\u0000": 1}}',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert _body(response)["code"] == "invalid_text"


def test_nul_in_a_page_query_is_invalid_text(admin_user):
    client = Client()
    client.force_login(admin_user)

    response = client.get("/leads/?q=%00")

    assert response.status_code == 400
    assert _body(response)["code"] == "invalid_text"


def test_nul_in_a_form_post_is_invalid_text():
    response = Client().post("/accounts/login/", {"username": "a\x00", "password": "x"})

    assert response.status_code == 400
    assert _body(response)["code"] == "invalid_text"


def test_a_lone_surrogate_in_json_is_invalid_text(admin_client_api):
    response = admin_client_api.post(
        "/api/v1/leads/",
        '{"email": "s@example.com", "traits": {"a": "\\ud800"}}',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert _body(response)["code"] == "invalid_text"


def test_ordinary_text_still_works(admin_client_api):
    response = admin_client_api.get("/api/v1/leads/?q=Zoë")

    assert response.status_code == 200


# --- deeply nested JSON -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/api/v1/leads/", "/api/v1/scoring/rules/", "/api/v1/nurturing/sequences/"]
)
def test_deeply_nested_json_is_a_400(admin_client_api, url):
    body = "[" * DEEP + "]" * DEEP

    response = admin_client_api.post(url, body, content_type="application/json")

    assert response.status_code == 400
    assert _body(response) == {
        "code": "too_deep",
        "message": "The JSON body is nested more than 100 levels deep.",
    }


def test_json_nested_up_to_the_limit_is_parsed(admin_client_api):
    # 100 levels in all: the body's object and 99 lists inside it.
    traits = {"a": json.loads("[" * 98 + "]" * 98)}
    body = {"email": "deep@example.com", "traits": traits}

    response = admin_client_api.post("/api/v1/leads/", body, format="json")

    assert response.status_code == 201, response.content


def test_json_nested_one_past_the_limit_is_refused(admin_client_api):
    traits = {"a": json.loads("[" * 99 + "]" * 99)}
    body = {"email": "deep@example.com", "traits": traits}

    response = admin_client_api.post("/api/v1/leads/", body, format="json")

    assert response.status_code == 400
    assert _body(response)["code"] == "too_deep"


def test_malformed_json_is_still_a_parse_error(admin_client_api):
    response = admin_client_api.post("/api/v1/leads/", "{", content_type="application/json")

    assert response.status_code == 400
    assert _body(response)["code"] == "parse_error"


# --- huge integers --------------------------------------------------------------------------------

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/leads/?owner={HUGE}",
        f"/api/v1/leads/?score_min={HUGE}",
        f"/api/v1/leads/?score_max=-{HUGE}",
        f"/api/v1/nurturing/enrollments/?lead={HUGE}",
        f"/api/v1/nurturing/messages/?step={HUGE}",
        f"/api/v1/nurturing/steps/?sequence={HUGE}",
    ],
)
def test_a_huge_integer_in_a_filter_is_a_400(admin_client_api, url):
    response = admin_client_api.get(url)

    assert response.status_code == 400, response.content
    assert _body(response)["code"] == "invalid"


def test_the_largest_bigint_in_a_filter_is_fine(admin_client_api):
    LeadFactory()

    response = admin_client_api.get("/api/v1/leads/?owner=9223372036854775807")

    assert response.status_code == 200
    assert _body(response)["count"] == 0


def test_one_past_the_largest_bigint_is_a_400(admin_client_api):
    response = admin_client_api.get("/api/v1/leads/?owner=9223372036854775808")

    assert response.status_code == 400


def test_a_huge_integer_in_a_page_filter_is_a_400(admin_user):
    client = Client()
    client.force_login(admin_user)

    response = client.get(f"/leads/?owner={HUGE}")

    assert response.status_code in (200, 400)
    assert response.status_code != 500


# --- huge integers in request bodies ---------------------------------------------------------

INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1
DEMO = {
    "name": "Booked a demo",
    "kind": "event",
    "event_type": "track",
    "event_name": "Demo Booked",
    "points": 25,
}


@pytest.mark.parametrize(
    "method, url, body, field",
    [
        ("post", "/api/v1/scoring/rules/", {**DEMO, "points": INT_MAX + 1}, "points"),
        ("post", "/api/v1/scoring/rules/", {**DEMO, "max_times": INT_MAX + 1}, "max_times"),
        ("put", "/api/v1/scoring/settings/", {"mql_threshold": INT_MAX + 1}, "mql_threshold"),
        ("put", "/api/v1/scoring/settings/", {"hot_at": -(INT_MAX + 2)}, "hot_at"),
        ("post", "/api/v1/nurturing/enrollments/", {"lead": BIGINT_MAX + 1}, "lead"),
        (
            "post",
            "/api/v1/handoff/rules/",
            {"name": "Big", "reps": [], "score_min": INT_MAX + 1},
            "score_min",
        ),
        ("post", "/api/v1/handoff/rules/", {"name": "Big", "reps": [BIGINT_MAX + 1]}, "reps"),
    ],
)
def test_a_number_past_its_column_is_a_400_naming_the_field(
    admin_client_api, method, url, body, field
):
    response = getattr(admin_client_api, method)(url, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]


def test_the_largest_bigint_lead_id_is_a_clean_404(admin_client_api):
    from tests.nurturing.conftest import make_sequence

    sequence = make_sequence(key="big")

    response = admin_client_api.post(
        "/api/v1/nurturing/enrollments/",
        {"lead": BIGINT_MAX, "sequence": sequence.pk},
        format="json",
    )

    assert response.status_code == 404


def test_a_huge_duplicate_number_in_the_reject_form_is_a_field_error(rep):
    from handoff.models import Rejection
    from tests.handoff.test_inbox_views import html, logged_in, waiting

    lead = waiting(rep).lead

    response = logged_in(rep).post(
        f"/leads/{lead.pk}/reject/", {"reason": "duplicate", "duplicate_of": HUGE}
    )

    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 9223372036854775807." in html(response)
    assert not Rejection.objects.exists()
