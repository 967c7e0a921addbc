"""Hand validation of Segment-shaped messages. Pure: no ORM, no I/O.

A DRF serializer per event costs more than the insert it guards (see issue 3), so each message
is checked with plain dict and type tests. A bad message raises `Invalid` with a stable code;
the caller turns it into a per-message error and keeps the others.
"""

import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from core.text import text_problem
from events import jsonfast
from events.models import EventType

MAX_MESSAGE_BYTES = 32 * 1024
MAX_REQUEST_BYTES = 500 * 1024
MAX_ID_LENGTH = 255
TYPES = frozenset(EventType.values)

# Only these escapes can produce text PostgreSQL refuses (NUL) or UTF-8 cannot encode (a lone
# surrogate); raw control bytes and invalid UTF-8 already fail JSON decoding. A body without
# them needs no per-string scan.
SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class Invalid(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class Message:
    """One valid message, reduced to the columns an event row has."""

    index: int
    type: str
    message_id: str
    name: str
    user_id: str
    anonymous_id: str
    previous_id: str
    group_id: str
    properties: dict
    traits: dict
    context: dict
    occurred_at: datetime


def parse_time(value, field: str) -> datetime | None:
    """An ISO-8601 string as an aware datetime (UTC when no offset is given), or None."""
    if value is None:
        return None
    if isinstance(value, datetime):  # Python callers (the app's own events) may pass one
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise Invalid("invalid_timestamp", f"{field} must be an ISO-8601 string.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("invalid_timestamp", f"{field} is not a readable ISO-8601 time.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _id(value, field: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)  # SDKs accept numeric ids and stringify them; so do we
    else:
        raise Invalid("invalid_id", f"{field} must be a string.")
    if len(text) > MAX_ID_LENGTH:
        raise Invalid("invalid_id", f"{field} is longer than {MAX_ID_LENGTH} characters.")
    return text


def _object(value, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid("invalid_field", f"{field} must be an object.")
    return value


def _name(msg: dict, kind: str) -> str:
    if kind == "track":
        event = msg.get("event")
        if not isinstance(event, str) or not event.strip():
            raise Invalid("missing_event", "A track call needs an `event` name.")
        name = event
    elif kind in ("page", "screen"):
        name = msg.get("name") or ""
        if not isinstance(name, str):
            raise Invalid("invalid_field", "name must be a string.")
    else:
        return ""
    if len(name) > MAX_ID_LENGTH:
        raise Invalid("invalid_field", f"The name is longer than {MAX_ID_LENGTH} characters.")
    return name


def parse_message(raw, *, index: int, received_at: datetime, kind: str | None = None) -> Message:
    """Validate one message. `kind` is the endpoint's type for /v1/track and the like."""
    if not isinstance(raw, dict):
        raise Invalid("not_an_object", "A message must be a JSON object.")
    kind = kind or raw.get("type")
    if kind not in TYPES:
        raise Invalid("unknown_type", f"Unknown message type {raw.get('type')!r}.")
    user_id = _id(raw.get("userId"), "userId")
    anonymous_id = _id(raw.get("anonymousId"), "anonymousId")
    previous_id = group_id = ""
    if kind == "alias":
        previous_id = _id(raw.get("previousId"), "previousId")
        if not previous_id or not user_id:
            raise Invalid("missing_id", "An alias call needs both `previousId` and `userId`.")
    elif not user_id and not anonymous_id:
        raise Invalid("missing_id", "A message needs a `userId` or an `anonymousId`.")
    if kind == "group":
        group_id = _id(raw.get("groupId"), "groupId")
        if not group_id:
            raise Invalid("missing_id", "A group call needs a `groupId`.")
    name = _name(raw, kind)
    context = _object(raw.get("context"), "context")
    properties = _object(raw.get("properties"), "properties")
    traits = {}
    if kind in ("identify", "group"):
        # Segment's libraries send identify traits in `traits`, RudderStack's in context.traits.
        traits = {
            **_object(context.get("traits"), "context.traits"),
            **_object(raw.get("traits"), "traits"),
        }
    if kind == "page" and isinstance(raw.get("category"), str) and "category" not in properties:
        properties = {**properties, "category": raw["category"]}
    message_id = _id(raw.get("messageId"), "messageId") or uuid.uuid4().hex
    return Message(
        index=index,
        type=kind,
        message_id=message_id,
        name=name,
        user_id=user_id,
        anonymous_id=anonymous_id,
        previous_id=previous_id,
        group_id=group_id,
        properties=properties,
        traits=traits,
        context=context,
        occurred_at=_occurred_at(raw, received_at),
    )


def _occurred_at(raw: dict, received_at: datetime) -> datetime:
    """The message's time, corrected for the sender's clock skew when it says when it sent.

    Segment's rule: timestamp = receivedAt - (sentAt - originalTimestamp). RudderStack's
    JavaScript SDK sends the device's time as `originalTimestamp` and no `timestamp`.
    """
    if raw.get("timestamp") is None and raw.get("originalTimestamp") is not None:
        timestamp = parse_time(raw.get("originalTimestamp"), "originalTimestamp")
    else:
        timestamp = parse_time(raw.get("timestamp"), "timestamp")
    sent_at = parse_time(raw.get("sentAt"), "sentAt")
    if timestamp is None:
        return received_at
    if sent_at is None:
        return timestamp
    return received_at - (sent_at - timestamp)


def check_values(value, path: str = "message") -> None:
    """Refuse what PostgreSQL or JSON cannot hold: NUL characters and lone surrogates in text
    (keys included), and NaN or infinite numbers (a Python caller's floats)."""
    if isinstance(value, str):
        problem = text_problem(value)  # the same check as every other way in (core.text)
        if problem:
            raise Invalid("invalid_text", f"{path} contains {problem}.")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Invalid("invalid_number", f"{path} is not a finite number.")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_values(key, path)
            check_values(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for item in value:
            check_values(item, path)


def message_size(raw) -> int:
    """Bytes of a message as compact JSON: the measure of the 32 KB limit. Encoding it also
    proves the message can be stored (not nested too deeply, nothing JSON cannot hold)."""
    try:
        return jsonfast.encoded_size(raw)
    except jsonfast.TooDeep as exc:
        raise Invalid("too_deep", str(exc)) from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise Invalid("invalid_field", f"The message cannot be stored as JSON: {exc}") from None
