"""The real browser SDKs, from their npm packages, on a website of another origin.

Segment's analytics-next and RudderStack's analytics-js (the versions pinned in
tests/js/package.json, installed by `npm ci --prefix tests/js`) run unchanged in Chromium on a
page served by a small static server on its own port: a second origin, as a customer's website
is. They fetch their settings from leadcrm, pass its CORS preflights and send a page view of
"Pricing", an identify with an email and a track; the lead then has the events and, once
scoring has run, the default playbook's points. A page on an origin the source does not allow
gets nothing stored.
"""

import json
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from django.http import JsonResponse

from core import hooks
from events import apis, buffer, sdkconfig
from events import services as event_services
from events.models import Event, Source, SourceKind
from leads.models import Lead
from playbook.scoring import playbook_load
from scoring.services import backlog_score
from tests.conftest import require_service
from tests.support import ROOT, MemorySite, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NODE_MODULES = ROOT / "tests" / "js" / "node_modules"
SITE = ROOT / "tests" / "js" / "site"
# The browser bundles the npm packages ship (no CDN anywhere: the page's own origin serves them).
LIBRARIES = {
    "segment": ("@segment/analytics-next/dist/umd/index.js", "segment.js"),
    "rudderstack": (
        "@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js",
        "rudderstack.js",
    ),
}
# The default playbook: "Viewed the pricing page" 10, "Requested a demo" 30.
POINTS = 40


@pytest.fixture
def recorded_kicks(monkeypatch) -> list:
    """Ingestion's after-commit `events_recorded` calls, recorded: scoring runs when the test
    says (backlog_score), with no broker or worker behind it."""
    calls: list = []
    monkeypatch.setattr(hooks.events_recorded, "_receivers", [calls.append])
    return calls


@pytest.fixture
def sdk_files() -> dict[str, tuple[bytes, str]]:
    """The libraries' bundles and the pages' scripts, as a website would serve them."""
    require_service(
        "the browser SDKs' npm packages (npm ci --prefix tests/js)", NODE_MODULES.exists()
    )
    files = {}
    for name, (bundle, script) in LIBRARIES.items():
        files[f"/vendor/{name}.js"] = ((NODE_MODULES / bundle).read_bytes(), "text/javascript")
        files[f"/{script}"] = ((SITE / script).read_bytes(), "text/javascript")
    return files


@pytest.fixture
def website(sdk_files) -> Iterator[Callable[..., MemorySite]]:
    """`website()`: a static site on an origin of its own, serving the SDK pages."""
    sites: list[MemorySite] = []

    def start() -> MemorySite:
        site = MemorySite(dict(sdk_files))
        sites.append(site)
        return site

    yield start
    for site in sites:
        site.stop()


def browser_source(*origins: str, name: str = "Website") -> tuple[Source, str]:
    """A browser source allowing `origins`, and its (public) write key."""
    source, key = event_services.source_create(name=name)
    Source.objects.filter(pk=source.pk).update(
        kind=SourceKind.BROWSER, allowed_origins=list(origins)
    )
    source.refresh_from_db()
    return source, key


def sdk_page(site: MemorySite, library: str, config: dict) -> str:
    """Put a page using `library` with `config` on `site`; returns its URL."""
    html = (SITE / "page.html").read_text()
    html = html.replace("@CONFIG@", json.dumps(config).replace("</", "<\\/"))
    html = html.replace("@LIBRARY@", f"/vendor/{library}.js")
    html = html.replace("@SCRIPT@", f"/{LIBRARIES[library][1]}")
    path = f"/{library}.html"
    site.files[path] = (html.encode(), "text/html; charset=utf-8")
    return site.origin + path


@pytest.fixture
def default_playbook(db):
    """The default scoring rules (playbook/scoring.py); the test scores with backlog_score."""
    playbook_load()


def events_of(source: Source) -> list[tuple[str, str]]:
    return sorted(Event.objects.filter(source=source).values_list("type", "name"))


SENT = [("identify", ""), ("page", "Pricing"), ("track", "Demo Requested")]


def pump(page) -> Callable[[], object]:
    """Let Playwright deliver the browser's events (requests, console) while a test waits:
    its sync API dispatches them only inside its own calls."""
    return lambda: page.wait_for_timeout(50)


