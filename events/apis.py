"""HTTP ingestion: Segment-compatible /v1/* endpoints (write key) and native /api/v1/events/.

The Segment endpoints are plain Django views, not DRF: at thousands of events a second the
framework's per-request work is measurable, and a write key is not a user. Both hand their
messages to events.services.events_ingest, the one path for every event.

Browser libraries reach the same view: analytics-next's short paths (/v1/t, /v1/b, ...) with a
`text/plain` JSON body that carries the write key, RudderStack's /v1/<type> and beacon batch,
their CORS preflights (events.cors), and the settings documents each fetches first
(events.sdkconfig). A browser source's key is refused from an origin it does not list.
"""

import base64
import binascii
import zlib
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core import parsers, ratelimit
from core.errors import ApiError
from events import buffer, cors, jsonfast, parsing, refusals, sdkconfig, selectors, services
from events.models import Source, SourceKind

MAX_REQUEST = parsing.MAX_REQUEST_BYTES


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def _error(status_code: int, code: str, message: str, headers: dict | None = None) -> JsonResponse:
    response = JsonResponse({"code": code, "message": message}, status=status_code)
    if status_code == 401:
        response["WWW-Authenticate"] = 'Basic realm="leadcrm write key"'
    for name, value in (headers or {}).items():
        response[name] = value
    return response


# --- Rate limits (core/ratelimit.py: Redis; off without it) -------------------------------------


def _source_limit(source) -> int:
    """Requests a minute for this source: its own limit, else its kind's default (0: none)."""
    if source.rate_limit_per_minute is not None:
        return source.rate_limit_per_minute
    if source.kind == SourceKind.BROWSER:
        return settings.INGEST_BROWSER_RATE_PER_MINUTE
    return settings.INGEST_SERVER_RATE_PER_MINUTE


def _limit_checks(request, source) -> list[tuple[str, int, str]]:
    """The request's rate limits: (counter, requests a minute, what it counts). The client
    address is counted first, so one noisy client uses up its own budget and not the whole
    site's."""
    checks = []
    if source.kind == SourceKind.BROWSER:
        address = ratelimit.ip_key(ratelimit.client_ip(request))
        limit = settings.INGEST_BROWSER_IP_RATE_PER_MINUTE
        checks.append((f"ingest:ip:{address}", limit, "from this address"))
    checks.append((f"ingest:source:{source.pk}", _source_limit(source), "for this write key"))
    return checks


def _throttle(request, source) -> None:
    """429 when the source, or (browser keys) the client's address, is over its limit. Both
    counters in one Redis round trip: it runs on every browser request."""
    checks = _limit_checks(request, source)
    _refuse(checks, ratelimit.hit_many([(key, limit) for key, limit, _ in checks], 60))


def _refuse(checks: list[tuple[str, int, str]], refused: tuple[int, int] | None) -> None:
    """The 429 of a refused limit check. Segment's analytics-next waits `Retry-After` seconds
    before sending again (its older batching dispatcher reads `X-RateLimit-Reset`, in seconds
    too); RudderStack's SDK retries a 429 with its own backoff."""
    if refused is not None:
        index, retry_after = refused
        _, limit, what = checks[index]
        raise HttpError(
            429,
            "rate_limited",
            f"Too many requests {what}: at most {limit} a minute. Retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after), "X-RateLimit-Reset": str(retry_after)},
        )


def _limit_now_or_later(request, source, kind: str) -> list[tuple[str, int, str]] | None:
    """Count the request's limits now (a 429 when one refuses), or, for a browser key's lone
    page view, track or screen call, return them to be counted with the buffer's push (one
    Redis command for both: events/buffer.py)."""
    later = (
        source.kind == SourceKind.BROWSER and kind in services.BUFFERED_TYPES and buffer.enabled()
    )
    if later:
        return _limit_checks(request, source)
    _throttle(request, source)
    return None


def _too_large() -> HttpError:
    return HttpError(
        413, "payload_too_large", f"A request may be at most {MAX_REQUEST // 1024} KB."
    )


