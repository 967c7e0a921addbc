"""Django's error pages, in the API's error shape under /api/ and /v1/.

DRF answers its own errors as {"code", "message"} (core/errors.py); what Django answers before
a DRF view runs (an id that does not fit the URL, a body with too many fields) or after one
fails (a 500) would be an HTML page there. API clients get JSON; pages get Django's pages.
"""

from django.http import JsonResponse
from django.views import defaults

_API_PREFIXES = ("/api/", "/v1/")


def _is_api(request) -> bool:
    return request.path.startswith(_API_PREFIXES)


def bad_request(request, exception):
    if _is_api(request):
        return JsonResponse({"code": "bad_request", "message": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def not_found(request, exception):
    if _is_api(request):
        return JsonResponse({"code": "not_found", "message": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    # No detail: what failed is in the log (django.request), never in the answer.
    if _is_api(request):
        message = "The server failed to answer; the error is logged."
        return JsonResponse({"code": "server_error", "message": message}, status=500)
    return defaults.server_error(request)