def assert_lead_got_events_and_points(
    page, source: Source, email: str, on_tick: Callable[[], object] | None = None
) -> Lead:
    on_tick = on_tick or pump(page)
    stored = wait_for(lambda: len(events_of(source)) >= 3, timeout=15, on_tick=on_tick)
    assert stored, events_of(source)
    assert events_of(source) == SENT
    lead = Lead.objects.get()
    assert lead.email == email
    # The anonymous page view, sent before identify, joined the lead once identify linked it.
    linked = wait_for(
        lambda: not Event.objects.filter(lead=None).exists(), timeout=5, on_tick=on_tick
    )
    assert linked
    page.wait_for_timeout(100)  # the last request events reach the test
    assert set(Event.objects.values_list("lead_id", flat=True)) == {lead.pk}
    backlog_score(lead_ids=[lead.pk])
    lead.refresh_from_db()
    assert lead.score == POINTS
    return lead


def refusals_logged(console, fragment: str) -> int:
    """How many of the browser's console errors contain `fragment` (Chromium logs every
    refused request and CORS block), taken off the list: this test expects them, and the
    browser fixtures fail a test on any console error left."""
    expected = [error for error in console.errors if fragment in error]
    console.errors[:] = [error for error in console.errors if fragment not in error]
    return len(expected)


def posts_to(page, server: str) -> list[str]:
    """The paths the page will POST to on `server`, in order (preflights are not shown)."""
    paths: list[str] = []

    def record(request) -> None:
        if request.method == "POST" and request.url.startswith(server):
            paths.append(urlsplit(request.url).path)

    page.on("request", record)
    return paths


@pytest.fixture
def first_post_throttled(monkeypatch) -> list[dict]:
    """The first ingestion request is answered 429 with Retry-After: 1 (and the CORS headers
    an allowed origin gets) before anything is stored, as a rate limit answers; the others go
    through. Records each request's headers, to see what the libraries' retries send."""
    seen: list[dict] = []
    real = apis._ingest

    def ingest(request, kind):
        seen.append(dict(request.headers))
        if len(seen) > 1:
            return real(request, kind)
        response = JsonResponse({"code": "rate_limited", "message": "Slow down."}, status=429)
        response["Retry-After"] = "1"
        return response, None

    monkeypatch.setattr(apis, "_ingest", ingest)
    return seen


SEGMENT_DELIVERY = {
    # One request a call, text/plain with the key in the body (and as Basic auth).
    "standard": ({}, ["/v1/p", "/v1/i", "/v1/t"]),
    # Batched: /v1/b, flushed after 3 calls (or half a second).
    "batching": (
        {
            "integrations": {
                "Segment.io": {
                    "deliveryStrategy": {
                        "strategy": "batching",
                        "config": {"size": 3, "timeout": 500},
                    }
                }
            }
        },
        ["/v1/b"],
    ),
}


def segment_config(key: str, leadcrm: str, **extra) -> dict:
    return {
        "writeKey": key,
        "leadcrm": leadcrm,
        "userId": "user-1",
        "traits": {"email": "ada@example.com", "firstName": "Ada"},
        **extra,
    }


@pytest.mark.parametrize("delivery", SEGMENT_DELIVERY)
def test_segment_analytics_next_on_another_origin_feeds_the_lead(
    new_page, live_server, settings, website, recorded_kicks, default_playbook, delivery
):
    settings.SITE_URL = live_server.url  # where the settings document sends the library
    site = website()
    source, key = browser_source(site.origin)
    options, paths = SEGMENT_DELIVERY[delivery]
    page = new_page()
    posted = posts_to(page, live_server.url)

    page.goto(sdk_page(site, "segment", segment_config(key, live_server.url, options=options)))

    lead = assert_lead_got_events_and_points(page, source, "ada@example.com")
    assert lead.first_name == "Ada"
    assert posted == paths
    track = Event.objects.get(type="track")
    assert track.context["library"]["name"] == "analytics.js"
    assert track.context["page"]["url"] == f"{site.origin}/segment.html"
    assert track.properties == {"seats": 12}
    page.wait_for_selector("body[data-sent=yes]")


def test_segment_analytics_next_retries_a_429_and_the_retry_passes_cors(
    new_page,
    console,
    live_server,
    settings,
    website,
    recorded_kicks,
    default_playbook,
    first_post_throttled,
):
    settings.SITE_URL = live_server.url
    site = website()
    source, key = browser_source(site.origin)
    page = new_page()
    posted = posts_to(page, live_server.url)

    page.goto(sdk_page(site, "segment", segment_config(key, live_server.url)))

    assert_lead_got_events_and_points(page, source, "ada@example.com")
    assert posted.count("/v1/p") == 2  # refused once, then sent again
    retries = [headers for headers in first_post_throttled if "X-Retry-Count" in headers]
    assert [r["X-Retry-Count"] for r in retries] == ["1"]  # a header the preflight allows
    assert refusals_logged(console, "status of 429") == 1


