"""Request guards that apply to every URL: pages, the API, the admin and ingestion alike."""

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


class RejectBadTextMiddleware:
    """A NUL character (or an unpaired surrogate) in the address, a query parameter or a form
    field is a 400 `invalid_text` here, before a filter or a form hands it to PostgreSQL
    (which refuses it with an error, a 500). JSON bodies are checked by core.parsers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = _problem(request)
        if problem:
            return JsonResponse({"code": "invalid_text", "message": problem}, status=400)
        return self.get_response(request)
