"""Pages of accounts: the password-reset form, throttled."""

import hashlib

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render

from core import ratelimit

HOUR = 3600


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password-reset form, with limits on how often it mails: per client address
    (one machine asking for many accounts) and per address asked for (one mailbox flooded from
    many machines). Over a limit the form answers 429 with Retry-After and sends nothing.
    Counted in Redis (core.ratelimit); off without REDIS_URL, like the other limits."""

    def post(self, request, *args, **kwargs):
        retry_after = _refused_for(request)
        if retry_after:
            response = render(
                request,
                "registration/password_reset_throttled.html",
                {"retry_minutes": -(-retry_after // 60)},
                status=429,
            )
            response["Retry-After"] = str(retry_after)
            return response
        return super().post(request, *args, **kwargs)


def _refused_for(request) -> int:
    """Seconds to wait when this request is over a limit, else 0."""
    address = ratelimit.ip_key(ratelimit.client_ip(request))
    email = request.POST.get("email", "").strip().lower()
    # The mailbox is counted under a hash: no address is written to Redis.
    mailbox = hashlib.sha256(email.encode()).hexdigest()[:32]
    checks = [
        (f"password-reset:ip:{address}", settings.PASSWORD_RESET_RATE_PER_IP_PER_HOUR),
        (f"password-reset:email:{mailbox}", settings.PASSWORD_RESET_RATE_PER_EMAIL_PER_HOUR),
    ]
    for key, limit in checks:
        allowed, retry_after = ratelimit.hit(key, limit, HOUR)
        if not allowed:
            return retry_after
    return 0
