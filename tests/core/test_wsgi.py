"""The WSGI application (core/wsgi.py): the SDKs' write-key endpoints behind the shorter
machine stack, everything else behind the site's middleware.

Django's test client builds its own handler from MIDDLEWARE, so these tests call the application
itself with a WSGI environ, as gunicorn does (the SDK tests run it under gunicorn too)."""

import base64
import io
import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone

from accounts.models import Role
from core.middleware import MACHINE_CSP
from core.wsgi import SplitApplication
from events import services
from events.models import Event, SourceKind
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SITE = "https://www.example.com"


@pytest.fixture
def application():
    # As Django's test client does: the test's transaction outlives a request, so the request
    # signals must not close its connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield SplitApplication()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def call(
    application, method: str, path: str, body: bytes = b"", content_type="text/plain", **headers
):
    """(status, headers as a dict of lists, body) of one request."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": content_type,
        **{"HTTP_" + name.upper(): value for name, value in headers.items()},
    }
    answer: dict = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = {}
        for name, value in response_headers:
            answer["headers"].setdefault(name.lower(), []).append(value)

    chunks = application(environ, start_response)
    try:
        content = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return answer["status"], answer["headers"], content


@pytest.fixture
def browser_key():
    _, key = services.source_create(name="Website", kind=SourceKind.BROWSER, allowed_origins=[SITE])
    return key


def page_view(key: str) -> bytes:
    return json.dumps(
        {"writeKey": key, "anonymousId": "visitor-1", "name": "Pricing", "messageId": "m-1"}
    ).encode()


def test_a_browser_page_view_is_stored_behind_the_machine_stack(application, browser_key):
    status, headers, content = call(
        application,
        "POST",
        "/v1/p",
        page_view(browser_key),
        origin=SITE,
        authorization="Basic " + base64.b64encode(f"{browser_key}:".encode()).decode(),
    )
    assert status == 200, content
    assert json.loads(content)["accepted"] == 1
    assert headers["access-control-allow-origin"] == [SITE]
    # The machine stack's headers: a fixed policy under which nothing loads or frames...
    assert headers["content-security-policy"] == [MACHINE_CSP]
    assert headers["x-frame-options"] == ["DENY"]
    assert headers["x-content-type-options"] == ["nosniff"]  # ...and the security middleware's
    # ...and none of the site's: no session or CSRF cookie, nothing varying on the cookie.
    assert "set-cookie" not in headers
    assert "Cookie" not in ",".join(headers.get("vary", []))
    assert Event.objects.filter(anonymous_id="visitor-1", name="Pricing").count() == 1


def test_an_anonymous_call_is_refused_behind_the_machine_stack(application):
    status, headers, content = call(
        application, "POST", "/v1/p", b'{"anonymousId": "a", "name": "Pricing"}', origin=SITE
    )
    assert status == 401
    assert json.loads(content)["code"] == "invalid_write_key"
    assert headers["content-security-policy"] == [MACHINE_CSP]
    assert not Event.objects.exists()


def test_a_logged_in_session_is_no_write_key(application, client):
    """The machine stack reads no session: a marketer's log-in cookie sent to ingestion (a
    page of leadcrm's own origin posting with credentials) authorizes nothing."""
    client.force_login(UserFactory())
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    status, _, content = call(
        application, "POST", "/v1/t", b'{"anonymousId": "a", "event": "Signed Up"}', cookie=cookie
    )
    assert status == 401, content
    assert not Event.objects.exists()


def test_pages_keep_the_site_stack(application):
    status, headers, _ = call(application, "GET", "/accounts/login/")
    assert status == 200
    policy = headers["content-security-policy"][0]
    assert "'self'" in policy and policy != MACHINE_CSP  # the pages' own policy
    assert any(c.startswith(settings.CSRF_COOKIE_NAME + "=") for c in headers["set-cookie"])


def test_the_api_keeps_the_site_stack(application):
    """/api/v1/ is DRF, whose session authentication needs the site's middleware."""
    status, headers, content = call(application, "GET", "/api/v1/sources/")
    assert status in (401, 403)
    assert json.loads(content)["code"] in ("not_authenticated", "authentication_failed")
    assert headers["content-security-policy"] != [MACHINE_CSP]


