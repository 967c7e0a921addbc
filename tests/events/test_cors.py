"""Origins and the browser SDKs' settings documents (pure: no database, no request)."""

import pytest

from events.cors import origin_allowed, origin_normalize
from events.sdkconfig import rudderstack_source_config, segment_api_host, segment_settings


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("https://shop.example.com", "https://shop.example.com"),
        ("HTTPS://Shop.Example.COM/", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("http://shop.example.com:80", "http://shop.example.com"),
        ("https://shop.example.com:8443", "https://shop.example.com:8443"),
        ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        (" https://shop.example.com ", "https://shop.example.com"),
    ],
)
def test_origins_are_written_as_a_browser_sends_them(value, normalized):
    assert origin_normalize(value) == normalized


@pytest.mark.parametrize(
    "value",
    [
        "null",  # sandboxed frames, file:// pages
        "",
        "shop.example.com",
        "ftp://shop.example.com",
        "https://shop.example.com/pricing",
        "https://shop.example.com/?x=1",
        "https://shop.example.com/#top",
        "https://user@shop.example.com",
        "https://shop.example.com:99999",
        "https://shop.example.com:port",
        "https://",
    ],
)
def test_what_is_not_an_origin_is_none(value):
    assert origin_normalize(value) is None


ALLOWED = ["https://Shop.example.com/", "http://localhost:3000"]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://shop.example.com", True),
        ("http://localhost:3000", True),
        ("https://shop.example.com:443", True),
        ("http://shop.example.com", False),  # another scheme is another origin
        ("https://shop.example.com:8443", False),  # and another port
        ("https://www.shop.example.com", False),  # no subdomains: exact origins only
        ("https://evil-shop.example.com", False),
        ("https://shop.example.com.evil.test", False),
        ("http://localhost:3001", False),
        ("null", False),
        ("", False),
        (None, False),
    ],
)
def test_an_origin_is_allowed_only_when_listed(origin, allowed):
    assert origin_allowed(origin=origin, allowed=ALLOWED) is allowed


def test_nothing_is_allowed_by_an_empty_list():
    assert origin_allowed(origin="https://shop.example.com", allowed=[]) is False


@pytest.mark.parametrize(
    ("site_url", "api_host", "protocol"),
    [
        ("https://crm.example.com", "crm.example.com/v1", "https"),
        ("http://127.0.0.1:8000", "127.0.0.1:8000/v1", "http"),
        ("https://example.com/crm", "example.com/crm/v1", "https"),
        ("https://example.com/crm/", "example.com/crm/v1", "https"),
    ],
)
def test_segment_api_host_is_leadcrms_v1(site_url, api_host, protocol):
    assert segment_api_host(site_url) == (api_host, protocol)


def test_segment_settings_send_only_to_leadcrm():
    settings = segment_settings(write_key="wk_x", site_url="https://crm.example.com")

    assert list(settings["integrations"]) == ["Segment.io"]  # no device-mode destination
    segmentio = settings["integrations"]["Segment.io"]
    assert (segmentio["apiKey"], segmentio["apiHost"], segmentio["protocol"]) == (
        "wk_x",
        "crm.example.com/v1",
        "https",
    )
    assert settings["metrics"] == {"sampleRate": 0, "host": "crm.example.com/v1"}
    assert settings["remotePlugins"] == []
    assert settings["enabledMiddleware"] == {}


def test_rudderstack_config_has_no_destinations_and_reports_nothing():
    config = rudderstack_source_config(source_id=7, name="Website", write_key="wk_x")

    source = config["source"]
    assert (source["id"], source["name"], source["writeKey"]) == ("7", "Website", "wk_x")
    assert source["enabled"] is True
    assert source["destinations"] == []
    assert source["config"]["statsCollection"] == {
        "errors": {"enabled": False},
        "metrics": {"enabled": False},
    }
