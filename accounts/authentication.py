"""API authentication by personal token. Its own module, importing nothing of ours but the
models: DRF loads it while it loads its settings, before core.errors can be imported."""

import hashlib

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts.models import ApiToken

KEY_PREFIX = "lcrm_"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`: a personal token (refused once expired), else a token
    from DRF's `drf_create_token`."""

    def authenticate_credentials(self, key: str):
        token = (
            ApiToken.objects.select_related("user").filter(key_digest=key_digest(key)).first()
            if key.startswith(KEY_PREFIX)
            else None
        )
        if token is None:
            return super().authenticate_credentials(key)
        if token.expired():
            raise exceptions.AuthenticationFailed("Token expired.", code="token_expired")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return token.user, token
