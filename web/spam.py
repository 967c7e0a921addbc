"""Spam checks on a submission, made before anything is stored.

- the honeypot: an input people never see (hidden by CSS, out of the tab order, hidden from
  screen readers) that bots fill in;
- the minimum fill time: the form carries a signed timestamp of when it was shown (rendered
  into the hosted page, fetched by the embed script); a form sent sooner is refused, one without
  a valid timestamp is shown again to be sent once more;
- rate limits per IP address and per form (core.ratelimit: Redis, off without it).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from rest_framework import status

from core import ratelimit
from core.errors import ApiError

SALT_STARTED = "web.form.started"
# A form left open longer than this must be loaded again (its timestamp is refused).
TOKEN_MAX_AGE = timedelta(days=1)
RATE_WINDOW_SECONDS = 60


class SpamRefused(ApiError):
    default_code = "spam"
    default_detail = "This form could not be sent."


class TooFast(ApiError):
    default_code = "too_fast"
    default_detail = "That was quick: please check the form and send it again."


class StaleForm(ApiError):
    default_code = "stale_form"
    default_detail = "This form was not loaded properly or is too old: please send it again."


class RateLimited(ApiError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "rate_limited"
    default_detail = "Too many forms sent: please try again later."

    def __init__(self, retry_after: int):
        minutes = max(1, round(retry_after / 60))
        super().__init__(
            f"Too many forms sent from here: please try again in {minutes} minute"
            + ("s." if minutes > 1 else ".")
        )
        self.retry_after = retry_after


def _ms(at: datetime) -> int:
    return int(round(at.timestamp() * 1000))


def form_token(*, form_id: int, at: datetime) -> str:
    """The signed "shown at" timestamp a form carries (milliseconds, so the limit is exact)."""
    return signing.Signer(salt=SALT_STARTED).sign_object({"f": form_id, "t": _ms(at)})


def token_check(*, token: str, form_id: int, now: datetime) -> None:
    """At least FORMS_MIN_FILL_SECONDS between showing the form and sending it."""
    try:
        value = signing.Signer(salt=SALT_STARTED).unsign_object(token)
    except (signing.BadSignature, ValueError):
        raise StaleForm() from None
    if (
        not isinstance(value, dict)
        or value.get("f") != form_id
        or not isinstance(value.get("t"), int)
    ):
        raise StaleForm()
    age_ms = _ms(now) - value["t"]
    if age_ms > TOKEN_MAX_AGE.total_seconds() * 1000:
        raise StaleForm()
    if age_ms < settings.FORMS_MIN_FILL_SECONDS * 1000:
        raise TooFast()


def honeypot_check(value: str) -> None:
    if value:
        raise SpamRefused()


def rate_check(*, form_id: int, ip: str | None) -> None:
    """One hit on the address's limit, then on the form's: the first one over refuses (both
    counted in one Redis round trip; the form's is not counted when the address is over). The
    address is `core.ratelimit.client_ip`'s (the same trusted-proxy rule as ingestion), an IPv6
    one counted by its /64."""
    prefix = settings.FORMS_KEY_PREFIX
    limits = [(f"{prefix}form:{form_id}", settings.FORMS_RATE_PER_FORM_PER_MINUTE)]
    if ip:
        limits.insert(
            0, (f"{prefix}ip:{ratelimit.ip_key(ip)}", settings.FORMS_RATE_PER_IP_PER_MINUTE)
        )
    refused = ratelimit.hit_many(limits, RATE_WINDOW_SECONDS)
    if refused is not None:
        raise RateLimited(refused[1])
