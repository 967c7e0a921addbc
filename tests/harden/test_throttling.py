"""The REST API's abuse limits: per user and per address, 429 with Retry-After, ingestion apart."""

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from core import throttling

pytestmark = pytest.mark.django_db

START = 1_800_000_000.0  # the first instant of an hour (and of a minute)


@pytest.fixture
def clock(monkeypatch):
    now = {"t": START}
    monkeypatch.setattr(throttling._WindowThrottle, "timer", lambda self: now["t"])
    return now


def test_defaults_are_far_above_any_real_use():
    assert django_settings.API_RATE_PER_USER_PER_HOUR == 100_000
    assert django_settings.API_RATE_ANON_PER_HOUR == 10_000


def test_the_limit_th_request_passes_and_the_next_is_a_429(settings, clock, rep_client):
    settings.API_RATE_PER_USER_PER_HOUR = 3

    codes = [rep_client.get("/api/v1/leads/").status_code for _ in range(3)]
    clock["t"] = START + 600
    refused = rep_client.get("/api/v1/leads/")

    assert codes == [200, 200, 200]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "3000"
    assert refused.json() == {
        "code": "throttled",
        "message": "Request was throttled. Expected available in 3000 seconds.",
    }


def test_the_next_hour_starts_afresh(settings, clock, rep_client):
    settings.API_RATE_PER_USER_PER_HOUR = 1
    rep_client.get("/api/v1/leads/")
    assert rep_client.get("/api/v1/leads/").status_code == 429

    clock["t"] = START + 3600

    assert rep_client.get("/api/v1/leads/").status_code == 200


def test_each_user_has_their_own_budget(settings, clock, rep_client, other_rep_client):
    settings.API_RATE_PER_USER_PER_HOUR = 1

    first = rep_client.get("/api/v1/leads/")
    second = rep_client.get("/api/v1/leads/")
    other = other_rep_client.get("/api/v1/leads/")

    assert (first.status_code, second.status_code, other.status_code) == (200, 429, 200)


def test_zero_turns_the_limit_off(settings, clock, rep_client):
    settings.API_RATE_PER_USER_PER_HOUR = 0

    codes = {rep_client.get("/api/v1/leads/").status_code for _ in range(5)}

    assert codes == {200}


# DRF checks permissions before throttles: an anonymous call to a signed-in endpoint is a 401
# whatever its count. The public endpoints (the OpenAPI schema, costly to build) are counted.
PUBLIC = "/api/schema/"


def test_anonymous_callers_count_per_address(settings, clock):
    settings.API_RATE_ANON_PER_HOUR = 2
    one, two = APIClient(REMOTE_ADDR="203.0.113.1"), APIClient(REMOTE_ADDR="203.0.113.2")

    codes = [one.get(PUBLIC).status_code for _ in range(3)]
    other = two.get(PUBLIC).status_code

    assert codes == [200, 200, 429]
    assert other == 200


def test_anonymous_address_behind_a_trusted_proxy(settings, clock):
    settings.API_RATE_ANON_PER_HOUR = 1
    settings.TRUSTED_PROXY_HOPS = 1
    proxy = "10.0.0.1"

    first = APIClient(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7")
    second = APIClient(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.8")
    statuses = [first.get(PUBLIC).status_code for _ in range(2)]

    assert statuses == [200, 429]
    assert second.get(PUBLIC).status_code == 200


def test_event_ingestion_is_not_counted(settings, clock, admin_client_api):
    settings.API_RATE_PER_USER_PER_HOUR = 1
    event = {"type": "track", "event": "Viewed", "anonymousId": "a-1"}

    codes = [
        admin_client_api.post("/api/v1/events/", event, format="json").status_code for _ in range(3)
    ]

    assert codes == [200, 200, 200]


def test_a_cache_failure_lets_requests_through(settings, clock, rep_client, monkeypatch):
    settings.API_RATE_PER_USER_PER_HOUR = 1

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(throttling.cache, "incr", down)

    codes = [rep_client.get("/api/v1/leads/").status_code for _ in range(3)]

    assert codes == [200, 200, 200]


def test_the_cache_is_redis_when_redis_is_configured():
    expected = (
        "django.core.cache.backends.redis.RedisCache"
        if django_settings.REDIS_URL
        else "django.core.cache.backends.locmem.LocMemCache"
    )

    assert django_settings.CACHES["default"]["BACKEND"] == expected


def test_redis_down_lets_requests_through(settings, clock, rep_client):
    settings.API_RATE_PER_USER_PER_HOUR = 1
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }

    codes = [rep_client.get("/api/v1/leads/").status_code for _ in range(2)]

    assert codes == [200, 200]
