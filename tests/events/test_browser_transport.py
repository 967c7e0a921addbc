"""Browser sources over HTTP: the libraries' paths and bodies, CORS, the origin check, and the
settings documents they fetch first. (tests/pages/test_browser_sdks.py runs the libraries
themselves in Chromium.)"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events import services
from events.models import Event, Source, SourceKind
from tests.events.conftest import basic
from tests.support import assert_error

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com"
BLOG = "https://blog.example.com"


def make_source(name: str, *, kind=SourceKind.BROWSER, origins=(SHOP,)) -> tuple[Source, str]:
    source, key = services.source_create(name=name)
    Source.objects.filter(pk=source.pk).update(kind=kind, allowed_origins=list(origins))
    source.refresh_from_db()
    return source, key


@pytest.fixture
def shop(db) -> tuple[Source, str]:
    """A browser source for the shop's pages, and its public key."""
    return make_source("Shop")


@pytest.fixture
def shop_key(shop) -> str:
    return shop[1]


def page_call(key: str | None, message_id: str = "m1", **extra) -> bytes:
    """What analytics-next posts: JSON in a text/plain body, the write key inside."""
    body = {
        "type": "page",
        "name": "Pricing",
        "anonymousId": "anon-1",
        "messageId": message_id,
        "context": {"page": {"url": f"{SHOP}/pricing"}, "library": {"name": "analytics.js"}},
        **extra,
    }
    if key is not None:
        body["writeKey"] = key
    return json.dumps(body).encode()


@pytest.fixture
def send(client):
    """POST like a browser: `send(path, body, origin=SHOP, key=None)` (key: Basic auth too)."""

    def post(path, body: bytes, *, origin: str | None = SHOP, key=None, content_type="text/plain"):
        headers = {}
        if origin is not None:
            headers["Origin"] = origin
        if key is not None:
            headers["Authorization"] = basic(key)
        return client.post(path, data=body, content_type=content_type, headers=headers)

    return post


@pytest.fixture
def preflight(client):
    def options(path, *, origin: str | None = SHOP, headers="authorization,content-type"):
        extra = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": headers}
        if origin is not None:
            extra["Origin"] = origin
        return client.options(path, headers=extra)

    return options


def stored() -> list[tuple[str, str]]:
    return sorted(Event.objects.values_list("type", "name"))


# --- Preflights -----------------------------------------------------------------------------------

INGEST_PATHS = ["/v1/t", "/v1/p", "/v1/b", "/v1/track", "/v1/page", "/v1/batch", "/beacon/v1/batch"]


@pytest.mark.parametrize("path", INGEST_PATHS)
def test_preflight_from_an_allowed_origin_is_answered_for_that_origin(preflight, shop, path):
    response = preflight(path)

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert response["Access-Control-Allow-Methods"] == "POST"
    allowed = set(response["Access-Control-Allow-Headers"].split(", "))
    # Segment's and RudderStack's headers, their retries' included.
    assert {"authorization", "content-type", "x-retry-count", "anonymousid", "sentat"} <= allowed
    assert {"rsa-retry-attempt", "rsa-retry-reason", "rsa-since-last-attempt"} <= allowed
    assert response["Access-Control-Max-Age"] == "7200"
    assert "Origin" in response["Vary"]
    assert "Access-Control-Allow-Credentials" not in response  # no cookies go with events


@pytest.mark.parametrize("path", ["/sourceConfig/", "/v1/projects/wk_anything/settings"])
def test_preflight_of_a_settings_document_allows_get(preflight, shop, path):
    response = preflight(path)

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert response["Access-Control-Allow-Methods"] == "GET"


@pytest.mark.parametrize(
    "origin",
    [BLOG, "http://shop.example.com", "https://shop.example.com:8443", "null", "not an origin"],
)
def test_preflight_from_an_origin_no_source_allows_is_refused(preflight, shop, origin):
    response = preflight("/v1/t", origin=origin)

    assert_error(response, 403, "origin_not_allowed")
    assert "Access-Control-Allow-Origin" not in response


def test_preflight_is_refused_when_the_only_source_allowing_the_origin_is_disabled(preflight, shop):
    services.source_set_active(source=shop[0], active=False)

    assert_error(preflight("/v1/t"), 403, "origin_not_allowed")


