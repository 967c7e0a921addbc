"""The GDPR actions on a lead's page, for admins: download everything held about the lead,
and erase it (a confirmation page that asks for the reason)."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.auth import request_user
from accounts.models import User
from core.errors import ApiError
from leads import privacy, selectors
from leads.models import Lead


def privacy_section(lead: Lead, user: User) -> dict[str, Any] | None:
    """The `lead_page_sections` receiver: the export and erase links, admins only."""
    if not user.is_admin:
        return None
    return {"template": "leads/_privacy_section.html", "context": {"lead": lead}}


@login_required
@require_http_methods(["GET", "POST"])
def lead_erase_page(request: HttpRequest, lead_id: int) -> HttpResponse:
    user = request_user(request)
    if not user.is_admin:
        raise PermissionDenied("Only an admin may erase a lead.")
    lead = selectors.lead_get(user=user, lead_id=lead_id)
    error = ""
    if request.method == "POST":
        try:
            privacy.lead_erase(actor=user, lead_id=lead.pk, reason=request.POST.get("reason", ""))
        except ApiError as exc:
            error = str(exc.detail)
        else:
            messages.success(request, "The lead's personal data was erased.")
            return redirect("leads:detail", lead_id=lead.pk)
    return render(
        request,
        "leads/erase.html",
        {"lead": lead, "error": error, "reason": request.POST.get("reason", "")},
        status=400 if error else 200,
    )
