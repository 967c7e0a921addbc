"""Abuse limits on ingestion: per-source and per-address rate limits (429 + Retry-After), the
batch message cap, and the capped error list."""

import gzip
import json
import re

import pytest

from events.models import Event, Source, SourceKind
from tests.events.conftest import basic
from tests.support import assert_error, free_port

pytestmark = pytest.mark.django_db

START = 1_800_000_000.0  # the rate_clock fixture's start: the first instant of a minute


def track(message_id: str) -> dict:
    return {"userId": "u1", "event": "Signed Up", "messageId": message_id}


def stored() -> list[str]:
    return sorted(Event.objects.values_list("message_id", flat=True))


@pytest.fixture
def browser_source(source):
    Source.objects.filter(pk=source.pk).update(
        kind=SourceKind.BROWSER, allowed_origins=[SITE_ORIGIN]
    )
    return Source.objects.get(pk=source.pk)


# The website a browser source allows (browser keys' requests carry its Origin).
SITE_ORIGIN = "https://www.example.com"


def send(client, key, message_id, *, ip="203.0.113.9", in_body=False, **headers):
    body = {**track(message_id), **({"writeKey": key} if in_body else {})}
    if not in_body:
        headers["HTTP_AUTHORIZATION"] = basic(key)
    headers.setdefault("HTTP_ORIGIN", SITE_ORIGIN)
    return client.post(
        "/v1/track",
        data=json.dumps(body),
        content_type="application/json",
        REMOTE_ADDR=ip,
        **headers,
    )


def assert_rate_limited(response, retry_after: int, what: str) -> None:
    body = assert_error(response, 429, "rate_limited")
    assert response["Retry-After"] == str(retry_after)
    assert response["X-RateLimit-Reset"] == str(retry_after)
    assert body["message"] == (
        f"Too many requests {what}: at most {body_limit(body)} a minute. Retry in {retry_after} s."
    )


def body_limit(body) -> int:
    return int(re.search(r"at most (\d+)", body["message"]).group(1))


# --- Per source ---------------------------------------------------------------------------------


@pytest.mark.services
def test_a_source_over_its_own_limit_gets_429_with_retry_after_and_nothing_stored(
    client, redis_url, rate_clock, write_key, source
):
    Source.objects.filter(pk=source.pk).update(rate_limit_per_minute=3)

    allowed = [send(client, write_key, f"m{i}").status_code for i in range(3)]
    rate_clock.now = START + 15
    refused = send(client, write_key, "m3")

    assert allowed == [200, 200, 200]
    assert_rate_limited(refused, 45, "for this write key")
    assert refused.json()["message"].startswith("Too many requests for this write key: at most 3")
    assert stored() == ["m0", "m1", "m2"]


@pytest.mark.services
def test_a_throttled_source_is_served_again_once_the_minute_is_over(
    client, redis_url, rate_clock, write_key, source
):
    Source.objects.filter(pk=source.pk).update(rate_limit_per_minute=1)
    send(client, write_key, "m0")
    rate_clock.now = START + 59.5
    last_instant = send(client, write_key, "m1")
    rate_clock.now = START + 60

    again = send(client, write_key, "m2")

    assert_rate_limited(last_instant, 1, "for this write key")
    assert again.status_code == 200
    assert stored() == ["m0", "m2"]


@pytest.mark.services
def test_a_server_source_without_its_own_limit_has_the_server_default(
    client, redis_url, rate_clock, settings, write_key
):
    settings.INGEST_SERVER_RATE_PER_MINUTE = 2
    settings.INGEST_BROWSER_IP_RATE_PER_MINUTE = 1  # not for server keys

    statuses = [send(client, write_key, f"m{i}").status_code for i in range(3)]

    assert statuses == [200, 200, 429]


