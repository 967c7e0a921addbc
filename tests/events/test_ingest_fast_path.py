"""Browser ingestion's fast path: the write key's source kept in memory for a few seconds, both
rate limits in one Redis round trip, no health-check query before the INSERT (and a dead
connection retried once), and what each of them must keep true."""

import json
import threading

import pytest
import redis
from django.db import connection

from core import ratelimit
from events import selectors, services
from events.models import Event, Source, SourceKind
from tests.support import assert_error

SITE = "https://www.example.com"


def page(key: str, message_id: str, anonymous_id: str = "anon-1") -> bytes:
    return json.dumps(
        {
            "type": "page",
            "name": "Pricing",
            "anonymousId": anonymous_id,
            "messageId": message_id,
            "writeKey": key,
        }
    ).encode()


def send(client, key: str, message_id: str, *, ip: str = "203.0.113.9"):
    return client.post(
        "/v1/p",
        data=page(key, message_id),
        content_type="text/plain",
        headers={"Origin": SITE},
        REMOTE_ADDR=ip,
    )


@pytest.fixture
def site(db) -> tuple[Source, str]:
    source, key = services.source_create(
        name="Website", kind=SourceKind.BROWSER, allowed_origins=[SITE]
    )
    return source, key


@pytest.fixture
def clock(monkeypatch):
    """The source cache's clock, moved by hand."""
    from types import SimpleNamespace

    now = SimpleNamespace(value=1000.0)
    monkeypatch.setattr(selectors, "_clock", lambda: now.value)
    return now


def stored() -> list[str]:
    return sorted(Event.objects.values_list("message_id", flat=True))


# --- The source cache ---------------------------------------------------------------------------


def test_a_source_disabled_through_the_service_is_refused_at_once(
    client, site, django_capture_on_commit_callbacks
):
    source, key = site
    assert send(client, key, "m1").status_code == 200  # now cached

    with django_capture_on_commit_callbacks(execute=True):
        services.source_set_active(source=source, active=False)

    assert_error(send(client, key, "m2"), 401, "invalid_write_key")
    assert stored() == ["m1"]


def test_a_rotated_key_stops_at_once_and_the_new_one_works(
    client, site, django_capture_on_commit_callbacks
):
    source, old = site
    assert send(client, old, "m1").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        new = services.source_rotate_key(source=source)

    assert_error(send(client, old, "m2"), 401, "invalid_write_key")
    assert send(client, new, "m3").status_code == 200
    assert stored() == ["m1", "m3"]


def test_an_origin_removed_through_the_api_is_refused_at_once(
    client, site, admin_client_api, django_capture_on_commit_callbacks
):
    source, key = site
    assert send(client, key, "m1").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.patch(
            f"/api/v1/sources/{source.pk}/",
            {"allowed_origins": ["https://shop.example.com"]},
            format="json",
        )
    assert response.status_code == 200

    assert_error(send(client, key, "m2"), 403, "origin_not_allowed")


def test_another_process_sees_a_change_within_the_cache_seconds_to_the_second(
    client, site, clock, settings
):
    # A change made by another process (here: behind the service's back) is not announced to
    # this one: its cached copy serves until INGEST_SOURCE_CACHE_SECONDS have passed.
    settings.INGEST_SOURCE_CACHE_SECONDS = 5
    source, key = site
    assert send(client, key, "m1").status_code == 200  # cached at 1000.0
    Source.objects.filter(pk=source.pk).update(is_active=False)

    clock.value = 1004.999
    last_cached = send(client, key, "m2")
    clock.value = 1005.0
    expired = send(client, key, "m3")

    assert last_cached.status_code == 200
    assert_error(expired, 401, "invalid_write_key")
    assert stored() == ["m1", "m2"]


def test_with_no_cache_seconds_every_request_looks_the_key_up(client, site, settings):
    settings.INGEST_SOURCE_CACHE_SECONDS = 0
    source, key = site
    assert send(client, key, "m1").status_code == 200
    Source.objects.filter(pk=source.pk).update(is_active=False)

    assert_error(send(client, key, "m2"), 401, "invalid_write_key")


def test_wrong_keys_are_never_cached(client, site):
    for n in range(20):
        assert_error(send(client, f"wk_wrong{n}", f"m{n}"), 401, "invalid_write_key")

    assert selectors._by_digest == {}


