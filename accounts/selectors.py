"""Reads of users, scoped by who asks: admins see everyone, sales managers the sales reps and
themselves, anybody else only themselves."""

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import Role, User


def user_visible_q(actor: User) -> Q:
    if actor.is_admin:
        return Q()
    if actor.manages_sales:
        return Q(role=Role.REP, is_superuser=False) | Q(pk=actor.pk)
    return Q(pk=actor.pk)


def user_list(*, actor: User) -> QuerySet[User]:
    return User.objects.filter(user_visible_q(actor)).order_by("username", "id")


def user_get(*, actor: User, user_id) -> User:
    """The user, or Http404 when it does not exist or `actor` may not see it."""
    try:
        return user_list(actor=actor).get(pk=user_id)
    except (User.DoesNotExist, ValueError, TypeError):
        raise Http404("No such user.") from None
