"""The WSGI application: the site's middleware for people, shorter stacks where nobody logs in.

Browsers' and servers' analytics libraries call the write-key endpoints (`/v1/...`, RudderStack's
`/beacon/v1/...` and `/sourceConfig`) thousands of times a second, one call a request from a
website's visitors; visitors fill the public forms (`/f/...`). None of those requests has a
session, a log-in, a CSRF token, a flash message, an htmx swap or a log-in lockout to check,
yet the site's middleware for those cost about 0.25 ms of CPU a request: a fifth of what a
browser call costs the server (cookie parsing, the session and message storages set up, the
user and its second factor wrapped).

So a request to one of `MACHINE_PATH_PREFIXES` goes through `MACHINE_MIDDLEWARE` (the guards
that apply to every URL: HTTPS and security headers, the text guard, a fixed CSP for JSON, the
audit's address), one to `PUBLIC_PATH_PREFIXES` through `PUBLIC_MIDDLEWARE` (the same with the
pages' CSP and clickjacking header: the hosted forms are pages), and everything else through
`MIDDLEWARE`. All stacks end in the same URLconf and views; the prefixes hold only views that
read neither `request.user` nor `request.session` (a test walks the URLconf to check).

Django's test client builds its own handler from `MIDDLEWARE`; tests of this split call the
application itself (tests/core/test_wsgi.py) and run it under gunicorn (the SDK tests).
"""

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler


class StackHandler(WSGIHandler):
    """Django's WSGI handler with another list of middleware than settings.MIDDLEWARE."""

    def __init__(self, middleware: list[str]) -> None:
        self.middleware = middleware
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds the chain from settings.MIDDLEWARE; at start-up (before any request,
        # on one thread) that setting is this handler's list for as long as this takes.
        site = settings.MIDDLEWARE
        settings.MIDDLEWARE = self.middleware
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = site


class SplitApplication:
    """Hands each request to the handler of the first stack whose prefixes its path starts
    with, else to the site's."""

    def __init__(self) -> None:
        self.site = WSGIHandler()
        self.machine = StackHandler(settings.MACHINE_MIDDLEWARE)
        self.public = StackHandler(settings.PUBLIC_MIDDLEWARE)
        self.stacks = (
            (tuple(settings.MACHINE_PATH_PREFIXES), self.machine),
            (tuple(settings.PUBLIC_PATH_PREFIXES), self.public),
        )

    def handler_for(self, path: str) -> WSGIHandler:
        for prefixes, handler in self.stacks:
            if path.startswith(prefixes):
                return handler
        return self.site

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        # PATH_INFO is the path below the script name, which Django's URLconf resolves too.
        return self.handler_for(environ.get("PATH_INFO", ""))(environ, start_response)


def get_application() -> SplitApplication:
    """The application (Django set up first, as get_wsgi_application does)."""
    import django

    django.setup(set_prefix=False)
    return SplitApplication()
