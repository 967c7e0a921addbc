"""The HTTP layer: Segment-compatible /v1/* (write keys) and native /api/v1/events/ (tokens)."""

import gzip
import json

import pytest

from events import services
from events.models import Event, Source
from tests.events.conftest import basic
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def track(message_id="m1", **extra):
    return {"userId": "u1", "event": "Signed Up", "messageId": message_id, **extra}


def batch_of(*messages, **extra):
    return {"batch": list(messages), **extra}


def stored_ids() -> list[str]:
    return sorted(Event.objects.values_list("message_id", flat=True))


# --- Auth -----------------------------------------------------------------------------------------


def test_basic_auth_with_the_write_key_as_user_name_is_accepted(post_segment, write_key, source):
    response = post_segment("track", track(), key=write_key)

    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "rejected": 0, "errors": [], "errors_total": 0}
    assert Event.objects.get().source == source


def test_write_key_in_the_body_is_accepted(post_segment, write_key):
    response = post_segment("batch", batch_of({"type": "track", **track()}, writeKey=write_key))

    assert response.status_code == 200
    assert stored_ids() == ["m1"]


@pytest.mark.parametrize("kind", ["track", "batch"])
def test_anonymous_request_gets_401_json_and_stores_nothing(post_segment, write_key, kind):
    response = post_segment(kind, batch_of(track()) if kind == "batch" else track())

    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_write_key",
        "message": "The write key is missing, wrong or disabled.",
    }
    assert response["WWW-Authenticate"].startswith("Basic")
    assert stored_ids() == []


def test_wrong_key_gets_401(post_segment, write_key):
    response = post_segment("track", track(), key=write_key + "x")

    assert response.status_code == 401
    assert stored_ids() == []


def test_wrong_key_in_the_body_gets_401(post_segment, write_key):
    response = post_segment("track", {**track(), "writeKey": "wk_nope"})

    assert response.status_code == 401
    assert stored_ids() == []


def test_disabled_key_gets_401(post_segment, write_key, source):
    services.source_set_active(source=source, active=False)

    response = post_segment("track", track(), key=write_key)

    assert response.status_code == 401
    assert stored_ids() == []


def test_malformed_authorization_header_gets_401(post_segment, write_key):
    response = post_segment("track", track(), headers={"Authorization": "Basic !!!"})

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"


def test_internal_sources_cannot_be_pushed_to(post_segment, db):
    internal = services.source_internal("email")
    assert internal.internal

    response = post_segment("track", {**track(), "writeKey": internal.write_key_prefix})

    assert response.status_code == 401


def test_a_write_key_reads_nothing(client, write_key):
    LeadFactory()

    for path in ("/v1/track", "/v1/batch"):
        response = client.get(path, headers={"Authorization": basic(write_key)})
        assert response.status_code == 405
        assert response.json()["code"] == "method_not_allowed"
    for path in ("/api/v1/leads/", "/api/v1/events/"):
        response = client.get(path, headers={"Authorization": basic(write_key)})
        assert response.status_code == 401


def test_a_write_key_cannot_use_the_native_api(client, write_key):
    response = client.post(
        "/api/v1/events/",
        data=json.dumps({"type": "track", **track()}),
        content_type="application/json",
        headers={"Authorization": basic(write_key)},
    )

    assert response.status_code == 401
    assert stored_ids() == []


# --- Endpoints and message shapes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "name"),
    [
        ("identify", {"userId": "u1", "traits": {"plan": "x"}}, ""),
        ("track", {"userId": "u1", "event": "Demo Requested"}, "Demo Requested"),
        ("page", {"anonymousId": "a1", "name": "Pricing"}, "Pricing"),
        ("screen", {"userId": "u1", "name": "Home"}, "Home"),
        ("group", {"userId": "u1", "groupId": "acme"}, ""),
        ("alias", {"userId": "u1", "previousId": "a1"}, ""),
    ],
)
def test_each_segment_endpoint_stores_its_type(post_segment, write_key, kind, body, name):
    response = post_segment(kind, {**body, "messageId": f"{kind}-1"}, key=write_key)

    assert response.status_code == 200
    event = Event.objects.get()
    assert (event.type, event.name, event.message_id) == (kind, name, f"{kind}-1")


