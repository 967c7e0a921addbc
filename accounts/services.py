# TEMPORARY (pages branch): replaced by the decisions/routing helpers' implementation at merge
"""Users' writes, reduced to what the inbox page needs to run its tests: the real module (the
ROUTING helper's) replaces this file whole, with the same names and arguments."""

from datetime import datetime

from django.db import transaction

from accounts.models import User
from core.errors import Forbidden


@transaction.atomic
def user_set_away(
    *, user_id: int, actor: User, is_away: bool, away_until: datetime | None = None
) -> User:
    if actor.pk != user_id and not actor.manages_sales:
        raise Forbidden("Only the rep or a sales manager may change this.")
    user = User.objects.select_for_update().get(pk=user_id)
    user.is_away, user.away_until = is_away, away_until if is_away else None
    user.save(update_fields=["is_away", "away_until"])
    return user
