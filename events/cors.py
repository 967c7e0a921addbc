"""Cross-origin rules for browser sources: which origin may send with which write key.

A browser source lists the origins (`scheme://host[:port]`) its pages are served from. A page's
request carries its `Origin`; ingestion refuses a browser key's request whose origin is missing
or not listed (403 `origin_not_allowed`, before anything is stored) and answers an allowed one
with `Access-Control-Allow-Origin` set to that origin, never `*`.

The preflight (`OPTIONS`) carries neither the body (where analytics.js puts the write key) nor
the `Authorization` header's value, so it cannot name a source. It is answered for an origin
that at least one active browser source allows, and refused otherwise; the exact pair (this
key, this origin) is checked on the actual request. An origin no source allows never gets past
the preflight, so its pages cannot even send.

Pure, apart from the response helpers at the end: no ORM here (the selector asks the database).
"""

from functools import lru_cache

from django.http import HttpResponse
from django.utils.cache import patch_vary_headers

from events import origins

# Chromium caps a cached preflight at two hours; longer values are cut to that.
MAX_AGE_SECONDS = 7200

# Every request header the two libraries send (read in their own source): Segment's
# analytics-next sends Content-Type (text/plain, which alone would need no preflight),
# Authorization (Basic, the write key) and X-Retry-Count on retries; RudderStack's
# analytics-js sends Content-Type (application/json), Authorization, AnonymousId, SentAt and,
# on retries, the Rsa-* headers. A header missing here would fail the preflight of a retry.
ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "x-retry-count",
    "anonymousid",
    "sentat",
    "rsa-recovered",
    "rsa-retry-attempt",
    "rsa-since-last-attempt",
    "rsa-since-first-attempt",
    "rsa-retry-reason",
)

# Retry-After is not a CORS-safelisted response header: without this, a script could not read
# how long a 429 asks it to wait.
EXPOSED_HEADERS = ("retry-after",)


@lru_cache(maxsize=1024)  # pure, and asked for the same few origins on every request
def origin_normalize(value: str) -> str | None:
    """`value` as a browser writes an Origin header, by the same rule that stores a source's
    allowed origins (`events.origins.origin_normalise`), or None when it is not an http(s)
    origin: "null", a path, a query, a user name, a port out of range.
    "HTTPS://Example.com:443/" -> "https://example.com"."""
    try:
        return origins.origin_normalise(value)
    except origins.InvalidOrigin:
        return None


def origin_allowed(*, origin: str | None, allowed: list[str]) -> bool:
    """Whether a request's Origin header is one of a source's allowed origins (both
    normalized, so "https://Example.com/" in the list matches the header "https://example.com")."""
    if not origin:
        return False
    normalized = origin_normalize(origin)
    return normalized is not None and any(origin_normalize(a) == normalized for a in allowed)


def allow(response: HttpResponse, *, origin: str) -> HttpResponse:
    """Let the page on `origin` read `response` (an allowed origin only)."""
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
    return response


def vary(response: HttpResponse) -> HttpResponse:
    """The answer depends on the Origin: a shared cache must not reuse it for another."""
    patch_vary_headers(response, ("Origin",))
    return response


def preflight_allow(response: HttpResponse, *, origin: str, methods: str) -> HttpResponse:
    """The headers of a successful preflight for `origin`."""
    allow(response, origin=origin)
    response["Access-Control-Allow-Methods"] = methods
    response["Access-Control-Allow-Headers"] = ", ".join(ALLOWED_HEADERS)
    response["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
    return vary(response)