def test_the_endpoint_decides_the_type(post_segment, write_key):
    post_segment("page", {"type": "track", "anonymousId": "a", "name": "Pricing"}, key=write_key)

    assert Event.objects.get().type == "page"


def test_batch_with_malformed_messages_keeps_the_valid_ones(post_segment, write_key):
    body = batch_of(
        {"type": "track", **track("ok-1")},
        "not an object",
        {"type": "explode", "userId": "u"},
        {"type": "track", "userId": "u"},
        {"type": "track", "event": "No One"},
        {"type": "track", **track("bad-time", timestamp="31/12/2025")},
        {"type": "page", "anonymousId": "a", "messageId": "ok-2"},
    )

    response = post_segment("batch", body, key=write_key)

    assert response.status_code == 200
    payload = response.json()
    assert (payload["accepted"], payload["rejected"]) == (2, 5)
    assert [(e["index"], e["code"]) for e in payload["errors"]] == [
        (1, "not_an_object"),
        (2, "unknown_type"),
        (3, "missing_event"),
        (4, "missing_id"),
        (5, "invalid_timestamp"),
    ]
    assert all(e["message"] for e in payload["errors"])
    assert stored_ids() == ["ok-1", "ok-2"]


def test_single_call_that_is_malformed_gets_400_json(post_segment, write_key):
    response = post_segment("track", {"userId": "u1"}, key=write_key)

    assert response.status_code == 400
    assert response.json() == {
        "code": "missing_event",
        "message": "A track call needs an `event` name.",
    }
    assert stored_ids() == []


def test_batch_level_sent_at_corrects_clock_skew(post_segment, write_key):
    body = batch_of(
        {"type": "track", **track("m1", timestamp="2000-01-01T00:00:00Z")},
        sentAt="2000-01-01T00:00:10Z",
    )

    post_segment("batch", body, key=write_key)

    event = Event.objects.get()
    assert abs((event.received_at - event.occurred_at).total_seconds() - 10) < 0.001


def test_batch_level_context_is_merged_into_each_message(post_segment, write_key):
    body = batch_of(
        {"type": "track", **track("m1", context={"ip": "1.1.1.1"})},
        context={"library": {"name": "x"}, "ip": "9.9.9.9"},
    )

    post_segment("batch", body, key=write_key)

    assert Event.objects.get().context == {"library": {"name": "x"}, "ip": "1.1.1.1"}


def test_duplicate_message_id_is_acknowledged_and_not_stored_twice(post_segment, write_key):
    first = post_segment("track", track("dup"), key=write_key)
    second = post_segment("track", track("dup", event="Other"), key=write_key)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["accepted"] == 1
    assert list(Event.objects.values_list("name", flat=True)) == ["Signed Up"]


def test_identify_over_http_creates_the_lead(post_segment, write_key):
    post_segment(
        "identify",
        {"userId": "u1", "context": {"traits": {"email": "z@example.com", "first_name": "Zed"}}},
        key=write_key,
    )

    event = Event.objects.get()
    assert (event.lead.email, event.lead.first_name, event.lead.external_id) == (
        "z@example.com",
        "Zed",
        "u1",
    )


# --- Bodies: gzip, limits, bad JSON ---------------------------------------------------------------


def test_gzip_body_is_accepted(post_segment, write_key):
    response = post_segment(
        "batch", batch_of({"type": "track", **track()}), key=write_key, gzipped=True
    )

    assert response.status_code == 200
    assert stored_ids() == ["m1"]


def test_gzip_bomb_beyond_the_decompressed_cap_gets_413(post_segment, write_key):
    # ~600 KB of JSON that gzips to a few KB.
    padding = " " * 600_000
    raw = ('{"batch": [' + padding + "]}").encode()
    assert len(gzip.compress(raw)) < 10_000

    response = post_segment("batch", None, raw=raw, key=write_key, gzipped=True)

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert stored_ids() == []


