"""The audit log page: a filter form and a table (admins only)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.auth import request_user
from accounts.models import User
from audit import selectors
from core.errors import ApiError


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not user.is_admin:
        raise PermissionDenied("Only an admin may read the audit log.")
    form = selectors.AuditFilterForm(request.GET)
    try:
        filters = selectors.audit_filters(request.GET)
    except ApiError:
        filters = {}  # the form shows what was wrong; the log is shown unfiltered
    rows = selectors.audit_list(actor=user, filters=filters)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/log.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "choices": selectors.audit_choices(),
            "actors": User.objects.order_by("username").only("username"),
            "values": request.GET,
        },
    )