def test_building_the_machine_stack_leaves_the_setting_as_it_was(settings):
    site = list(settings.MIDDLEWARE)
    application = SplitApplication()
    assert list(settings.MIDDLEWARE) == site
    assert application.machine._middleware_chain is not application.site._middleware_chain


@pytest.mark.parametrize("stack", ["machine", "public"])
def test_the_short_stacks_hold_only_views_that_need_no_log_in(stack):
    """Every URL under a machine prefix is one of ingestion's write-key views, every URL under
    a public prefix a visitor's form page: a view there that read request.user or
    request.session would break behind its shorter stack."""
    from django.urls import get_resolver

    from events import apis
    from web import views

    prefixes, allowed = {
        "machine": (
            settings.MACHINE_PATH_PREFIXES,
            {apis.segment_api, apis.segment_settings, apis.rudderstack_source_config},
        ),
        "public": (
            settings.PUBLIC_PATH_PREFIXES,
            {views.form_page, views.form_start, views.confirm},
        ),
    }[stack]
    found = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern).lstrip("^")
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns, route)
            else:
                found.append((route, pattern.callback))

    walk(get_resolver().url_patterns)
    under = [(route, view) for route, view in found if ("/" + route).startswith(prefixes)]
    assert under, f"no URL under the {stack} prefixes"
    for route, view in under:
        assert getattr(view, "__wrapped__", view) in allowed or view in allowed, route


def test_the_preflight_is_answered_behind_the_machine_stack(application, browser_key):
    status, headers, _ = call(
        application,
        "OPTIONS",
        "/v1/p",
        origin=SITE,
        access_control_request_method="POST",
        access_control_request_headers="content-type,authorization",
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == [SITE]
    assert "authorization" in headers["access-control-allow-headers"][0]
    assert "set-cookie" not in headers

    refused, _, content = call(
        application,
        "OPTIONS",
        "/v1/p",
        origin="https://evil.example",
        access_control_request_method="POST",
    )
    assert refused == 403
    assert json.loads(content)["code"] == "origin_not_allowed"


def test_a_visitor_fills_a_form_behind_the_public_stack(application):
    from tests.web.conftest import make_form
    from web import spam
    from web.models import Submission

    form = make_form(UserFactory(role=Role.MARKETER))
    status, headers, content = call(application, "GET", f"/f/{form.slug}/")
    assert status == 200 and b"<form" in content
    policy = headers["content-security-policy"][0]
    assert "'self'" in policy and policy != MACHINE_CSP  # a page: the pages' policy
    assert headers["x-frame-options"] == ["DENY"]
    assert "set-cookie" not in headers  # no session, no CSRF cookie

    token = spam.form_token(form_id=form.pk, at=timezone.now() - timedelta(seconds=10))
    body = urlencode(
        {"email": "ada@example.com", "first_name": "Ada", "consent": "yes", "leadcrm_ts": token}
    ).encode()
    status, headers, content = call(
        application, "POST", f"/f/{form.slug}/", body, accept="application/json",
        content_type="application/x-www-form-urlencoded",
    )  # fmt: skip
    assert status == 200, content
    assert json.loads(content)["status"] == "confirmed"
    assert Submission.objects.get(form=form).email == "ada@example.com"
    assert "set-cookie" not in headers


@pytest.mark.parametrize(
    "path, stack",
    [
        ("/v1/p", "machine"),
        ("/v1/batch", "machine"),
        ("/beacon/v1/batch", "machine"),
        ("/sourceConfig/", "machine"),
        ("/f/ebook/", "public"),
        ("/f/confirm/abc/", "public"),
        ("/forms/", "site"),  # the marketers' form pages: logged in
        ("/api/v1/forms/", "site"),
        ("/sources/", "site"),
        ("/", "site"),
    ],
)
def test_each_path_goes_to_its_stack(application, path, stack):
    assert application.handler_for(path) is getattr(application, stack)
