"""Two-factor log-in pages: the log-in's second step, and the user's setup page."""

import time
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from accounts import two_factor
from accounts.auth import request_user
from core.errors import ApiError

PENDING = "two_factor_pending"
PENDING_SECONDS = 300  # the second step must follow the password within five minutes


class CodeForm(forms.Form):
    token = forms.CharField(
        max_length=32,
        label="Code",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text"}),
    )


class TwoStepLoginView(LoginView):
    """Django's log-in, with a second step for users who turned two-factor log-in on: a right
    password alone logs nobody in; it only opens the code step for five minutes."""

    def form_valid(self, form):
        user = form.get_user()
        if not two_factor.enabled(user):
            return super().form_valid(form)
        self.request.session[PENDING] = {
            "user": user.pk,
            "backend": user.backend,
            "at": time.time(),
            "next": self.get_success_url(),
        }
        return redirect("login_verify")


def _pending_user(request: HttpRequest):
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        return None, None
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    return user, pending


@require_http_methods(["GET", "POST"])
def login_verify(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the authenticator app, or a recovery code."""
    user, pending = _pending_user(request)
    if user is None or pending is None:
        request.session.pop(PENDING, None)
        messages.error(request, "Log in again: the code step ran out of time.")
        return redirect("login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = two_factor.verify(user=user, token=form.cleaned_data["token"])
        if device is not None:
            request.session.pop(PENDING, None)
            auth_login(request, user, backend=pending["backend"])
            two_factor.mark_verified(request, device)
            return redirect(pending["next"])
        form.add_error("token", two_factor.WrongCode.default_detail)
    status = 400 if form.errors else 200
    return render(request, "registration/login_verify.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_page(request: HttpRequest) -> HttpResponse:
    """Set up (scan, confirm with a first code), see, renew recovery codes, turn off."""
    user = request_user(request)
    form = CodeForm(request.POST or None)
    codes: list[str] = []
    action = request.POST.get("action", "")
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        try:
            if action == "confirm":
                codes = two_factor.setup_confirm(user=user, token=token)
                device = two_factor.totp_device(user)
                two_factor.mark_verified(request, device)
            elif action == "renew":
                codes = two_factor.recovery_codes_renew(user=user, token=token)
            elif action == "disable":
                two_factor.disable(user=user, token=token)
                messages.success(request, "Two-factor log-in is off.")
                return redirect("accounts:two_factor")
        except ApiError as exc:
            form.add_error("token", str(exc.detail))
    context = {
        "form": CodeForm() if codes else form,
        "codes": codes,
        "enabled": two_factor.enabled(user),
        "required": two_factor.required(user),
        "codes_left": two_factor.recovery_codes_left(user),
    }
    if not context["enabled"]:
        device = two_factor.setup_start(user=user)
        context.update(
            qr=two_factor.qr_svg(device), uri=device.config_url, secret=_base32(device.bin_key)
        )
    return render(request, "accounts/two_factor.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin site's log-in page would take a password alone: it sends to the app's log-in
    instead, with its two-factor step, and back to where the admin was going."""
    next_url = request.GET.get("next", "/admin/")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/admin/"
    return redirect(f"{settings.LOGIN_URL}?{urlencode({'next': next_url})}")


def _base32(key: bytes) -> str:
    from base64 import b32encode

    return b32encode(key).decode()
