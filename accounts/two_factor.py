"""Two-factor log-in with django-otp: a TOTP device (an authenticator app) and a static
device holding ten single-use recovery codes. Optional for everyone; required for admins when
LEADCRM_ADMIN_2FA_REQUIRED is on (`RequireAdminTwoFactorMiddleware`).

The crypto (RFC 6238 codes, the clock drift window, replay protection, throttling of wrong
codes) is django-otp's; this module only decides which device a code is checked against and
keeps the devices' life cycle: set up (unconfirmed until a first code proves the app has the
secret), confirmed, new recovery codes, turned off.
"""

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from core import hooks
from core.errors import ApiError, Forbidden

TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
RECOVERY_CODES = 10


class WrongCode(ApiError):
    default_code = "wrong_code"
    default_detail = "That code is not right (or was used already): try the next one."


def totp_device(user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator, if two-factor log-in is on."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def enabled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def required(user: User) -> bool:
    return bool(settings.LEADCRM_ADMIN_2FA_REQUIRED) and user.is_admin


@transaction.atomic
def setup_start(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator being set up (a new secret the first time; the same one
    on a reload, so that a scanned code keeps working)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URI as an SVG QR code (drawn here, no image library, no request out)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")


@transaction.atomic
def setup_confirm(*, user: User, token: str) -> list[str]:
    """Check the first code from the app; confirm the device and return fresh recovery codes
    (shown once). Raises WrongCode."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(_digits(token)):
        raise WrongCode(fields={"token": [WrongCode.default_detail]})
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    codes = _recovery_codes_new(user)
    hooks.account_changed.call(user, "two_factor.enable", user, {"two_factor": [False, True]})
    return codes


def _recovery_codes_new(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user).count()


def _digits(token: str) -> str:
    return "".join(token.split())


def verify(*, user: User, token: str):
    """The device that accepts `token`: six digits go to the authenticator, anything else is
    tried as a recovery code (used up when it matches). None: wrong code, or throttled."""
    token = _digits(token)
    if token.isdigit() and len(token) == 6:
        device = totp_device(user)
    else:
        device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        return None
    with transaction.atomic():
        return device if device.verify_token(token.lower()) else None


@transaction.atomic
def recovery_codes_renew(*, user: User, token: str) -> list[str]:
    """New recovery codes (the old ones stop working), after a current code."""
    if verify(user=user, token=token) is None:
        raise WrongCode(fields={"token": [WrongCode.default_detail]})
    codes = _recovery_codes_new(user)
    hooks.account_changed.call(user, "two_factor.recovery_codes", user, {})
    return codes


@transaction.atomic
def disable(*, user: User, token: str) -> None:
    """Turn two-factor log-in off, after a current code; an admin may not while it is
    required."""
    if required(user):
        raise Forbidden("Two-factor log-in is required for admins here.")
    if verify(user=user, token=token) is None:
        raise WrongCode(fields={"token": [WrongCode.default_detail]})
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    hooks.account_changed.call(user, "two_factor.disable", user, {"two_factor": [True, False]})


def mark_verified(request: HttpRequest, device) -> None:
    otp_login(request, device)


# Paths an admin who must set up two-factor log-in may still reach.
_OPEN_PATHS = ("/account/two-factor/", "/accounts/logout/", "/accounts/login/", "/static/")


class RequireAdminTwoFactorMiddleware:
    """With LEADCRM_ADMIN_2FA_REQUIRED, an admin's session that has not passed a second factor
    (no device yet) reaches only the two-factor setup page: pages redirect there, the API
    answers 403 `two_factor_required`. Token-authenticated API calls are not sessions and
    pass (the middleware sees no session user for them)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            settings.LEADCRM_ADMIN_2FA_REQUIRED
            and isinstance(user, User)
            and user.is_admin
            and not user.is_verified()  # type: ignore[attr-defined]  # django-otp's middleware
            and not request.path.startswith(_OPEN_PATHS)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "code": "two_factor_required",
                        "message": "Set up two-factor log-in first: /account/two-factor/.",
                    },
                    status=403,
                )
            return redirect("accounts:two_factor")
        return self.get_response(request)
