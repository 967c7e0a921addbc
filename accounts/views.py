"""The user's own account pages: API tokens (and two-factor log-in: accounts/two_factor_views)."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts import tokens
from accounts.auth import request_user
from core.errors import ApiError

EXPIRY_CHOICES = [
    ("", "Never"),
    ("7", "In 7 days"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name")
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """List the user's tokens; POST creates one and shows its key, once."""
    user = request_user(request)
    form = TokenForm(request.POST or None)
    new_key = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            days = form.cleaned_data["expires_in"]
            expires_at = timezone.now() + timedelta(days=int(days)) if days else None
            try:
                _token, new_key = tokens.token_create(
                    user=user, name=form.cleaned_data["name"], expires_at=expires_at
                )
            except ApiError as exc:
                form.add_error(None, str(exc.detail))
        if not new_key:
            status = 400
        else:
            form = TokenForm()
    return render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "new_key": new_key,
            "tokens": tokens.token_list(user=user),
            "legacy": tokens.legacy_token(user=user),
            "now": timezone.now(),
        },
        status=status,
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    if not tokens.token_revoke(user=request_user(request), token_id=token_id):
        raise Http404("No such token.")
    messages.success(request, "Token revoked: it no longer works.")
    return redirect("accounts:tokens")


@login_required
@require_POST
def legacy_token_revoke(request: HttpRequest) -> HttpResponse:
    if not tokens.legacy_token_revoke(user=request_user(request)):
        raise Http404("No such token.")
    messages.success(request, "Token revoked: it no longer works.")
    return redirect("accounts:tokens")
