"""The address of the request being served, for the audit rows its services write.

A middleware sets it for each request; services never take a request, so the audit reads it
from here (a context variable: each thread or task has its own, and it is reset after the
request).
"""

from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from core.ratelimit import client_ip

request_ip: ContextVar[str | None] = ContextVar("audit_request_ip", default=None)


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = request_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            request_ip.reset(token)
