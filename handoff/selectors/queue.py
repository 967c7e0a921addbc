"""The rep's hand-off queue: leads assigned to them and not yet accepted, and in pool mode the
unassigned pool they may claim from."""

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery

from accounts.models import User
from core.errors import Forbidden
from handoff.models import Assignment, AssignmentStatus, Mode
from handoff.selectors import handoff_settings, pool_q
from leads.models import Lead


def queue_rep_scope(*, user: User, rep_id: int | None) -> int | None:
    """Whose queue `user` may read: a rep their own; sales managers and admins any rep's
    (`rep_id`) or, without one, every rep's. Returns the rep id to filter by, or None (all)."""
    if user.manages_sales:
        return rep_id
    if not user.is_rep:
        raise Forbidden("The hand-off queue is for sales reps, sales managers and admins.")
    if rep_id is not None and rep_id != user.pk:
        raise Forbidden("A sales rep sees only their own queue.")
    return user.pk


def handoff_queue(*, user: User, rep_id: int | None = None) -> QuerySet[Lead]:
    """The queue, most urgent first: the assigned leads by their accept deadline (the nearest
    first: what the rep must answer next), then in pool mode the pool, oldest first.

    Each lead carries `assignment_id`, `assigned_rep_id`, `assigned_at`, `accept_due_at` and
    `reassign_due_at` (all None for a pool lead). One query (and one for the
    settings), whatever the length of the queue.
    """
    rep = queue_rep_scope(user=user, rep_id=rep_id)
    pending = Assignment.objects.filter(lead_id=OuterRef("pk"), status=AssignmentStatus.PENDING)
    if rep is not None:
        pending = pending.filter(rep_id=rep)
    wanted = Q(Exists(pending))
    if handoff_settings().mode == Mode.POOL:
        wanted |= pool_q()
    first = pending.order_by("pk")[:1]
    return (
        Lead.objects.annotate(
            assignment_id=Subquery(first.values("pk")),
            assigned_rep_id=Subquery(first.values("rep_id")),
            assigned_at=Subquery(first.values("assigned_at")),
            accept_due_at=Subquery(first.values("accept_due_at")),
            reassign_due_at=Subquery(first.values("reassign_due_at")),
        )
        .filter(wanted)
        .order_by(F("accept_due_at").asc(nulls_last=True), "stage_entered_at", "id")
    )