def test_preflight_ignores_origins_listed_on_a_server_source(preflight, db):
    make_source("Backend", kind=SourceKind.SERVER, origins=[SHOP])

    assert_error(preflight("/v1/t"), 403, "origin_not_allowed")


def test_preflight_compares_origins_normalized(preflight, db):
    make_source("Shop", origins=["HTTPS://Shop.Example.com:443/"])

    response = preflight("/v1/t")

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP


def test_options_without_an_origin_says_what_the_path_takes(preflight, shop):
    response = preflight("/v1/t", origin=None)

    assert response.status_code == 204
    assert response["Allow"] == "POST, OPTIONS"
    assert "Access-Control-Allow-Origin" not in response


# --- Browser sources' requests --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/v1/p", "page"), ("/v1/page", "page"), ("/v1/p/", "page")],
)
def test_text_plain_body_with_the_key_inside_from_an_allowed_origin_is_stored(
    send, shop_key, path, kind
):
    response = send(path, page_call(shop_key))

    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "rejected": 0, "errors": [], "errors_total": 0}
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert response["Access-Control-Expose-Headers"] == "retry-after"
    assert "Origin" in response["Vary"]
    assert stored() == [(kind, "Pricing")]
    assert Event.objects.get().source.name == "Shop"


@pytest.mark.parametrize(
    ("letter", "body", "kind", "name"),
    [
        ("t", {"userId": "u1", "event": "Demo Requested"}, "track", "Demo Requested"),
        ("i", {"userId": "u1", "traits": {"plan": "pro"}}, "identify", ""),
        ("p", {"anonymousId": "a1", "name": "Pricing"}, "page", "Pricing"),
        ("s", {"userId": "u1", "name": "Home"}, "screen", "Home"),
        ("g", {"userId": "u1", "groupId": "acme"}, "group", ""),
        ("a", {"userId": "u1", "previousId": "a1"}, "alias", ""),
    ],
)
def test_analytics_next_short_paths_name_the_type(send, shop_key, letter, body, kind, name):
    # analytics-next posts to <apiHost>/<first letter of the type>, the type in the body too;
    # the path decides, as /v1/<type> does.
    response = send(f"/v1/{letter}", json.dumps({**body, "type": kind, "writeKey": shop_key}))

    assert response.status_code == 200, response.content
    assert stored() == [(kind, name)]


def test_analytics_next_batch_goes_to_b(send, shop_key):
    body = {
        "writeKey": shop_key,
        "batch": [
            {"type": "page", "anonymousId": "a1", "name": "Pricing", "messageId": "m1"},
            {"type": "track", "anonymousId": "a1", "event": "Demo Requested", "messageId": "m2"},
        ],
        "sentAt": "2026-03-01T12:00:00Z",
    }

    response = send("/v1/b", json.dumps(body).encode())

    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    assert stored() == [("page", "Pricing"), ("track", "Demo Requested")]


