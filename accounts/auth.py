"""The user behind a request that only a logged-in user can reach."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework.request import Request

from accounts.models import User


def request_user(request: HttpRequest | Request) -> User:
    """`request.user` in a view behind IsAuthenticated (every API view unless it says otherwise)
    or login_required, typed as our User rather than `User | AnonymousUser`."""
    user = request.user
    if not isinstance(user, User):
        # The permission check runs before the view: reaching here anonymous is a wiring bug.
        raise PermissionDenied("Log in first.")
    return user


def marketing_user(request: HttpRequest, *, refusal: str) -> User:
    """`request_user` for a page that is marketing's (marketers and admins): anyone else gets
    a 403 saying `refusal`."""
    user = request_user(request)
    if not user.does_marketing:
        raise PermissionDenied(refusal)
    return user


def sales_manager_user(request: HttpRequest, *, refusal: str) -> User:
    """`request_user` for a page of sales management (sales managers and admins): anyone else
    gets a 403 saying `refusal`."""
    user = request_user(request)
    if not user.manages_sales:
        raise PermissionDenied(refusal)
    return user