RUDDERSTACK_DELIVERY = {
    # One XHR a call, application/json with the key as Basic auth.
    "xhr": ({}, ["/v1/page", "/v1/identify", "/v1/track"]),
    # Batched: /v1/batch, 3 events or half a second.
    "batching": (
        {"queueOptions": {"batch": {"enabled": True, "maxItems": 3, "flushInterval": 500}}},
        ["/v1/batch"],
    ),
    # navigator.sendBeacon: /beacon/v1/batch?writeKey=..., a text/plain body, no preflight.
    "beacon": (
        {"useBeacon": True, "beaconQueueOptions": {"maxItems": 3, "flushQueueInterval": 500}},
        ["/beacon/v1/batch"],
    ),
}


def rudderstack_config(key: str, leadcrm: str, **extra) -> dict:
    # No userId: an anonymous visitor who gives an email.
    return {
        "writeKey": key,
        "leadcrm": leadcrm,
        "traits": {"email": "grace@example.com", "firstName": "Grace"},
        **extra,
    }


@pytest.mark.parametrize("delivery", RUDDERSTACK_DELIVERY)
def test_rudderstack_analytics_js_on_another_origin_feeds_the_lead(
    new_page, live_server, website, recorded_kicks, default_playbook, delivery
):
    site = website()
    source, key = browser_source(site.origin)
    options, paths = RUDDERSTACK_DELIVERY[delivery]
    page = new_page()
    posted = posts_to(page, live_server.url)

    page.goto(
        sdk_page(site, "rudderstack", rudderstack_config(key, live_server.url, options=options))
    )

    lead = assert_lead_got_events_and_points(page, source, "grace@example.com")
    assert lead.first_name == "Grace"
    assert sorted(posted) == sorted(paths)  # one XHR each, in whichever order they finish
    track = Event.objects.get(type="track")
    assert track.context["library"]["name"] == "RudderLabs JavaScript SDK"
    assert track.properties == {"seats": 12}


def test_rudderstack_analytics_js_retries_a_429_and_the_retry_passes_cors(
    new_page, console, live_server, website, recorded_kicks, default_playbook, first_post_throttled
):
    site = website()
    source, key = browser_source(site.origin)
    page = new_page()
    posted = posts_to(page, live_server.url)

    page.goto(sdk_page(site, "rudderstack", rudderstack_config(key, live_server.url)))

    assert_lead_got_events_and_points(page, source, "grace@example.com")
    assert len(posted) == 4  # three calls, the refused one sent again
    retries = [headers for headers in first_post_throttled if "Rsa-Retry-Attempt" in headers]
    assert [r["Rsa-Retry-Attempt"] for r in retries] == ["1"]  # headers the preflight allows
    assert {"Rsa-Retry-Reason", "Rsa-Since-First-Attempt"} <= set(retries[0])
    assert refusals_logged(console, "status of 429") == 1


# --- Origins a source does not allow --------------------------------------------------------------


@pytest.mark.services
@pytest.mark.parametrize("library", ["segment", "rudderstack"])
def test_the_sdks_calls_through_the_event_buffer_reach_the_lead(
    new_page, live_server, settings, website, recorded_kicks, default_playbook, redis_url,
    published, library
):  # fmt: skip
    """As in production, where the buffer is on (events/buffer.py): the page view and the track
    are accepted into Redis and stored when the buffer drains (the worker's task, kicked by the
    first row: run here by the test as it waits), identify before the answer."""
    settings.INGEST_BROWSER_BUFFER = True
    settings.SITE_URL = live_server.url
    site = website()
    source, key = browser_source(site.origin)
    page = new_page()
    drained: list[int] = []

    def drain_while_waiting() -> None:
        page.wait_for_timeout(50)
        drained.append(event_services.events_buffer_drain())

    if library == "segment":
        config, email = segment_config(key, live_server.url), "ada@example.com"
    else:
        config, email = rudderstack_config(key, live_server.url), "grace@example.com"
    page.goto(sdk_page(site, library, config))

    assert_lead_got_events_and_points(page, source, email, on_tick=drain_while_waiting)
    assert sum(drained) == 2  # the page view and the track came through the buffer
    assert (buffer.DRAIN_TASK, ()) in published
    assert buffer.waiting() == 0


