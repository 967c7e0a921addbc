"""The lead list's bulk "Enroll in a sequence" (marketers and admins): offered in the list's
bulk bar through the `lead_list_actions` hook, posted here by the bulk form's button
(`formaction`)."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.auth import request_user
from accounts.models import User
from core.errors import ApiError
from core.publish import publish_on_commit
from leads import listing
from nurturing import selectors
from nurturing.services import bulk


def bulk_enroll_action(user: User) -> dict[str, Any] | None:
    """The bulk bar's enroll control for marketers and admins: the active sequences."""
    if not user.does_marketing:
        return None
    sequences = selectors.sequence_list().filter(is_active=True).order_by("name", "pk")
    choices = [(sequence.pk, sequence.name) for sequence in sequences.only("pk", "name")]
    return {"template": "nurturing/_bulk_enroll.html", "context": {"sequences": choices}}


@login_required
@require_POST
def leads_bulk_enroll(request: HttpRequest) -> HttpResponse:
    actor = request_user(request)
    if not actor.does_marketing:
        raise PermissionDenied("Only marketers and admins enroll leads in sequences.")
    back = redirect(listing.bulk_return_url(request.POST))
    sequence = request.POST.get("sequence", "")
    if not sequence.isdigit():
        messages.error(request, "Choose the sequence to enroll the leads in.")
        return back
    try:
        target = listing.bulk_target(user=actor, data=request.POST)
        if not target.selected:
            publish_on_commit(bulk.BULK_ENROLL, actor.pk, target.query, int(sequence))
            messages.success(request, "Enrolling every lead of the filter, in the background.")
            return back
        ids = list(target.leads.values_list("pk", flat=True))
        outcome = bulk.leads_enroll(lead_ids=ids, sequence_id=int(sequence), actor=actor)
    except ApiError as exc:
        messages.error(request, str(exc.detail))
        return back
    messages.success(request, outcome.summary("Enrolled"))
    return back