def test_rudderstack_json_call_with_basic_auth_is_stored(send, shop_key):
    body = {
        "type": "track",
        "event": "Demo Requested",
        "anonymousId": "a1",
        "messageId": "m1",
        "channel": "web",
        "originalTimestamp": "2026-03-01T11:59:00.000Z",
        "sentAt": "2026-03-01T11:59:00.000Z",
    }

    response = send(
        "/v1/track", json.dumps(body), key=shop_key, content_type="application/json;charset=UTF-8"
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert stored() == [("track", "Demo Requested")]


def test_rudderstack_beacon_batch_has_its_key_in_the_query(send, shop_key):
    body = {"batch": [{"type": "page", "anonymousId": "a1", "name": "Pricing", "messageId": "m1"}]}

    response = send(f"/beacon/v1/batch?writeKey={shop_key}", json.dumps(body).encode())

    assert response.status_code == 200
    assert stored() == [("page", "Pricing")]


@pytest.mark.parametrize(
    "origin",
    [
        None,  # no Origin: not a page of the site (a script, curl)
        BLOG,
        "http://shop.example.com",
        "https://shop.example.com:8443",
        "https://www.shop.example.com",
        "null",
    ],
)
def test_a_browser_key_from_an_origin_its_source_does_not_allow_gets_403_and_nothing_is_stored(
    send, shop_key, kicks, origin
):
    response = send("/v1/p", page_call(shop_key), origin=origin)

    body = assert_error(response, 403, "origin_not_allowed")
    if origin:
        assert origin in body["message"]
    assert "Access-Control-Allow-Origin" not in response
    assert stored() == []
    assert kicks == []


def test_a_browser_key_from_another_browser_sources_origin_gets_403(send, shop_key, preflight):
    make_source("Blog", origins=[BLOG])
    # The blog's pages pass the preflight (a source allows them), not with the shop's key.
    assert preflight("/v1/p", origin=BLOG).status_code == 204

    response = send("/v1/p", page_call(shop_key), origin=BLOG)

    assert_error(response, 403, "origin_not_allowed")
    assert stored() == []


def test_the_origin_check_covers_every_message_of_a_batch(send, shop_key):
    body = {"writeKey": shop_key, "batch": [{"type": "page", "anonymousId": "a", "name": "X"}] * 3}

    response = send("/v1/b", json.dumps(body).encode(), origin=BLOG)

    assert_error(response, 403, "origin_not_allowed")
    assert stored() == []


def test_a_browser_key_with_no_allowed_origins_is_refused_everywhere(send, db):
    _, key = make_source("Nowhere", origins=[])

    assert_error(send("/v1/p", page_call(key)), 403, "origin_not_allowed")
    assert stored() == []


def test_a_server_key_is_not_origin_checked_and_gets_no_cors_headers(send, db):
    _, key = make_source("Backend", kind=SourceKind.SERVER, origins=[])

    response = send("/v1/p", page_call(key), origin=BLOG)

    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    assert stored() == [("page", "Pricing")]


def test_a_wrong_key_from_an_allowed_origin_gets_a_401_the_page_can_read(send, shop):
    response = send("/v1/p", page_call("wk_wrong"))

    assert_error(response, 401, "invalid_write_key")
    # Readable, so the library drops the call instead of retrying a "network error".
    assert response["Access-Control-Allow-Origin"] == SHOP


def test_a_wrong_key_from_an_unknown_origin_gets_a_401_without_cors(send, shop):
    response = send("/v1/p", page_call("wk_wrong"), origin=BLOG)

    assert_error(response, 401, "invalid_write_key")
    assert "Access-Control-Allow-Origin" not in response


def test_a_malformed_call_from_an_allowed_origin_gets_a_400_the_page_can_read(send, shop_key):
    response = send("/v1/t", json.dumps({"writeKey": shop_key, "anonymousId": "a"}))

    assert_error(response, 400, "missing_event")
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert stored() == []


def queries_of(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert call().status_code == 200
    return len(captured.captured_queries)


def test_the_origin_check_costs_no_query(send, db):
    # The same call with a server key and a browser key: the check reads the source row that
    # authentication loaded anyway.
    _, server_key = make_source("Backend", kind=SourceKind.SERVER, origins=[])
    _, browser_key = make_source("Shop")
    send("/v1/p", page_call(server_key, "warm-up"), origin=None)  # one-off first queries
    send("/v1/p", page_call(browser_key, "warm-up-b"))  # (and each key's source is cached)

    server = queries_of(lambda: send("/v1/p", page_call(server_key, "m-server"), origin=None))
    browser = queries_of(lambda: send("/v1/p", page_call(browser_key, "m-browser")))

    assert browser == server


def test_a_browser_page_view_is_one_statement_once_its_source_is_cached(
    send, db, django_capture_on_commit_callbacks
):
    # What a visitor's page sends most: the event, its lead looked up and its scoring queue
    # row, all in one INSERT; the source comes from the cache, the limits from Redis, and no
    # look again after the commit (the scoring sweep links what a race left waiting).
    _, browser_key = make_source("Shop")
    _, server_key = make_source("Backend", kind=SourceKind.SERVER, origins=[])

    def counted(key, message_id, origin=SHOP):
        with (
            CaptureQueriesContext(connection) as captured,
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert send("/v1/p", page_call(key, message_id), origin=origin).status_code == 200
        return len(captured.captured_queries)

    first = counted(browser_key, "m-1")
    then = [counted(browser_key, "m-2"), counted(browser_key, "m-3")]
    server = [counted(server_key, "s-1", None), counted(server_key, "s-2", None)]

    assert (first, then) == (2, [1, 1])  # the source's lookup once, then the INSERT alone
    assert server == [3, 2]  # a server key's event is looked at again after its commit


def test_a_write_key_still_reads_nothing_on_the_short_paths(client, shop_key):
    response = client.get("/v1/t", headers={"Origin": SHOP})

    assert_error(response, 405, "method_not_allowed")


# --- The settings documents -----------------------------------------------------------------------


@pytest.fixture
def site_url(settings) -> str:
    settings.SITE_URL = "https://crm.example.com"
    return settings.SITE_URL


def get_settings(client, key: str, *, origin: str | None = SHOP):
    headers = {"Origin": origin} if origin else {}
    return client.get(f"/v1/projects/{key}/settings", headers=headers)


def test_segment_settings_point_analytics_next_at_leadcrm(client, shop_key, site_url):
    response = get_settings(client, shop_key)

    assert response.status_code == 200
    segmentio = response.json()["integrations"]["Segment.io"]
    assert (segmentio["apiKey"], segmentio["apiHost"], segmentio["protocol"]) == (
        shop_key,
        "crm.example.com/v1",
        "https",
    )
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert response["Cache-Control"] == "max-age=300"
    assert "Origin" in response["Vary"]


def test_segment_settings_of_an_unknown_key_are_404(client, shop):
    response = get_settings(client, "wk_unknown")

    assert_error(response, 404, "not_found")
    assert response["Access-Control-Allow-Origin"] == SHOP  # readable: the library says why


def test_segment_settings_of_a_server_key_are_404(client, db):
    # A secret key has no business in a web page.
    _, key = make_source("Backend", kind=SourceKind.SERVER, origins=[SHOP])

    assert_error(get_settings(client, key), 404, "not_found")


def test_segment_settings_of_a_disabled_source_are_404(client, shop):
    services.source_set_active(source=shop[0], active=False)

    assert_error(get_settings(client, shop[1]), 404, "not_found")


@pytest.mark.parametrize("origin", [None, BLOG])
def test_segment_settings_for_an_origin_the_source_does_not_allow_are_403(client, shop_key, origin):
    response = get_settings(client, shop_key, origin=origin)

    assert_error(response, 403, "origin_not_allowed")
    assert "Access-Control-Allow-Origin" not in response


def test_segment_settings_are_read_only(client, shop_key):
    response = client.post(f"/v1/projects/{shop_key}/settings", headers={"Origin": SHOP})

    assert_error(response, 405, "method_not_allowed")


def test_rudderstack_source_config_takes_the_key_as_basic_auth(client, shop):
    source, key = shop

    response = client.get(
        "/sourceConfig/?p=npm&v=3.34.1&build=modern&writeKey=" + key,
        headers={"Origin": SHOP, "Authorization": basic(key)},
    )

    assert response.status_code == 200
    config = response.json()["source"]
    assert (config["id"], config["writeKey"], config["destinations"]) == (str(source.pk), key, [])
    assert response["Access-Control-Allow-Origin"] == SHOP


def test_rudderstack_source_config_takes_the_key_from_the_query(client, shop_key):
    response = client.get(f"/sourceConfig?writeKey={shop_key}", headers={"Origin": SHOP})

    assert response.status_code == 200
    assert response.json()["source"]["writeKey"] == shop_key


def test_rudderstacks_ad_blocker_probe_is_answered(client, shop_key):
    # With sendAdblockPage, the library sends HEAD <configUrl>/sourceConfig/?view=ad.
    response = client.head(
        "/sourceConfig/?view=ad", headers={"Origin": SHOP, "Authorization": basic(shop_key)}
    )

    assert response.status_code == 200


def test_rudderstack_source_config_without_a_key_is_404(client, shop):
    assert_error(client.get("/sourceConfig/", headers={"Origin": SHOP}), 404, "not_found")


def test_rudderstack_source_config_for_another_origin_is_403(client, shop_key):
    response = client.get(
        "/sourceConfig/", headers={"Origin": BLOG, "Authorization": basic(shop_key)}
    )

    assert_error(response, 403, "origin_not_allowed")
    assert "Access-Control-Allow-Origin" not in response
