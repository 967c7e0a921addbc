"""What the rep's decisions, activities and merges share: locking a lead, who may act on it,
and ending its open assignment (which frees the rep's capacity for routing)."""

from datetime import datetime

from django.http import Http404

from accounts.models import User
from core.errors import Conflict, Forbidden
from core.publish import publish_on_commit
from handoff.models import Assignment, AssignmentStatus
from leads.models import Lead
from leads.selectors import lead_visible_q

# handoff.tasks.ROUTE_POOL, by name: a service never imports its app's tasks module.
ROUTE_POOL = "handoff.route_pool"

OPEN = (AssignmentStatus.PENDING, AssignmentStatus.ACCEPTED)


class NotAssigned(Forbidden):
    default_code = "not_assigned"
    default_detail = "This lead is not assigned to you."


class NoRep(Conflict):
    default_code = "no_rep"
    default_detail = "No rep is assigned this lead: assign it to a rep first."


class AlreadyAccepted(Conflict):
    default_code = "already_accepted"
    default_detail = "This lead has already been accepted."


def lead_locked(lead_id: int) -> Lead:
    """The lead, locked for the rest of the transaction (404 when there is no such lead): every
    decision on a lead takes this lock first, so decisions on one lead take turns."""
    lead = Lead.objects.select_for_update().filter(pk=lead_id).first()
    if lead is None:
        raise Http404("No such lead.")
    return lead


def lead_may_see(lead_id: int, user: User) -> bool:
    """Whether the lead exists and `user` may see it (leads.selectors' scope: a rep's own
    leads, and the pool in pool mode)."""
    return Lead.objects.filter(lead_visible_q(user), pk=lead_id).exists()


def require_sales(user: User, doing: str) -> None:
    """Sales reps, sales managers and admins; marketers are refused."""
    if not (user.is_rep or user.manages_sales):
        raise Forbidden(f"Only sales reps, sales managers and admins {doing}.")


def require_owner(lead: Lead, user: User, doing: str) -> None:
    """A rep acts on the leads they own (404 for a lead they may not see); sales managers and
    admins on any lead; marketers on none."""
    require_sales(user, doing)
    if user.manages_sales or lead.owner_id == user.pk:
        return
    if not lead_may_see(lead.pk, user):
        raise Http404("No such lead.")
    raise NotAssigned(f"Only the lead's owner may {doing}; accept the lead first.")


def open_assignment(lead_id: int) -> Assignment | None:
    """The lead's pending or accepted assignment (locked), or None."""
    rows = Assignment.objects.select_for_update().filter(lead_id=lead_id, status__in=OPEN)
    return rows.select_related("rep").first()


def assignment_end(*, lead_id: int, status: str, now: datetime) -> Assignment | None:
    """End the lead's open assignment with `status` (rejected, released) and, after the commit,
    ask routing to serve the pool: the rep has room again. Returns the row, or None."""
    assignment = open_assignment(lead_id)
    publish_on_commit(ROUTE_POOL)
    if assignment is None:
        return None
    assignment.status = status
    assignment.ended_at = now
    if status == AssignmentStatus.REJECTED:
        assignment.decided_at = now
    assignment.save(update_fields=["status", "ended_at", "decided_at"])
    return assignment
