"""Errors Django answers before (or after) a DRF view are JSON under /api/ and /v1/ too, and the
schema documents the API's error shape."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_an_id_that_does_not_fit_the_url_is_a_json_404(admin_client_api):
    response = admin_client_api.get("/api/v1/sources/abc/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "message": "Not found."}


def test_a_page_that_does_not_exist_is_still_an_html_404(admin_user):
    client = Client()
    client.force_login(admin_user)

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_too_many_form_fields_is_a_json_400(admin_client_api, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    body = "&".join(f"f{n}=1" for n in range(5))

    response = admin_client_api.post(
        "/api/v1/leads/", body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert response.json() == {"code": "bad_request", "message": "Bad request."}


def test_a_server_error_under_the_api_is_json_without_detail(monkeypatch, admin_user):
    from leads import apis

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(apis.LeadViewSet, "list", broken)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)

    response = client.get("/api/v1/leads/")

    assert response.status_code == 500
    assert response.json() == {
        "code": "server_error",
        "message": "The server failed to answer; the error is logged.",
    }
    assert b"secret" not in response.content


def test_the_schema_documents_the_error_shape_for_every_operation(anonymous):
    schema = anonymous.get("/api/schema/?format=json").json()

    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "message"]
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert len(operations) > 50
    for operation in operations:
        for status in ("400", "401", "403", "404", "429", "default"):
            content = operation["responses"][status]["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/Error"}
