"""Log-in lockout (django-axes), fitted to leadcrm.

After AXES_FAILURE_LIMIT failed log-ins within the cool-off time, the account (whatever the
address) and the address (whatever the account) are locked out until the cool-off ends, or
until an admin unlocks them (the admin's "Access attempts": delete the rows; or
`manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS`). Both the log-in page and the
admin's log-in are covered.
"""

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render

from core import ratelimit


class LockoutBackend(AxesStandaloneBackend):  # type: ignore[misc]  # axes is untyped
    """Axes' check before the password backend. A call without a request (a management
    command, a script: no address to count) is not a web log-in and is not checked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request) -> str | None:
    """The address a log-in is counted under: the same trusted-proxy rule as every other
    per-address limit (TRUSTED_PROXY_HOPS, core.ratelimit.client_ip); None when that is not
    an address (the account is still counted)."""
    return ratelimit.client_ip(request)


def locked_out(request, original_response, credentials) -> HttpResponse:
    """The answer to a locked-out log-in: a page that says so and for how long (429, with
    Retry-After). Nothing tells whether the account or the address tripped the lock."""
    minutes = settings.LOGIN_LOCKOUT_MINUTES
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": minutes}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