def _read_body(request) -> bytes:
    """The request body, gunzipped if need be, never more than the request limit."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError(400, "invalid_request", "Content-Length is not a number.") from None
    if declared > MAX_REQUEST:
        raise _too_large()
    body = request.read(MAX_REQUEST + 1)
    if len(body) > MAX_REQUEST:
        raise _too_large()
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise HttpError(
            415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported."
        )
    return _gunzip(body)


def _gunzip(body: bytes) -> bytes:
    # The cap applies to the decompressed size too: a small gzip body can inflate a thousandfold.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, MAX_REQUEST + 1)
    except zlib.error:
        raise HttpError(400, "invalid_gzip", "The body is not valid gzip.") from None
    if len(data) > MAX_REQUEST or inflater.unconsumed_tail:
        raise _too_large()
    if not inflater.eof:
        raise HttpError(400, "invalid_gzip", "The gzip body is truncated.")
    return data


def _header_key(request) -> str | None:
    """The write key from HTTP Basic auth (the key is the user name, the password empty)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise HttpError(
            401, "invalid_write_key", "The Authorization header is malformed."
        ) from None
    return decoded.partition(":")[0]


def _request_key(request) -> str | None:
    """The write key from Basic auth, else from the query string (`?writeKey=`: RudderStack's
    beacon transport and its config request), else None (then it may be in the body)."""
    key = _header_key(request)
    return key if key is not None else request.GET.get("writeKey")


def _source(key: str | None) -> Source:
    source = selectors.source_for_write_key(write_key=key or "")
    if source is None:
        raise HttpError(401, "invalid_write_key", "The write key is missing, wrong or disabled.")
    return source


def _origin(request) -> str | None:
    return request.META.get("HTTP_ORIGIN")


def _check_origin(request, source: Source) -> None:
    """A browser key's request must come from one of its source's allowed origins; a server
    key's is not checked (a backend sends no Origin)."""
    if source.kind != SourceKind.BROWSER:
        return
    origin = _origin(request)
    if cors.origin_allowed(origin=origin, allowed=source.allowed_origins):
        return
    if not origin:
        message = "A browser source's write key is accepted only from its allowed origins."
    else:
        message = f"The origin {origin!r} is not allowed to send with this write key."
    raise HttpError(403, "origin_not_allowed", message)


def _cors(response: HttpResponse, request, source: Source | None) -> HttpResponse:
    """Let the page read the answer when it may: its origin is one the browser source allows;
    or, when no source was found (a wrong key), one that some browser source allows, so that the
    library sees the 401 and stops instead of retrying what it takes for a network error."""
    origin = _origin(request)
    if not origin:
        return response
    cors.vary(response)
    if source is not None:
        allowed = source.kind == SourceKind.BROWSER and cors.origin_allowed(
            origin=origin, allowed=source.allowed_origins
        )
    else:
        allowed = selectors.origin_allowed_by_any_browser_source(origin=origin)
    return cors.allow(response, origin=origin) if allowed else response


def _preflight(request, *, methods: str) -> HttpResponse:
    """OPTIONS: see events.cors for why the preflight is answered per origin, not per key."""
    origin = _origin(request)
    if not origin:  # not a CORS preflight: say what the path takes
        response = HttpResponse(status=204)
        response["Allow"] = f"{methods}, OPTIONS"
        return response
    if not selectors.origin_allowed_by_any_browser_source(origin=origin):
        return cors.vary(
            _error(
                403,
                "origin_not_allowed",
                f"No browser source allows the origin {origin!r}.",
            )
        )
    return cors.preflight_allow(HttpResponse(status=204), origin=origin, methods=methods)


def _without_health_check(store: Callable[[], services.IngestResult]) -> services.IngestResult:
    """`store()` without Django's per-request connection health check (CONN_HEALTH_CHECKS: a
    `SELECT 1` round trip before a request's first query, which for a browser's one event a
    request was a round trip in three), and run once more on a new connection when the kept
    one turns out dead (the database restarted since the last request).

    Running it again is safe: a message id this source sent before is acknowledged and not
    stored again, and a failed transaction stored nothing.
    """
    # (health_check_done: Django's own flag, which its stubs leave out.)
    if connection.connection is None or connection.health_check_done:  # type: ignore[attr-defined]
        return store()
    connection.health_check_done = True  # type: ignore[attr-defined]  # skipped, not failed
    try:
        return store()
    except (InterfaceError, OperationalError):
        if connection.in_atomic_block or connection.is_usable():
            raise  # a real error of the statement, not a dead connection
        connection.close()
    return store()