def inline_settings(library: str, key: str, source: Source, leadcrm: str) -> dict:
    """The settings the library would fetch, given to it inline instead: it goes straight to
    sending, so the refusal met is the one of the events themselves."""
    if library == "segment":
        return {"cdnSettings": sdkconfig.segment_settings(write_key=key, site_url=leadcrm)}
    return {
        "sourceConfig": sdkconfig.rudderstack_source_config(
            source_id=source.pk, name=source.name, write_key=key
        )
    }


def page_config(library: str, key: str, leadcrm: str, **extra) -> dict:
    if library == "segment":
        return segment_config(key, leadcrm, **extra)
    return rudderstack_config(key, leadcrm, **extra)


@pytest.fixture
def origin_refusals(monkeypatch) -> list[str]:
    """The paths of the requests leadcrm refused for their origin (403 origin_not_allowed):
    a browser hides a refused answer from the page, and from Playwright too."""
    refused: list[str] = []
    real = apis._check_origin

    def check(request, source):
        try:
            real(request, source)
        except apis.HttpError:
            refused.append(request.path)
            raise

    monkeypatch.setattr(apis, "_check_origin", check)
    return refused


# What Chromium and the libraries log when leadcrm refuses a page's request.
REFUSAL_LOGS = (
    "blocked by CORS policy",
    "Failed to load resource",
    "Failed to fetch",  # analytics-next, its settings refused
    "Failed to fetch the source config",  # analytics-js, its config refused
    "Failed to deliver event",  # analytics-js, an event refused
)


def blocked_by_cors(console) -> int:
    """How many requests the browser blocked for CORS. Every console error must be one of
    the refusals' (taken off the list, which the browser fixtures check)."""
    unexpected = [e for e in console.errors if not any(f in e for f in REFUSAL_LOGS)]
    blocked = sum("blocked by CORS policy" in e for e in console.errors)
    console.errors[:] = unexpected
    return blocked


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("settings_from", ["leadcrm", "inline"])
def test_a_page_on_an_origin_no_source_allows_gets_nothing_stored(
    new_page,
    console,
    live_server,
    settings,
    website,
    recorded_kicks,
    origin_refusals,
    library,
    settings_from,
):
    settings.SITE_URL = live_server.url
    allowed, elsewhere = website(), website()
    source, key = browser_source(allowed.origin)
    extra = {}
    if settings_from == "inline":
        extra = inline_settings(library, key, source, live_server.url)
    page = new_page()

    page.goto(sdk_page(elsewhere, library, page_config(library, key, live_server.url, **extra)))

    # Its settings request is refused (Segment's: a 403 without CORS headers; RudderStack's:
    # at its preflight), or, with settings inline, the preflight of each of the three events.
    expected = 1 if settings_from == "leadcrm" else 3
    blocked: list[int] = []
    assert wait_for(
        lambda: blocked.append(blocked_by_cors(console)) or sum(blocked) >= expected,
        timeout=10,
        on_tick=pump(page),
    ), blocked
    assert Event.objects.count() == 0
    assert Lead.objects.count() == 0
    assert recorded_kicks == []
    segment_settings_fetched = library == "segment" and settings_from == "leadcrm"
    assert origin_refusals == ([f"/v1/projects/{key}/settings"] if segment_settings_fetched else [])


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_key_sent_from_an_origin_its_own_source_does_not_allow_gets_403(
    new_page, console, live_server, settings, website, recorded_kicks, origin_refusals, library
):
    settings.SITE_URL = live_server.url
    site_a, site_b = website(), website()
    source_a, key_a = browser_source(site_a.origin, name="Site A")
    browser_source(site_b.origin, name="Site B")  # so site B's preflights are answered
    config = page_config(
        library,
        key_a,
        live_server.url,
        **inline_settings(library, key_a, source_a, live_server.url),
    )
    page = new_page()

    page.goto(sdk_page(site_b, library, config))

    # Each event passes its preflight (site B is some source's origin) and is refused with 403
    # when leadcrm sees whose key it carries, before anything is stored. (Wait for each path:
    # the SDK may send a refused call again, seeing a network error, before the next one.)
    paths = {
        "segment": {"/v1/p", "/v1/i", "/v1/t"},
        "rudderstack": {"/v1/page", "/v1/identify", "/v1/track"},
    }
    assert wait_for(lambda: set(origin_refusals) >= paths[library], timeout=10, on_tick=pump(page))
    assert set(origin_refusals) == paths[library]
    assert Event.objects.count() == 0
    assert Lead.objects.count() == 0
    assert recorded_kicks == []
    page.wait_for_timeout(200)
    assert blocked_by_cors(console) >= 3  # the 403 carries no Access-Control-Allow-Origin
