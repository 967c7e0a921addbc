"""events.origins: allowed origins in the exact form browsers send in `Origin`. Pure."""

import pytest

from events.origins import MAX_LENGTH, InvalidOrigin, origin_normalise, origins_normalise


@pytest.mark.parametrize(
    "value, origin",
    [
        ("https://www.example.com", "https://www.example.com"),
        ("  HTTPS://WWW.Example.COM  ", "https://www.example.com"),
        ("https://example.com/", "https://example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://example.com:443", "http://example.com:443"),
        ("https://example.com:8443", "https://example.com:8443"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("https://bücher.de", "https://xn--bcher-kva.de"),
        ("https://example.com.", "https://example.com"),
    ],
)
def test_origins_are_normalised_as_browsers_send_them(value, origin):
    assert origin_normalise(value) == origin


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "scheme://host"),
        ("example.com", "scheme must be http or https"),
        ("ftp://example.com", "scheme must be http or https"),
        ("null", "scheme must be http or https"),
        ("https://example.com/page", "no path"),
        ("https://example.com/?a=1", "no path"),
        ("https://example.com#top", "no path"),
        ("https://example.com?", "no path"),
        ("https://user:pw@example.com", "user name"),
        ("https://*.example.com", "wildcards"),
        ("https://", "host is missing"),
        ("https://exa mple.com", "not a valid name"),
        ("https://-example.com", "not a valid name"),
        ("https://example.com:0", "port 0"),
        ("https://example.com:65536", "port"),
        ("http://[::1", "not a valid origin"),
    ],
)
def test_anything_but_an_origin_is_refused_saying_why(value, message):
    with pytest.raises(InvalidOrigin, match=message):
        origin_normalise(value)


def test_the_length_limit_is_exact():
    fits = "https://" + ".".join(["a" * 63, "a" * 63, "a" * 62, "b"])  # 8 + 192 characters
    assert len(origin_normalise(fits)) == MAX_LENGTH
    with pytest.raises(InvalidOrigin, match="at most"):
        origin_normalise(fits + "b")


def test_a_list_is_deduplicated_in_order():
    assert origins_normalise(["https://B.com", "https://a.com", "https://b.com:443/"]) == [
        "https://b.com",
        "https://a.com",
    ]