def _parse(body: bytes) -> dict:
    try:
        payload = jsonfast.loads(body)
    except ValueError:
        raise HttpError(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise HttpError(400, "invalid_payload", "The body must be a JSON object.")
    return payload


def _batch_too_large(count: int) -> str:
    cap = settings.INGEST_BATCH_MAX_MESSAGES
    return f"A batch may hold at most {cap} messages; this one holds {count}."


def _batch_messages(payload: dict) -> list:
    batch = payload.get("batch")
    if not isinstance(batch, list):
        raise HttpError(400, "invalid_batch", "`batch` must be a list of messages.")
    # Before any message is looked at: a small gzip body can hold hundreds of thousands.
    if len(batch) > settings.INGEST_BATCH_MAX_MESSAGES:
        raise HttpError(400, "batch_too_large", _batch_too_large(len(batch)))
    sent_at = payload.get("sentAt")
    context = payload.get("context")
    for message in batch:
        if not isinstance(message, dict):
            continue  # rejected by index in events_ingest
        if sent_at is not None:
            message.setdefault("sentAt", sent_at)
        if isinstance(context, dict) and context:
            inner = message.get("context")
            message["context"] = {**context, **inner} if isinstance(inner, dict) else context
    return batch


# analytics-next posts each call to `<apiHost>/<first letter of its type>` and a batch to
# `<apiHost>/b` (its segmentio plugin); with apiHost "<leadcrm>/v1" these are /v1/t, /v1/b, ...
SHORT_KINDS = {
    "t": "track",
    "i": "identify",
    "p": "page",
    "s": "screen",
    "g": "group",
    "a": "alias",
    "b": "batch",
}


@csrf_exempt
def segment_api(request, kind: str):
    """POST /v1/<kind> (and analytics-next's /v1/<letter>, RudderStack's beacon batch): the
    Segment Tracking API's message shape and error bodies, with CORS for browser sources."""
    if request.method == "OPTIONS":
        return _preflight(request, methods="POST")
    if request.method != "POST":
        return _error(405, "method_not_allowed", "Only POST is allowed; a write key reads nothing.")
    response, source = _ingest(request, SHORT_KINDS.get(kind, kind))
    return _cors(response, request, source)


def _ingest(request, kind: str) -> tuple[JsonResponse, Source | None]:
    source = None
    checks: list[tuple[str, int, str]] | None = None  # limits left to the buffer's push
    try:
        body = _read_body(request)
        key = _request_key(request)
        source = _source(key) if key is not None else None
        if source is not None:
            # The origin before anything is stored (or even parsed), then the limits: a
            # refused request costs little. (A call for the buffer counts them as it pushes.)
            _check_origin(request, source)
            checks = _limit_now_or_later(request, source, kind)
        payload = _parse(body)
        if source is None:
            source = _source(
                payload.get("writeKey") if isinstance(payload.get("writeKey"), str) else None
            )
            _check_origin(request, source)
            checks = _limit_now_or_later(request, source, kind)
        if kind == "batch":
            messages = _batch_messages(payload)
        else:
            payload["type"] = kind  # the endpoint names the type
            messages = [payload]
        result = _without_health_check(
            partial(
                services.events_ingest,
                source=source,
                messages=messages,
                text_checked=parsing.SUSPECT_ESCAPE.search(body) is None,
                limits=None if checks is None else [(key, limit) for key, limit, _ in checks],
            )
        )
        if checks is not None:
            _refuse(checks, result.limited)
    except HttpError as exc:
        if source is not None:  # refused whole: counted for the sources page
            refusals.refusals_count(source_id=source.pk)
        return _error(exc.status, exc.code, exc.message, exc.headers), source
    if result.rejected and source is not None:
        refusals.refusals_count(source_id=source.pk, count=result.rejected)
    if kind != "batch" and result.rejected:
        first = result.errors[0]
        return _error(400, first["code"], first["message"]), source
    return JsonResponse(result.as_response()), source


# --- The documents the browser SDKs fetch before sending ------------------------------------------


def _browser_source(request, key: str | None) -> Source:
    """The browser source of `key` for a settings request from an origin it allows."""
    source = selectors.source_for_write_key(write_key=key or "")
    if source is None or source.kind != SourceKind.BROWSER:
        # A server key has no business in a web page: no settings for it.
        raise HttpError(404, "not_found", "No active browser source has this write key.")
    _check_origin(request, source)
    return source


def _sdk_document(request, key: str | None, build) -> HttpResponse:
    """GET/HEAD of a settings document: `build(source)` for an allowed origin, else the error."""
    if request.method == "OPTIONS":
        return _preflight(request, methods="GET")
    if request.method not in ("GET", "HEAD"):
        return _error(405, "method_not_allowed", "Only GET is allowed here.")
    source = None
    try:
        source = _browser_source(request, key)
    except HttpError as exc:
        return _cors(_error(exc.status, exc.code, exc.message), request, source)
    response = JsonResponse(build(source))
    # A page loads it on every visit; a change of origins or a rotated key is at most this late.
    patch_cache_control(response, max_age=SETTINGS_MAX_AGE)
    return _cors(response, request, source)


SETTINGS_MAX_AGE = 300


def segment_settings(request, write_key: str):
    """GET /v1/projects/<writeKey>/settings: analytics-next's CDN settings (its `cdnURL` is
    leadcrm's base URL), pointing its delivery at leadcrm's SITE_URL."""
    return _sdk_document(
        request,
        write_key,
        lambda source: sdkconfig.segment_settings(write_key=write_key, site_url=settings.SITE_URL),
    )


def rudderstack_source_config(request):
    """GET /sourceConfig/: RudderStack analytics-js's source configuration (its `configUrl` is
    leadcrm's base URL). The key comes as Basic auth, as the library sends it, or `?writeKey=`."""
    try:
        key = _request_key(request)
    except HttpError as exc:
        return _cors(_error(exc.status, exc.code, exc.message), request, None)
    return _sdk_document(
        request,
        key,
        lambda source: sdkconfig.rudderstack_source_config(
            source_id=source.pk, name=source.name, write_key=key or ""
        ),
    )


class PayloadTooLarge(ApiError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = f"A request may be at most {MAX_REQUEST // 1024} KB."


NATIVE_SOURCE = "api"


def _message_schema(kind: str, required: list[str], **properties: dict) -> dict[str, Any]:
    text = {"type": "string", "minLength": 1, "maxLength": parsing.MAX_ID_LENGTH}
    ids = {"userId": text, "anonymousId": text}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": [kind]},
            **ids,
            "messageId": text,
            "timestamp": {"type": "string", "format": "date-time"},
            "properties": {"type": "object"},
            "traits": {"type": "object"},
            "context": {"type": "object"},
            **properties,
        },
        "required": ["type", *required],
    }
    if kind != "alias":  # one of the two ids (parsing.parse_message)
        schema["anyOf"] = [{"required": ["userId"]}, {"required": ["anonymousId"]}]
    return schema


