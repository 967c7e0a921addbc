"""Server-rendered pages for leads (the dashboard grows from these)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from accounts.auth import request_user
from core.errors import ApiError
from leads import selectors, services
from leads.models import Stage


@login_required
def lead_list(request):
    leads = selectors.lead_list(user=request.user).order_by("-created_at", "-id")
    stage = request.GET.get("stage", "")
    query = request.GET.get("q", "").strip()
    if stage in Stage.values:
        leads = leads.filter(stage=stage)
    if query:
        leads = leads.filter(
            Q(email__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(company_name__icontains=query)
        )
    page = Paginator(leads, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "leads/lead_list.html",
        {
            "page": page,
            "stages": Stage.choices,
            "stage": stage,
            "q": query,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def lead_detail(request, lead_id: int):
    lead = selectors.lead_get(user=request.user, lead_id=lead_id)
    if request.method == "POST":
        try:
            services.lead_transition_requested(
                lead_id=lead.pk,
                to=request.POST.get("to", ""),
                actor=request_user(request),
                reason=request.POST.get("reason", ""),
            )
        except (ApiError, ValueError) as exc:
            messages.error(request, str(getattr(exc, "detail", exc)))
        else:
            messages.success(request, f"Moved to {request.POST['to']}.")
        return redirect("leads:detail", lead_id=lead.pk)
    kind = request.GET.get("kind", "")
    kind = kind if kind in selectors.TIMELINE_GROUPS else ""
    timeline = {
        "lead": lead,
        "kind": kind,
        "timeline_groups": list(selectors.TIMELINE_GROUPS.items()),
        "timeline": selectors.lead_timeline(lead=lead, group=kind, limit=selectors.TIMELINE_SHOWN),
    }
    # The timeline's filter asks htmx for the timeline alone.
    if (
        request.htmx
        and request.htmx.target == "timeline"
        and not request.htmx.history_restore_request
    ):
        return render(request, "leads/_timeline.html", timeline)
    return render(
        request,
        "leads/lead_detail.html",
        {
            **timeline,
            "consent": selectors.lead_consent_latest(lead=lead),
            "durations": selectors.lead_stage_durations(lead=lead),
            "targets": services.lead_transition_targets(lead=lead, actor=request.user),
            "sections": selectors.lead_page_sections(lead=lead, user=request.user),
        },
    )
