"""The lead list's bulk "Assign to" (sales managers and admins): the bulk form of
templates/leads/_lead_rows.html posts here (its button's `formaction`), the action is offered
there through the `lead_list_actions` hook (handoff.selectors.bulk)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.auth import request_user
from core.errors import ApiError, Forbidden
from core.publish import publish_on_commit
from handoff.services import bulk, routing
from leads import listing


@login_required
@require_POST
def leads_bulk_assign(request: HttpRequest) -> HttpResponse:
    actor = request_user(request)
    try:
        routing.lead_assign_authorize(actor=actor)
    except Forbidden as exc:
        raise PermissionDenied(str(exc.detail)) from exc
    back = redirect(listing.bulk_return_url(request.POST))
    owner = request.POST.get("assign_to", "")
    if not owner.isdigit():
        messages.error(request, "Choose the rep to assign the leads to.")
        return back
    try:
        target = listing.bulk_target(user=actor, data=request.POST)
    except ApiError as exc:
        messages.error(request, str(exc.detail))
        return back
    if not target.selected:
        publish_on_commit(bulk.BULK_ASSIGN, actor.pk, target.query, int(owner))
        messages.success(request, "Assigning every lead matching the filter, in the background.")
        return back
    ids = list(target.leads.values_list("pk", flat=True))
    outcome = bulk.leads_assign(lead_ids=ids, owner_id=int(owner), actor=actor)
    messages.success(request, outcome.summary("Assigned"))
    return back