_NAME = {"type": "string", "minLength": 1, "maxLength": parsing.MAX_ID_LENGTH}
_MESSAGE_SCHEMA = {
    "oneOf": [
        _message_schema("track", ["event"], event={**_NAME, "pattern": r"\S"}),
        _message_schema("identify", []),
        _message_schema("page", [], name=_NAME),
        _message_schema("screen", [], name=_NAME),
        _message_schema("group", ["groupId"], groupId=_NAME),
        _message_schema("alias", ["previousId", "userId"], previousId=_NAME),
    ]
}
# One Segment-shaped message, or a list of them (parsing.parse_message checks each).
EVENT_REQUEST_SCHEMA = {
    "oneOf": [_MESSAGE_SCHEMA, {"type": "array", "items": _MESSAGE_SCHEMA, "minItems": 1}]
}


class IngestJSONParser(parsers.JSONParser):
    """Bad text and deep nesting are judged per message (one bad message is rejected, the rest
    stored); only a body too deep to parse at all is refused whole."""

    max_depth = None
    check_text = False


class EventIngestApi(APIView):
    """POST /api/v1/events/: one Segment-shaped event, or a list of them (token auth)."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [IngestJSONParser]
    throttle_classes: list = []  # ingestion: bounded per batch, not by the API's hourly limits

    @extend_schema(request={"application/json": EVENT_REQUEST_SCHEMA}, responses=dict)
    def post(self, request):
        services.events_push_authorize(actor=request.user)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_REQUEST:
            raise PayloadTooLarge()
        data = request.data
        single = isinstance(data, dict)
        if not single and not isinstance(data, list):
            raise ApiError("The body must be an event object or a list of them.", code="invalid")
        if not single and len(data) > settings.INGEST_BATCH_MAX_MESSAGES:
            raise ApiError(_batch_too_large(len(data)), code="batch_too_large")
        result = services.events_ingest(
            source=services.source_internal(NATIVE_SOURCE),
            messages=[data] if single else data,
        )
        if single and result.rejected:
            first = result.errors[0]
            raise ApiError(first["message"], code=first["code"])
        return Response(result.as_response())