def test_the_server_default_leaves_bench_ingest_unthrottled(settings):
    # bench/ingest.py sends ~127 requests/s of 100 events (12,670 events/s measured) plus a
    # replay every 10th request: about 8,400 requests a minute, well under the default.
    assert settings.INGEST_SERVER_RATE_PER_MINUTE == 60_000
    assert settings.INGEST_BROWSER_RATE_PER_MINUTE == 3_000
    assert settings.INGEST_BROWSER_IP_RATE_PER_MINUTE == 300
    assert settings.INGEST_BATCH_MAX_MESSAGES == 500


@pytest.mark.services
def test_a_browser_source_without_its_own_limit_has_the_browser_default(
    client, redis_url, rate_clock, settings, write_key, browser_source
):
    settings.INGEST_BROWSER_RATE_PER_MINUTE = 2
    settings.INGEST_SERVER_RATE_PER_MINUTE = 100

    statuses = [send(client, write_key, f"m{i}", ip=f"198.51.100.{i}") for i in range(3)]

    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert_rate_limited(statuses[2], 60, "for this write key")


@pytest.mark.services
def test_a_write_key_in_the_body_is_throttled_too(client, redis_url, rate_clock, write_key, source):
    Source.objects.filter(pk=source.pk).update(rate_limit_per_minute=1)

    statuses = [send(client, write_key, f"m{i}", in_body=True).status_code for i in range(2)]

    assert statuses == [200, 429]
    assert stored() == ["m0"]


@pytest.mark.services
def test_a_throttled_request_is_refused_before_its_body_is_parsed(
    client, redis_url, rate_clock, write_key, source
):
    Source.objects.filter(pk=source.pk).update(rate_limit_per_minute=1)
    send(client, write_key, "m0")

    response = client.post(
        "/v1/batch",
        data=b"{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(write_key),
    )

    assert_error(response, 429, "rate_limited")


# --- Per client address (browser keys) ----------------------------------------------------------


@pytest.mark.services
def test_a_browser_key_is_also_limited_per_client_address(
    client, redis_url, rate_clock, settings, write_key, browser_source
):
    settings.INGEST_BROWSER_IP_RATE_PER_MINUTE = 2

    same = [send(client, write_key, f"a{i}", ip="203.0.113.9") for i in range(3)]
    other = send(client, write_key, "b0", ip="203.0.113.10")

    assert [r.status_code for r in same] == [200, 200, 429]
    assert_rate_limited(same[2], 60, "from this address")
    assert other.status_code == 200
    assert stored() == ["a0", "a1", "b0"]


@pytest.mark.services
def test_an_ipv6_client_cannot_escape_its_limit_by_rotating_through_its_64(
    client, redis_url, rate_clock, settings, write_key, browser_source
):
    settings.INGEST_BROWSER_IP_RATE_PER_MINUTE = 2

    statuses = [
        send(client, write_key, f"m{i}", ip=f"2001:db8:1:2::{i + 1}").status_code for i in range(3)
    ]

    assert statuses == [200, 200, 429]


