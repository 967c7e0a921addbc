"""The dashboard's report pages."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts.auth import request_user


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Home after log-in: the inbox for reps, the funnel for everyone else."""
    if request_user(request).is_rep:
        return redirect("handoff:inbox")
    return funnel(request)


@login_required
@require_GET
def funnel(request: HttpRequest) -> HttpResponse:
    return render(request, "reports/funnel.html", {})