def test_invalid_gzip_gets_400(client, write_key):
    response = client.post(
        "/v1/batch",
        data=b"this is not gzip",
        content_type="application/json",
        headers={"Authorization": basic(write_key), "Content-Encoding": "gzip"},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_gzip"


def test_unknown_content_encoding_gets_415(post_segment, write_key):
    response = post_segment("track", track(), key=write_key, headers={"Content-Encoding": "br"})

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_encoding"


def test_request_over_500_kb_gets_413(post_segment, write_key):
    messages = [
        {"type": "track", **track(f"m{i}", properties={"p": "x" * 20_000})} for i in range(26)
    ]
    body = batch_of(*messages)
    assert len(json.dumps(body)) > 500 * 1024

    response = post_segment("batch", body, key=write_key)

    assert response.status_code == 413
    assert set(response.json()) == {"code", "message"}
    assert stored_ids() == []


def test_request_just_under_500_kb_is_accepted(post_segment, write_key):
    messages = [
        {"type": "track", **track(f"m{i}", properties={"p": "x" * 20_000})} for i in range(24)
    ]

    response = post_segment("batch", batch_of(*messages), key=write_key)

    assert response.status_code == 200
    assert Event.objects.count() == 24


def test_single_message_over_32_kb_gets_400(post_segment, write_key):
    response = post_segment("track", track(properties={"blob": "x" * 33_000}), key=write_key)

    assert response.status_code == 400
    assert response.json()["code"] == "message_too_large"
    assert stored_ids() == []


def test_message_over_32_kb_in_a_batch_is_rejected_alone(post_segment, write_key):
    body = batch_of(
        {"type": "track", **track("big", properties={"blob": "x" * 33_000})},
        {"type": "track", **track("small")},
    )

    response = post_segment("batch", body, key=write_key)

    assert response.status_code == 200
    assert response.json()["errors"] == [
        {"index": 0, "code": "message_too_large", "message": "A message may be at most 32 KB."}
    ]
    assert stored_ids() == ["small"]


def test_invalid_json_gets_400(post_segment, write_key):
    response = post_segment("batch", None, raw=b'{"batch": [', key=write_key)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_body_that_is_not_an_object_gets_400(post_segment, write_key):
    response = post_segment("batch", [1, 2], key=write_key)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_payload"


def test_batch_without_a_list_gets_400(post_segment, write_key):
    response = post_segment("batch", {"batch": {"type": "track"}}, key=write_key)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_batch"


def test_nul_and_lone_surrogate_escapes_are_rejected_per_message(post_segment, write_key):
    raw = (
        b'{"batch": ['
        b'{"type": "track", "userId": "u", "event": "A\\u0000", "messageId": "nul"},'
        b'{"type": "track", "userId": "u", "event": "B\\ud800", "messageId": "sur"},'
        b'{"type": "track", "userId": "u", "event": "C \\u00e9 \\ud83d\\ude00", "messageId": "ok"}'
        b"]}"
    )

    response = post_segment("batch", None, raw=raw, key=write_key)

    assert response.status_code == 200
    assert [(e["index"], e["code"]) for e in response.json()["errors"]] == [
        (0, "invalid_text"),
        (1, "invalid_text"),
    ]
    assert list(Event.objects.values_list("name", flat=True)) == ["C é 😀"]


def test_nan_and_infinity_are_not_json(post_segment, write_key):
    for raw in (
        b'{"batch": [{"type": "track", "userId": "u", "event": "E", "properties": {"x": NaN}}]}',
        b'{"batch": [{"type": "track", "userId": "u", "event": "E", "properties": {"x": 1e999}}]}',
    ):
        response = post_segment("batch", None, raw=raw, key=write_key)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_json"
    assert stored_ids() == []


def nested(depth: int) -> bytes:
    return (
        b'{"type": "track", "userId": "u", "event": "E", "properties": {"x": '
        + b"[" * depth
        + b"]" * depth
        + b"}}"
    )


@pytest.mark.parametrize("depth", [300, 5000])
def test_json_nested_too_deeply_gets_400(post_segment, write_key, depth):
    response = post_segment("track", None, raw=nested(depth), key=write_key)

    assert response.status_code == 400
    assert response.json()["code"] in {"too_deep", "invalid_json"}
    assert stored_ids() == []


def test_deep_nesting_in_a_batch_is_rejected_alone(post_segment, write_key):
    deep = json.loads(nested(300))
    body = batch_of({"type": "track", **deep}, {"type": "track", **track("ok")})

    response = post_segment("batch", body, key=write_key)

    assert response.status_code == 200
    assert [(e["index"], e["code"]) for e in response.json()["errors"]] == [(0, "too_deep")]
    assert stored_ids() == ["ok"]


def test_nesting_within_the_limit_is_stored(post_segment, write_key):
    response = post_segment("track", None, raw=nested(200), key=write_key)

    assert response.status_code == 200
    assert len(stored_ids()) == 1


def test_integers_beyond_64_bits_do_not_fail_the_message(post_segment, write_key):
    raw = b'{"type": "track", "userId": "u", "event": "E", "properties": {"big": 1%s}}' % (
        b"0" * 29
    )

    response = post_segment("track", None, raw=raw, key=write_key)

    assert response.status_code == 200
    assert Event.objects.get().properties["big"] == pytest.approx(1e29)


# --- Native API -----------------------------------------------------------------------------------


def test_native_api_anonymous_gets_401(anonymous):
    response = anonymous.post("/api/v1/events/", {"type": "track", **track()}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert stored_ids() == []


def test_native_api_rep_gets_403(rep_client):
    response = rep_client.post("/api/v1/events/", {"type": "track", **track()}, format="json")

    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "message": "Only marketers and admins may push events.",
    }
    assert stored_ids() == []


def test_native_api_marketer_pushes_one_event(marketer_client):
    response = marketer_client.post("/api/v1/events/", {"type": "track", **track()}, format="json")

    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "rejected": 0, "errors": [], "errors_total": 0}
    event = Event.objects.get()
    assert (event.source.name, event.source.internal) == ("api", True)


