"""Hand validation of single messages (pure, no database)."""

from datetime import UTC, datetime, timedelta

import pytest

from events.parsing import Invalid, check_values, message_size, parse_message

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def parse(raw):
    return parse_message(raw, index=0, received_at=NOW)


def code_of(raw) -> str:
    with pytest.raises(Invalid) as exc:
        parse(raw)
    return exc.value.code


def test_track_keeps_its_fields():
    message = parse(
        {
            "type": "track",
            "userId": "u1",
            "anonymousId": "a1",
            "event": "Demo Requested",
            "messageId": "m1",
            "properties": {"plan": "pro"},
            "context": {"ip": "1.2.3.4"},
            "timestamp": "2026-03-01T11:00:00Z",
        }
    )

    assert (message.type, message.name, message.message_id) == ("track", "Demo Requested", "m1")
    assert (message.user_id, message.anonymous_id) == ("u1", "a1")
    assert message.properties == {"plan": "pro"}
    assert message.context == {"ip": "1.2.3.4"}
    assert message.occurred_at == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)


def test_clock_skew_is_corrected_by_sent_at():
    # The device clock runs 10 minutes fast: it says it sent at 12:10 what we got at 12:00.
    message = parse(
        {
            "type": "track",
            "userId": "u1",
            "event": "X",
            "timestamp": "2026-03-01T12:05:00Z",
            "sentAt": "2026-03-01T12:10:00Z",
        }
    )

    assert message.occurred_at == NOW - timedelta(minutes=5)


def test_rudderstacks_original_timestamp_is_the_time_corrected_by_sent_at():
    # RudderStack's JavaScript SDK sends the device's time as originalTimestamp, no timestamp.
    message = parse(
        {
            "type": "page",
            "anonymousId": "a",
            "originalTimestamp": "2026-03-01T12:05:00Z",
            "sentAt": "2026-03-01T12:10:00Z",
        }
    )

    assert message.occurred_at == NOW - timedelta(minutes=5)


def test_timestamp_wins_over_original_timestamp():
    message = parse(
        {
            "type": "page",
            "anonymousId": "a",
            "timestamp": "2026-03-01T11:00:00Z",
            "originalTimestamp": "2026-03-01T10:00:00Z",
        }
    )

    assert message.occurred_at == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)


def test_unreadable_original_timestamp_is_refused():
    raw = {"type": "page", "anonymousId": "a", "originalTimestamp": "soon"}

    assert code_of(raw) == "invalid_timestamp"


def test_missing_timestamp_means_received_time():
    assert parse({"type": "page", "anonymousId": "a"}).occurred_at == NOW


def test_naive_timestamp_is_utc_and_offsets_are_honoured():
    naive = parse(
        {"type": "track", "userId": "u", "event": "X", "timestamp": "2026-03-01T10:00:00"}
    )
    offset = parse(
        {"type": "track", "userId": "u", "event": "X", "timestamp": "2026-03-01T10:00:00+02:00"}
    )

    assert naive.occurred_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert offset.occurred_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_numeric_ids_are_stringified_and_a_missing_message_id_is_generated():
    message = parse({"type": "track", "userId": 42, "event": "X"})

    assert message.user_id == "42"
    assert len(message.message_id) == 32


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("a string", "not_an_object"),
        ([1, 2], "not_an_object"),
        ({"type": "explode", "userId": "u"}, "unknown_type"),
        ({"userId": "u", "event": "X"}, "unknown_type"),
        ({"type": "track", "userId": "u"}, "missing_event"),
        ({"type": "track", "userId": "u", "event": "  "}, "missing_event"),
        ({"type": "track", "userId": "u", "event": 5}, "missing_event"),
        ({"type": "track", "event": "X"}, "missing_id"),
        ({"type": "track", "userId": "", "anonymousId": None, "event": "X"}, "missing_id"),
        ({"type": "alias", "userId": "u"}, "missing_id"),
        ({"type": "group", "userId": "u"}, "missing_id"),
        (
            {"type": "track", "userId": "u", "event": "X", "timestamp": "yesterday"},
            "invalid_timestamp",
        ),
        (
            {"type": "track", "userId": "u", "event": "X", "timestamp": 1700000000},
            "invalid_timestamp",
        ),
        ({"type": "track", "userId": "u", "event": "X", "sentAt": "soon"}, "invalid_timestamp"),
        ({"type": "track", "userId": {"x": 1}, "event": "X"}, "invalid_id"),
        ({"type": "track", "userId": "u" * 256, "event": "X"}, "invalid_id"),
        ({"type": "track", "userId": "u", "event": "X", "properties": [1]}, "invalid_field"),
        ({"type": "identify", "userId": "u", "traits": "x"}, "invalid_field"),
    ],
)
def test_malformed_messages_are_refused_with_a_code(raw, code):
    assert code_of(raw) == code


def test_identify_traits_come_from_traits_or_context_traits():
    from_context = parse({"type": "identify", "userId": "u", "context": {"traits": {"a": 1}}})
    merged = parse(
        {
            "type": "identify",
            "userId": "u",
            "traits": {"a": 2, "b": 3},
            "context": {"traits": {"a": 1, "c": 4}},
        }
    )

    assert from_context.traits == {"a": 1}
    assert merged.traits == {"a": 2, "b": 3, "c": 4}


def test_alias_and_group_keep_their_ids():
    alias = parse({"type": "alias", "userId": "new", "previousId": "old"})
    group = parse({"type": "group", "userId": "u", "groupId": "acme", "traits": {"plan": "x"}})

    assert (alias.user_id, alias.previous_id) == ("new", "old")
    assert (group.group_id, group.traits) == ("acme", {"plan": "x"})


def test_text_check_refuses_nul_and_lone_surrogates_anywhere():
    check_values({"properties": {"fine": ["ok", "é"]}})
    with pytest.raises(Invalid):
        check_values({"properties": {"bad": "a\x00b"}})
    with pytest.raises(Invalid):
        check_values({"properties": {"k\ud800": 1}})


def test_message_size_counts_utf8_bytes():
    assert message_size({"a": "é"}) == len('{"a":"é"}'.encode())
