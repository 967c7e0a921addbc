"""The WSGI application: the site's middleware for people, a shorter stack for SDKs.

Browsers' and servers' analytics libraries call the write-key endpoints (`/v1/...`, RudderStack's
`/beacon/v1/...` and `/sourceConfig`) thousands of times a second, one call a request from a
website's visitors. None of those requests has a session, a log-in, a CSRF token, a flash
message, an htmx swap or a log-in lockout to check, yet the site's middleware for those cost
about 0.25 ms of CPU a request: a fifth of what a browser call costs the server (cookie
parsing, the session and message storages set up, the user and its second factor wrapped).

So a request to one of `MACHINE_PATH_PREFIXES` goes through `MACHINE_MIDDLEWARE` (the guards
that apply to every URL: HTTPS and security headers, the text guard, CSP, the clickjacking
header, the audit's address) and everything else through `MIDDLEWARE`. Both stacks end in the
same URLconf and views; the prefixes hold only views that take a write key (no view of
theirs reads `request.user` or `request.session`).

Django's test client builds its own handler from `MIDDLEWARE`; tests of this split call the
application itself (tests/core/test_wsgi.py) and run it under gunicorn (the SDK tests).
"""

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler


class MachineHandler(WSGIHandler):
    """Django's WSGI handler with `MACHINE_MIDDLEWARE` for its middleware."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds the chain from settings.MIDDLEWARE; at start-up (before any request,
        # on one thread) that setting is the machine list for as long as this takes.
        site = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.MACHINE_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = site


class SplitApplication:
    """Hands each request to the machine handler or the site's, by its path."""

    def __init__(self) -> None:
        self.site = WSGIHandler()
        self.machine = MachineHandler()
        self.prefixes = tuple(settings.MACHINE_PATH_PREFIXES)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        # PATH_INFO is the path below the script name, which Django's URLconf resolves too.
        path = environ.get("PATH_INFO", "")
        handler = self.machine if path.startswith(self.prefixes) else self.site
        return handler(environ, start_response)


def get_application() -> SplitApplication:
    """The application (Django set up first, as get_wsgi_application does)."""
    import django

    django.setup(set_prefix=False)
    return SplitApplication()