def test_native_api_admin_pushes_a_list_with_a_bad_one(admin_client_api):
    body = [
        {"type": "track", **track("a")},
        {"type": "track"},
        {"type": "page", "anonymousId": "x"},
    ]

    response = admin_client_api.post("/api/v1/events/", body, format="json")

    assert response.status_code == 200
    assert (response.json()["accepted"], response.json()["rejected"]) == (2, 1)
    assert Event.objects.count() == 2


def test_native_api_single_bad_event_gets_400(marketer_client):
    response = marketer_client.post("/api/v1/events/", {"type": "track"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "missing_id"
    assert stored_ids() == []


def test_native_api_refuses_other_bodies(marketer_client):
    response = marketer_client.post("/api/v1/events/", "42", content_type="application/json")

    assert response.status_code == 400
    assert stored_ids() == []


def test_native_api_with_a_real_token(client, marketer):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=marketer)

    response = client.post(
        "/api/v1/events/",
        data=json.dumps([{"type": "track", **track()}]),
        content_type="application/json",
        headers={"Authorization": f"Token {token.key}"},
    )

    assert response.status_code == 200
    assert stored_ids() == ["m1"]


def test_native_api_over_500_kb_gets_413(marketer_client):
    body = [{"type": "track", **track(f"m{i}", properties={"p": "x" * 20_000})} for i in range(26)]

    response = marketer_client.post("/api/v1/events/", body, format="json")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert stored_ids() == []


def test_segment_source_is_distinct_from_the_native_one(post_segment, marketer_client, write_key):
    post_segment("track", track("same"), key=write_key)
    marketer_client.post("/api/v1/events/", {"type": "track", **track("same")}, format="json")

    assert sorted(
        Source.objects.filter(events__message_id="same").values_list("name", flat=True)
    ) == [
        "api",
        "website",
    ]
