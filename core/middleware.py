"""Request guards that apply to every URL: pages, the API, the admin and ingestion alike."""

from collections.abc import Callable
from typing import Any

from django.http import JsonResponse

from core import text

# Form bodies the guard reads; anything else (JSON, CSV uploads' files) is its parser's job.
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _problem(request) -> str | None:
    problem = text.text_problem(request.path)
    if problem:
        return f"The address contains {problem}."
    query = request.GET
    problem = text.strings_problem(query.keys()) or text.strings_problem(
        value for values in query.lists() for value in values[1]
    )
    if problem:
        return f"A query parameter contains {problem}."
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        form = request.POST
        problem = text.strings_problem(form.keys()) or text.strings_problem(
            value for values in form.lists() for value in values[1]
        )
        if problem:
            return f"A form field contains {problem}."
    return None


def checks_own_text[View: Callable[..., Any]](view: View) -> View:
    """Mark a view that validates every text it takes itself and answers a problem its own way
    (the public lead-capture forms: a visitor sees the form again, with the field's message)."""
    view.checks_own_text = True  # type: ignore[attr-defined]
    return view


class RejectBadTextMiddleware:
    """A NUL character (or an unpaired surrogate) in the address, a query parameter or a form
    field is a 400 `invalid_text` here, before a filter or a form hands it to PostgreSQL
    (which refuses it with an error, a 500). JSON bodies are checked by core.parsers.

    Checked once the view is known (process_view), so that a view marked `checks_own_text`
    is left to do it; an address that matches no view is a 404 anyway."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "checks_own_text", False):
            return None
        problem = _problem(request)
        if problem:
            return JsonResponse({"code": "invalid_text", "message": problem}, status=400)
        return None


# A JSON answer is never a document: nothing in it may load, and no page may frame it.
MACHINE_CSP = "default-src 'none'; frame-ancestors 'none'"


class MachineHeadersMiddleware:
    """The SDK endpoints' security headers (core/wsgi.py's shorter stack), in place of the CSP
    and clickjacking middleware of pages: a fixed, stricter policy, set without building one
    for each answer (Django's CSP middleware builds its policy on every response)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", MACHINE_CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
