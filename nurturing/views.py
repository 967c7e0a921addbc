"""Public pages reached from inside an email: unsubscribe, the open pixel, tracked links.

No login: the signed token in the URL is the only authority, and a token that does not verify
changes nothing (400).
"""

import base64

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from core.ratelimit import client_ip
from nurturing import emails, services

# The smallest transparent GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _message_id(token: str, salt: str) -> int | None:
    try:
        value = emails.read_token(token, salt=salt)
    except emails.BadToken:
        return None
    return value if isinstance(value, int) else None


def _bad_link(request):
    return render(request, "nurturing/bad_link.html", status=400)


# RFC 8058: the mailbox provider POSTs "List-Unsubscribe=One-Click" with no cookie and no CSRF
# token; the signed token is what authorises the request.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    message_id = _message_id(token, emails.SALT_UNSUBSCRIBE)
    if message_id is None:
        return _bad_link(request)
    if request.method == "POST":
        services.unsubscribe(message_id=message_id, ip=client_ip(request))
        return render(request, "nurturing/unsubscribed.html")
    # GET only asks: link scanners fetch every URL in an email, and must not unsubscribe anyone.
    return render(request, "nurturing/unsubscribe_confirm.html", {"token": token})


@never_cache
@require_GET
def open_pixel(request, token: str):
    message_id = _message_id(token, emails.SALT_OPEN)
    if message_id is None:
        return HttpResponseBadRequest("Bad link.", content_type="text/plain")
    services.open_record(message_id=message_id)
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def click(request, token: str):
    try:
        value = emails.read_token(token, salt=emails.SALT_CLICK)
        message_id, url = value
    except (emails.BadToken, TypeError, ValueError):
        return _bad_link(request)
    # Only the URL that was signed into the email, and only to the web: no open redirect.
    if not (isinstance(message_id, int) and isinstance(url, str) and emails.is_safe_target(url)):
        return _bad_link(request)
    services.click_record(message_id=message_id, url=url)
    return HttpResponseRedirect(url)
