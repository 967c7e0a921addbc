"""The Content Security Policy: one strict policy for the site, the exceptions named."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

SITE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
)
TEMPLATES = Path(settings.BASE_DIR) / "templates"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "path",
    ["/accounts/login/", "/", "/leads/", "/leads/{id}/", "/admin/", "/api/docs/", "/api/schema/"],
)
def test_pages_carry_the_site_policy(admin_user, path):
    lead = LeadFactory()

    response = logged_in(admin_user).get(path.format(id=lead.pk))

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == SITE_POLICY


def test_api_docs_load_their_start_script_from_a_url_not_inline(client):
    html = client.get("/api/docs/").content.decode()

    sidecar = "/static/drf_spectacular_sidecar/swagger-ui-dist"
    assert re.findall(r"<script[^>]*>", html) == [
        f'<script src="{sidecar}/swagger-ui-bundle.js">',
        f'<script src="{sidecar}/swagger-ui-standalone-preset.js">',
        '<script src="/api/docs/?script=">',
    ]
    assert "<style" not in html
    script = client.get("/api/docs/?script=")
    assert script["Content-Type"] == "application/javascript"
    assert b"SwaggerUIBundle(" in script.content


def test_browsable_api_allows_inline_styles_and_still_no_inline_scripts(marketer):
    response = logged_in(marketer).get("/api/v1/leads/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == SITE_POLICY.replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    )


def test_json_answers_keep_the_site_policy(marketer):
    response = logged_in(marketer).get("/api/v1/leads/", HTTP_ACCEPT="application/json")

    assert response["Content-Security-Policy"] == SITE_POLICY


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda path: str(path.relative_to(TEMPLATES))
)
def test_our_templates_have_no_inline_script_or_style(template):
    source = template.read_text()

    assert not re.search(r"\sstyle=", source), "a style= attribute"
    assert "<style" not in source
    assert not re.search(r"<script(?![^>]*\ssrc=)", source), "an inline <script>"
    assert not re.search(r"\son[a-z]+=", source), "an on...= event handler"
    assert "javascript:" not in source


def test_htmx_is_vendored_with_its_licence():
    folder = Path(settings.BASE_DIR) / "static" / "vendor" / "htmx-2.0.11"

    assert 'version:"2.0.11"' in (folder / "htmx.min.js").read_text()
    assert (folder / "LICENSE").read_text().startswith("Zero-Clause BSD")
