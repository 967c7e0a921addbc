"""Saved views of the lead list: a user's named filters and sort. Private to their user: another
user's view is a 404, whether they read, apply or delete it."""

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, QueryDict

from accounts.models import User
from core.errors import ApiError
from leads.listing import list_query
from leads.models import SavedView

NAME_MAX = 80
# Enough for every habit; a bound, so a script cannot fill the table.
PER_USER_MAX = 50


def saved_view_list(*, user: User) -> QuerySet[SavedView]:
    return SavedView.objects.filter(user=user).order_by("name", "id")


def saved_view_get(*, user: User, view_id: int) -> SavedView:
    """The user's view, or Http404 (someone else's views do not exist for them)."""
    view = saved_view_list(user=user).filter(pk=view_id).first()
    if view is None:
        raise Http404("No such saved view.")
    return view


@transaction.atomic
def saved_view_save(*, user: User, name: str, params: QueryDict) -> SavedView:
    """Save the list's filters and sort (from `params`, the cursor dropped) under `name`; a view
    of the same name is replaced."""
    name = " ".join(name.split())
    if not name or len(name) > NAME_MAX:
        message = f"Give the view a name of 1 to {NAME_MAX} characters."
        raise ApiError(message, code="invalid", fields={"name": [message]})
    query = list_query(params).urlencode()
    # The user's row lock serialises their saves: two of one new name make one view, and
    # the bound holds.
    User.objects.select_for_update().filter(pk=user.pk).first()
    existing = SavedView.objects.filter(user=user, name=name).first()
    if existing is not None:
        existing.query = query
        existing.save(update_fields=["query"])
        return existing
    if SavedView.objects.filter(user=user).count() >= PER_USER_MAX:
        raise ApiError(
            f"You have {PER_USER_MAX} saved views: delete one first.", code="too_many_views"
        )
    return SavedView.objects.create(user=user, name=name, query=query)


@transaction.atomic
def saved_view_delete(*, user: User, view_id: int) -> None:
    saved_view_get(user=user, view_id=view_id).delete()
