"""JSON for the ingestion hot path: orjson, with the standard library behind it for edge cases.

orjson decodes and encodes several times faster than `json`, which matters at a few hundred
encodes per request. It refuses some things the standard library takes (integers beyond 64 bits,
lone surrogates in strings, Decimal values from Python callers); those go through `json`, so an
odd value costs time, never a message.
"""

import json
import math

import orjson
from django.core.serializers.json import DjangoJSONEncoder

_ENCODER = DjangoJSONEncoder(separators=(",", ":"), allow_nan=False)


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def loads(data: bytes):
    """Decode a request body. NaN and Infinity are refused: PostgreSQL's jsonb cannot hold them."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # Slow path: big integers or lone surrogates (which check_text rejects per message).
        try:
            return json.loads(data, parse_constant=_no_constants, parse_float=_finite)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


MAX_DEPTH = 254  # orjson's own limit; jsonb nests deeper


class TooDeep(ValueError):
    pass


def _encode(value) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        if "recursion" in str(exc).lower():
            raise TooDeep(f"JSON nested more than {MAX_DEPTH} levels") from None
        # Big ints, Decimal, lazy strings, non-str keys: the standard library takes them.
        return _ENCODER.encode(value).encode()


def dumps(value) -> str:
    """Encode one JSON column value. Raises ValueError/TypeError for what JSON cannot hold."""
    return _encode(value).decode()


def encoded_size(value) -> int:
    """Bytes of `value` as compact JSON (non-ASCII escaped only when orjson cannot encode it)."""
    return len(_encode(value))
