"""core.ratelimit: fixed windows in a real Redis; off without it, and open when it fails."""

import logging

import pytest
import redis
from django.test import RequestFactory

from core import ratelimit
from tests.support import free_port

START = 1_800_000_000.0  # the rate_clock fixture's start: the first instant of a minute


@pytest.mark.services
def test_the_nth_hit_is_allowed_and_the_next_refused_until_the_window_ends(redis_url, rate_clock):
    results = [ratelimit.hit("k", 3, 60) for _ in range(3)]
    rate_clock.now = START + 20.5
    fourth = ratelimit.hit("k", 3, 60)

    assert results == [(True, 0), (True, 0), (True, 0)]
    assert fourth == (False, 40)  # 39.5 s left, rounded up


@pytest.mark.services
def test_a_refused_hit_waits_for_the_windows_own_end_instant(redis_url, rate_clock):
    for _ in range(2):
        ratelimit.hit("k", 2, 60)
    rate_clock.now = START + 59.999
    last_instant = ratelimit.hit("k", 2, 60)
    rate_clock.now = START + 60
    next_window = [ratelimit.hit("k", 2, 60) for _ in range(3)]

    assert last_instant == (False, 1)
    assert next_window == [(True, 0), (True, 0), (False, 60)]


@pytest.mark.services
def test_keys_and_windows_are_counted_apart(redis_url, rate_clock):
    assert ratelimit.hit("a", 1, 60) == (True, 0)
    assert ratelimit.hit("b", 1, 60) == (True, 0)
    assert ratelimit.hit("a", 1, 10) == (True, 0)
    assert ratelimit.hit("a", 1, 60) == (False, 60)


@pytest.mark.services
def test_a_counter_expires_with_its_window(redis_url, rate_clock, settings):
    ratelimit.hit("k", 5, 60)

    client = redis.Redis.from_url(redis_url)
    (key,) = client.keys(f"{settings.RATE_LIMIT_KEY_PREFIX}*")
    assert key.decode() == f"{settings.RATE_LIMIT_KEY_PREFIX}k:60:{int(START) // 60}"
    assert 0 < client.ttl(key) <= 61
    assert client.get(key) == b"1"


@pytest.mark.services
def test_a_limit_below_one_is_no_limit_and_counts_nothing(redis_url, rate_clock, settings):
    results = [ratelimit.hit("k", 0, 60) for _ in range(3)]

    assert results == [(True, 0)] * 3
    assert redis.Redis.from_url(redis_url).keys(f"{settings.RATE_LIMIT_KEY_PREFIX}*") == []


def test_without_redis_every_hit_is_allowed(settings, rate_clock):
    settings.REDIS_URL = ""

    assert [ratelimit.hit("k", 1, 60) for _ in range(5)] == [(True, 0)] * 5
    assert ratelimit.status() == "off (no Redis)"


def test_a_redis_error_allows_the_hit_logs_once_and_stays_off_a_while(
    settings, rate_clock, caplog, monkeypatch
):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    tries = []
    real_script = ratelimit._script
    monkeypatch.setattr(ratelimit, "_script", lambda url: tries.append(url) or real_script(url))

    with caplog.at_level(logging.WARNING, logger="core.ratelimit"):
        during = [ratelimit.hit("k", 1, 60) for _ in range(5)]
        rate_clock.now = START + ratelimit.BREAKER_SECONDS
        after = ratelimit.hit("k", 1, 60)

    assert during == [(True, 0)] * 5
    assert after == (True, 0)
    assert len(tries) == 2  # the first hit, and the first after the breaker's pause
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert warnings[0].startswith("Rate limits are off for 5 s: Redis failed (ConnectionError")


@pytest.mark.services
def test_a_script_the_server_forgot_is_sent_again(redis_url, rate_clock, caplog):
    assert ratelimit.hit("k", 2, 60) == (True, 0)
    redis.Redis.from_url(redis_url).script_flush()  # as a restarted Redis
    with caplog.at_level(logging.WARNING, logger="core.ratelimit"):
        assert ratelimit.hit("k", 2, 60) == (True, 0)
        assert ratelimit.hit("k", 2, 60) == (False, 60)  # both were counted
    assert caplog.records == []


@pytest.mark.services
def test_a_connection_the_server_closed_is_opened_again_without_tripping(
    redis_url, rate_clock, caplog
):
    assert ratelimit.hit("k", 2, 60) == (True, 0)
    connection = ratelimit._script(redis_url)._connection()
    connection.send_command("CLIENT", "ID")
    own_id = connection.read_response()
    assert redis.Redis.from_url(redis_url).client_kill_filter(_id=own_id) == 1
    with caplog.at_level(logging.WARNING, logger="core.ratelimit"):
        assert ratelimit.hit("k", 2, 60) == (True, 0)
        assert ratelimit.hit("k", 2, 60) == (False, 60)  # counted: the limits stayed on
    assert caplog.records == []


def test_a_window_below_one_second_is_a_programming_error():
    with pytest.raises(ValueError):
        ratelimit.hit("k", 1, 0)


@pytest.mark.services
def test_status_is_on_with_redis(redis_url):
    assert ratelimit.status() == "on"


# --- The client's address -----------------------------------------------------------------------


def request(remote="203.0.113.9", forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_client_ip_is_the_peer_without_trusted_proxies(settings):
    settings.TRUSTED_PROXY_HOPS = 0

    assert ratelimit.client_ip(request(forwarded="198.51.100.1")) == "203.0.113.9"


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (1, "198.51.100.7", "198.51.100.7"),
        # What the client wrote itself comes first, and is never believed.
        (1, "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        (2, "6.6.6.6, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        # Fewer entries than proxies: the header is not what our proxies wrote.
        (2, "198.51.100.7", "203.0.113.9"),
        (1, "", "203.0.113.9"),
    ],
)
def test_client_ip_behind_trusted_proxies(settings, hops, forwarded, expected):
    settings.TRUSTED_PROXY_HOPS = hops

    assert ratelimit.client_ip(request(forwarded=forwarded)) == expected


def test_client_ip_that_is_no_address_is_none(settings):
    settings.TRUSTED_PROXY_HOPS = 1

    assert ratelimit.client_ip(request(forwarded="not-an-ip")) is None


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        (None, "unknown"),
        ("garbage", "unknown"),
    ],
)
def test_an_ipv6_client_counts_by_its_64(ip, key):
    assert ratelimit.ip_key(ip) == key
