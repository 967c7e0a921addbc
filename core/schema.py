"""The OpenAPI schema, made true about errors.

drf-spectacular documents each operation's success answers only; every operation can also
answer an error, always in one shape (core/errors.py). This hook documents it: the API's error
body as `Error`, and for each operation the error statuses it may answer (a `default` entry
for the rest), so that clients, and the schema fuzzing in the tests, know what to expect.
"""

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every 4xx answer of the API.",
    "properties": {
        "code": {"type": "string", "description": "Stable, machine-readable: `invalid`, ..."},
        "message": {"type": "string", "description": "For people."},
        "fields": {
            "type": "object",
            "description": "Per-field messages, for `invalid`.",
            "additionalProperties": True,
        },
    },
    "required": ["code", "message"],
}
_REF = {"$ref": "#/components/schemas/Error"}
_ERRORS = {
    "400": "The request is not valid (`code` says why; `fields` which fields).",
    "401": "Not signed in, or the token is not valid.",
    "403": "Signed in, but not allowed to do this.",
    "404": "No such object (or none the caller may see), or no such page.",
    "429": "Too many requests: wait `Retry-After` seconds.",
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": _REF}}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, description in _ERRORS.items():
                responses.setdefault(status, {"description": description, "content": content})
            responses.setdefault("default", {"description": "Any other error.", "content": content})
    return result