def test_the_cache_holds_a_bounded_number_of_sources(db, monkeypatch):
    monkeypatch.setattr(selectors, "_CACHE_MAX", 3)
    keys = [services.source_create(name=f"s{n}")[1] for n in range(4)]

    found = [selectors.source_for_write_key(write_key=key) for key in keys]

    assert all(found)
    assert len(selectors._by_digest) == 1  # full at the 4th: emptied, then the 4th kept


# --- Both limits in one Redis round trip ----------------------------------------------------------


@pytest.fixture
def round_trips(monkeypatch):
    """The Redis commands the limiter sent (each one round trip)."""
    sent = []
    real = redis.connection.AbstractConnection.send_command

    def send_command(self, *args, **kwargs):
        sent.append(args[0])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_command", send_command)
    return sent


@pytest.mark.services
def test_a_browser_request_counts_both_limits_in_one_round_trip(
    client, redis_url, rate_clock, site, round_trips
):
    _, key = site
    assert send(client, key, "m0").status_code == 200  # (the script is loaded once)
    round_trips.clear()

    assert send(client, key, "m1").status_code == 200

    assert round_trips == ["EVALSHA"]  # the address's and the source's counters, together


@pytest.mark.services
def test_hit_many_refuses_at_the_first_key_over_and_leaves_the_later_ones_uncounted(
    redis_url, rate_clock
):
    checks = [("a", 2), ("b", 1), ("c", 5)]

    results = [ratelimit.hit_many(checks, 60) for _ in range(3)]

    assert results == [None, (1, 60), (0, 60)]
    client = redis.Redis.from_url(redis_url)
    prefix = ratelimit.settings.RATE_LIMIT_KEY_PREFIX
    window = int(rate_clock.now // 60)
    counts = [int(client.get(f"{prefix}{k}:60:{window}") or 0) for k in ("a", "b", "c")]
    # a: 3 hits; b: counted while a allowed (2); c: only when everything before it allowed (1)
    assert counts == [3, 2, 1]


@pytest.mark.services
def test_a_client_over_its_address_limit_does_not_use_up_its_sites_budget(
    client, redis_url, rate_clock, settings, site
):
    source, key = site
    Source.objects.filter(pk=source.pk).update(rate_limit_per_minute=2)
    settings.INGEST_BROWSER_IP_RATE_PER_MINUTE = 1

    noisy = [send(client, key, f"n{i}", ip="203.0.113.9").status_code for i in range(4)]
    other = send(client, key, "o1", ip="198.51.100.7")  # the site's 2nd request that counts
    third = send(client, key, "o2", ip="198.51.100.8")  # its 3rd: over the site's 2

    assert noisy == [200, 429, 429, 429]
    assert other.status_code == 200
    assert_error(third, 429, "rate_limited")
    assert stored() == ["n0", "o1"]


# --- No health-check query; a dead connection is retried once -----------------------------------


def request_starts() -> None:
    """What Django does as a request starts (the test client leaves it out): a kept connection
    is to be health-checked before its first query."""
    connection.close_if_unusable_or_obsolete()
    assert connection.health_check_enabled and not connection.health_check_done


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_database_dropped_is_replaced_and_the_event_stored(client, site):
    _, key = site
    assert send(client, key, "m1").status_code == 200
    dead_pid = connection.connection.info.backend_pid

    def terminate():
        import psycopg2

        from tests.support import database_url

        other = psycopg2.connect(database_url())
        other.autocommit = True
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [dead_pid])
        other.close()

    thread = threading.Thread(target=terminate)
    thread.start()
    thread.join()
    request_starts()

    response = send(client, key, "m2")

    assert response.status_code == 200
    assert connection.connection.info.backend_pid != dead_pid
    assert stored() == ["m1", "m2"]


@pytest.mark.django_db(transaction=True)
def test_an_error_of_the_statement_itself_is_not_retried(client, site, monkeypatch):
    from django.db import OperationalError

    _, key = site
    assert send(client, key, "warm").status_code == 200  # the connection is open and kept
    calls = []

    def failing(**kwargs):
        calls.append(kwargs)
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(services, "events_ingest", failing)
    request_starts()

    with pytest.raises(OperationalError):
        send(client, key, "m1")

    assert len(calls) == 1  # the connection works: the error was the statement's
