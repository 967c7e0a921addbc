"""Personal API tokens: created (the key shown once), listed, revoked, and checked on every
API request (`accounts.authentication`).

Keys are kept as SHA-256 digests. Tokens made by DRF's `drf_create_token` command (the
`authtoken` table, one per user, no expiry) keep working: the authentication falls back to
them, and the tokens page lists and revokes them too.
"""

import secrets
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.authentication import KEY_PREFIX, key_digest
from accounts.models import ApiToken, User
from core import hooks
from core.errors import ApiError


def _digest(key: str) -> str:
    return key_digest(key)


class InvalidToken(ApiError):
    default_code = "invalid"
    default_detail = "The token needs a name and, if it expires, a time in the future."


@transaction.atomic
def token_create(
    *, user: User, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for `user`; returns it and its key (never stored, never shown again)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidToken(fields={"name": ["A name of 1 to 100 characters."]})
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidToken(fields={"expires_at": ["Must be in the future."]})
    key = KEY_PREFIX + secrets.token_hex(20)
    token = ApiToken.objects.create(
        user=user, name=name, key_digest=_digest(key), prefix=key[:9], expires_at=expires_at
    )
    hooks.account_changed.call(
        user, "token.create", user, {"token": [None, name], "expires_at": [None, expires_at]}
    )
    return token, key


@transaction.atomic
def token_revoke(*, user: User, token_id: int) -> bool:
    """Delete one of `user`'s tokens (another user's id: False, nothing changes)."""
    token = ApiToken.objects.filter(user=user, pk=token_id).first()
    if token is None:
        return False
    token.delete()
    hooks.account_changed.call(user, "token.revoke", user, {"token": [token.name, None]})
    return True


@transaction.atomic
def legacy_token_revoke(*, user: User) -> bool:
    """Delete the user's `drf_create_token` token, if any."""
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        hooks.account_changed.call(user, "token.revoke", user, {"token": ["legacy token", None]})
    return bool(deleted)


def token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def legacy_token(*, user: User) -> Token | None:
    return Token.objects.filter(user=user).first()
