"""Server-rendered pages for leads (the dashboard grows from these)."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url

from accounts.auth import request_user
from core import hooks
from core.errors import ApiError
from leads import listing, saved_views, selectors, services
from leads.models import SourceChannel, Stage, Temperature


@login_required
def lead_list(request):
    """The lead list: filters, search, sort, keyset pages, saved views and bulk actions. An
    htmx request (the filter form, the pager) gets the results alone (`_lead_rows.html`)."""
    result = listing.lead_list(user=request.user, params=request.GET)
    context: dict[str, Any] = {"list": result, "page": result.page}
    if request.htmx and not request.htmx.history_restore_request:
        response = render(request, "leads/_lead_rows.html", context | _bulk_context(request))
        # The address bar shows the filters that apply, not every empty field of the form.
        query = result.query.copy()
        if request.GET.get("cursor"):
            query["cursor"] = request.GET["cursor"]
        return push_url(response, f"{reverse('leads:list')}?{query.urlencode()}")
    context |= {
        "saved_views": saved_views.saved_view_list(user=request.user),
        "choices": listing_choices(),
        "owners": listing.owner_choices(),
    }
    return render(request, "leads/lead_list.html", context | _bulk_context(request))


def _bulk_context(request) -> dict:
    actions = [a for a in hooks.lead_list_actions.call(request.user) if a]
    return {"bulk_actions": actions}


def listing_choices() -> dict:
    return {
        "stages": Stage.choices,
        "sources": SourceChannel.choices,
        "temperatures": Temperature.choices,
        "sorts": listing.SORT_LABELS,
    }


def _back_to_list(query: str) -> HttpResponseRedirect:
    return redirect(f"{reverse('leads:list')}?{query}" if query else reverse("leads:list"))


@login_required
@require_POST
def saved_view_create(request):
    """Save the list's current filters and sort (the form carries them) under a name."""
    params = QueryDict(request.POST.get("query", ""))
    try:
        view = saved_views.saved_view_save(
            user=request.user, name=request.POST.get("name", ""), params=params
        )
    except ApiError as exc:
        messages.error(request, str(exc.detail))
        return _back_to_list(listing.list_query(params).urlencode())
    messages.success(request, f"Saved the view “{view.name}”.")
    return _back_to_list(view.query)


@login_required
@require_GET
def saved_view_apply(request, view_id: int):
    return _back_to_list(saved_views.saved_view_get(user=request.user, view_id=view_id).query)


@login_required
@require_POST
def saved_view_delete(request, view_id: int):
    view = saved_views.saved_view_get(user=request.user, view_id=view_id)
    saved_views.saved_view_delete(user=request.user, view_id=view.pk)
    messages.success(request, f"Deleted the view “{view.name}”.")
    return _back_to_list(QueryDict(request.POST.get("query", "")).urlencode())


@login_required
@require_POST
def bulk_export(request):
    """The bulk bar's Export: off to the CSV export of the selection or of the whole filter
    (a GET the browser downloads; the form's POST keeps the CSRF token out of the URL)."""
    try:
        target = listing.bulk_target(user=request.user, data=request.POST)
    except ApiError as exc:
        messages.error(request, str(exc.detail))
        return _back_to_list(listing.list_query(request.POST, sort=False).urlencode())
    query = QueryDict(target.query, mutable=True)
    query["ordering"] = ",".join(listing.sort_parse(request.POST.get("sort")).order_by)
    return redirect(f"{reverse('lead-export')}?{query.urlencode()}")


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
