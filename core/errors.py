"""One error shape for the whole API: {"code": ..., "message": ..., "fields": {...}}.

Services raise `ApiError` subclasses (or Django's ValidationError); DRF's own errors are
reshaped here so every 4xx has a machine-readable `code` and a human `message`.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.views import exception_handler


class ApiError(exceptions.APIException):
    """A domain error with a stable code. Subclass per meaning, raise from services."""

    # Annotated so that subclasses may use any status (the stubs infer Literal[400] otherwise).
    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = "Bad request."
    # Always one message (a text, never a list or dict), so `detail.code` is our code.
    detail: exceptions.ErrorDetail

    def __init__(self, message: str | None = None, *, code: str | None = None, fields=None):
        super().__init__(message or self.default_detail, code or self.default_code)
        self.fields = fields or {}


def validated(serializer) -> dict:
    """The serializer's validated data, or the API's 400 with per-field errors."""
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class Conflict(ApiError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state."


class Forbidden(ApiError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "permission_denied"
    default_detail = "You do not have permission to do that."


_DEFAULT_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
}


def _flatten(detail):
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _first_message(fields) -> str:
    for key, value in fields.items():
        while isinstance(value, (list, dict)) and value:
            value = value[0] if isinstance(value, list) else next(iter(value.values()))
        prefix = "" if key == "non_field_errors" else f"{key}: "
        return f"{prefix}{value}"
    return "Invalid input."


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        messages = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = exceptions.ValidationError(messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    body: dict[str, Any] = {"code": _DEFAULT_CODES.get(response.status_code, "error")}
    if isinstance(exc, ApiError):
        body.update(code=str(exc.detail.code), message=str(exc.detail))
        if exc.fields:
            body["fields"] = exc.fields
    elif isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields if isinstance(fields, list) else [fields]}
        body.update(code="invalid", message=_first_message(fields), fields=fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        if isinstance(codes, str):
            body["code"] = codes
        body["message"] = str(detail)
    response.data = body
    return response


def errors_to_form(form, exc: ApiError, *, word=lambda field, text: text) -> None:
    """Put a service's refusal on a page's Django form: each field's messages on the field of
    that name (or on the form when it has none), and the message itself on the form when the
    refusal names no field or is a permission refusal (whose `fields` name what was refused,
    not why). `word(field, text)` may reword a message for the page."""
    fields = getattr(exc, "fields", None) or {}
    if not fields or exc.status_code == status.HTTP_403_FORBIDDEN:
        form.add_error(None, str(exc.detail))
        return
    for name, messages in fields.items():
        target = name if name in form.fields else None
        for message in messages if isinstance(messages, list) else [messages]:
            form.add_error(target, word(name, str(message)))