@pytest.mark.services
def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(
    client, redis_url, rate_clock, settings, write_key, browser_source
):
    settings.INGEST_BROWSER_IP_RATE_PER_MINUTE = 1
    settings.TRUSTED_PROXY_HOPS = 1

    first = send(client, write_key, "m0", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1")
    second = send(client, write_key, "m1", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.2")
    spoofed = send(
        client, write_key, "m2", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.1"
    )

    assert (first.status_code, second.status_code, spoofed.status_code) == (200, 200, 429)


@pytest.mark.services
def test_server_keys_are_not_limited_per_address(
    client, redis_url, rate_clock, settings, write_key, source
):
    settings.INGEST_BROWSER_IP_RATE_PER_MINUTE = 1

    statuses = [send(client, write_key, f"m{i}").status_code for i in range(3)]

    assert statuses == [200, 200, 200]


# --- Without Redis, or with Redis down: never a failure ---------------------------------------


def test_without_redis_the_limits_are_off(client, settings, rate_clock, write_key, source):
    settings.REDIS_URL = ""
    Source.objects.filter(pk=source.pk).update(rate_limit_per_minute=1)

    statuses = [send(client, write_key, f"m{i}").status_code for i in range(3)]

    assert statuses == [200, 200, 200]
    assert stored() == ["m0", "m1", "m2"]


def test_redis_down_never_fails_ingestion(client, settings, rate_clock, write_key, source):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    Source.objects.filter(pk=source.pk).update(rate_limit_per_minute=1)

    statuses = [send(client, write_key, f"m{i}").status_code for i in range(3)]

    assert statuses == [200, 200, 200]
    assert stored() == ["m0", "m1", "m2"]


# --- The batch cap and the error list -----------------------------------------------------------


def gzipped_zeros(count: int) -> bytes:
    return gzip.compress(b'{"batch": [' + b",".join([b"0"] * count) + b"]}", compresslevel=9)


def post_gzip(client, key, data: bytes):
    return client.post(
        "/v1/batch",
        data=data,
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(key),
        HTTP_CONTENT_ENCODING="gzip",
    )


def test_a_tiny_gzip_of_250000_zeros_gets_a_small_answer(client, write_key):
    bomb = gzipped_zeros(250_000)
    assert len(bomb) < 1_000  # about 550 bytes, inflating to 500,011

    response = post_gzip(client, write_key, bomb)

    body = assert_error(response, 400, "batch_too_large")
    assert body["message"] == "A batch may hold at most 500 messages; this one holds 250000."
    assert len(response.content) < 200
    assert stored() == []


def test_a_batch_at_the_cap_is_taken_and_one_more_is_refused(client, write_key, settings):
    at_cap = {"batch": [{"type": "track", **track(f"m{i}")} for i in range(500)]}
    over = {"batch": [{"type": "track", **track(f"n{i}")} for i in range(501)]}

    taken = post_gzip(client, write_key, gzip.compress(json.dumps(at_cap).encode()))
    refused = post_gzip(client, write_key, gzip.compress(json.dumps(over).encode()))

    assert taken.status_code == 200
    assert taken.json()["accepted"] == 500
    assert_error(refused, 400, "batch_too_large")
    assert Event.objects.count() == 500
    assert not Event.objects.filter(message_id__startswith="n").exists()


def test_the_cap_is_a_setting(client, write_key, settings):
    settings.INGEST_BATCH_MAX_MESSAGES = 2

    response = post_gzip(client, write_key, gzipped_zeros(3))

    assert_error(response, 400, "batch_too_large")


def test_a_rejected_batch_lists_its_first_100_errors_and_their_total(client, write_key):
    response = post_gzip(client, write_key, gzipped_zeros(500))

    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"], body["errors_total"]) == (0, 500, 500)
    assert [error["index"] for error in body["errors"]] == list(range(100))
    assert {error["code"] for error in body["errors"]} == {"not_an_object"}
    assert len(response.content) < 10_000


def test_a_batch_with_some_errors_lists_them_all(client, write_key):
    batch = {"batch": [{"type": "track", **track("ok")}, 0, 1]}

    response = post_gzip(client, write_key, gzip.compress(json.dumps(batch).encode()))

    body = response.json()
    assert (body["accepted"], body["rejected"], body["errors_total"]) == (1, 2, 2)
    assert [error["index"] for error in body["errors"]] == [1, 2]


def test_the_native_api_has_the_same_cap(marketer_client, settings):
    settings.INGEST_BATCH_MAX_MESSAGES = 2
    events = [{"type": "track", **track(f"m{i}")} for i in range(3)]

    response = marketer_client.post("/api/v1/events/", events, format="json")

    body = assert_error(response, 400, "batch_too_large")
    assert body["message"] == "A batch may hold at most 2 messages; this one holds 3."
    assert stored() == []


def test_the_native_api_lists_the_first_100_errors(marketer_client):
    response = marketer_client.post("/api/v1/events/", [0] * 150, format="json")

    body = response.json()
    assert (body["rejected"], body["errors_total"], len(body["errors"])) == (150, 150, 100)
