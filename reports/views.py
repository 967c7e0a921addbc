"""The dashboard's report pages: the funnel (home for marketers, managers and admins) and the
sources. Each parses the filters, calls its selector and renders; an htmx request from the
filters form gets the report's body alone."""

from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.auth import request_user
from core.errors import ApiError
from leads.models import SourceChannel
from reports import pages
from reports.params import ReportParams, report_params
from reports.selectors.funnel import funnel_report, funnel_report_authorize
from reports.selectors.owners import report_owner_choices
from reports.selectors.sources import sources_report


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Home after log-in: the inbox for reps, the funnel for everyone else."""
    if request_user(request).is_rep:
        return redirect("handoff:inbox")
    return funnel(request)


def _filters(request: HttpRequest, params: ReportParams | None) -> dict:
    """The filters form's values: what was asked, or the period the report defaulted to."""
    period = {}
    if params is not None:
        first = timezone.localtime(params.start).date().isoformat()
        period = {"from": first, "to": _last_day(params)}
    return {
        "from": request.GET.get("from") or period.get("from", ""),
        "to": request.GET.get("to") or period.get("to", ""),
        "source": request.GET.get("source", ""),
        "utm_campaign": request.GET.get("utm_campaign", ""),
        "owner": request.GET.get("owner", ""),
        "sources": SourceChannel.choices,
        "owners": report_owner_choices(),
    }


def _last_day(params: ReportParams) -> str:
    return timezone.localtime(params.end - timedelta(microseconds=1)).date().isoformat()


def _report_page(
    request: HttpRequest, template: str, build: Callable[[ReportParams], dict]
) -> HttpResponse:
    user = request_user(request)
    try:
        funnel_report_authorize(user=user)
    except ApiError as exc:
        raise PermissionDenied(str(exc.detail)) from exc
    try:
        params = report_params(request.GET)
    except ApiError as exc:
        context = {"error": str(exc.detail), "filters": _filters(request, None)}
        # htmx swaps only a 2xx answer in: the form's request gets the message as its body.
        status = 200 if getattr(request, "htmx", False) else 400
        return render(request, _template(request, template), context, status=status)
    context = {**build(params), "filters": _filters(request, params)}
    return render(request, _template(request, template), context)


def _template(request: HttpRequest, template: str) -> str:
    """The page, or for the filters form's htmx request its body alone (`_<page>_body`)."""
    if getattr(request, "htmx", False):
        folder, name = template.rsplit("/", 1)
        return f"{folder}/_{name.removesuffix('.html')}_body.html"
    return template


@login_required
@require_GET
def funnel(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    return _report_page(
        request,
        "reports/funnel.html",
        lambda params: pages.funnel_page(params, funnel_report(user=user, params=params)),
    )


@login_required
@require_GET
def sources(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    return _report_page(
        request,
        "reports/sources.html",
        lambda params: pages.sources_page(params, sources_report(user=user, params=params)),
    )
