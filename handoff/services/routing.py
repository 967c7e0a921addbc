"""Routing MQL/PQL leads to reps: rules, round robin by free capacity, the pool, reassignment.

How a lead reaches a rep (assign mode; in pool mode routing does nothing):

1. A lead enters MQL or PQL: `stage_entered_hook` (a `lead_stage_entered` receiver) queues
   `handoff.route_leads` after the move commits; the task calls `leads_route`.
2. `leads_route` takes the leads that wait to be routed (selectors.routing.routable_q), oldest
   first, and lets handoff.matching pick a rule and a rep for each; nobody free: the lead
   stays in the pool (unowned MQL/PQL).
3. `pool_route` (every minute, and after anything frees capacity) does the same for the whole
   pool, oldest first, while any rep has room.
4. Each pick opens an Assignment (deadlines from handoff.clock), sets the lead's owner, and
   emails the rep after the commit (`handoff.notify_assigned` -> `assignment_notify`, once).

Race safety: every write that takes up a rep's capacity (routing, a manager's reassignment)
first takes one transaction-level advisory lock, then reads the reps' load. Two workers routing
at once therefore take turns per chunk, and the second sees the first one's assignments: a
rep is never filled beyond capacity. Leads are locked FOR UPDATE SKIP LOCKED: a lead another
transaction holds is left for the next pass.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from core import publish as broker
from core.errors import ApiError, Conflict, Forbidden
from handoff import clock, emails, matching
from handoff.models import Assignment, AssignmentStatus, HandoffSettings, Mode
from handoff.selectors import handoff_settings
from handoff.selectors import routing as routing_selectors
from leads.models import Lead

logger = logging.getLogger(__name__)

# Task names (handoff/tasks.py registers them): published by name, never imported.
ROUTE_LEADS = "handoff.route_leads"
ROUTE_POOL = "handoff.route_pool"
NOTIFY_ASSIGNED = "handoff.notify_assigned"

# Leads per transaction: short transactions, so a manager's reassignment never waits long.
CHUNK = 500
# pg_advisory_xact_lock key of routing ("handoff" in ASCII): one routing writer at a time.
ROUTING_LOCK = 0x68616E646F6666
# Emails not sent this long after the assignment are queued again by pool_route (the task was
# lost: a broker outage, a worker killed before it ran); older ones are given up.
NOTIFY_GRACE = timedelta(minutes=2)
NOTIFY_GIVE_UP = timedelta(days=1)
NOTIFY_CATCH_UP_LIMIT = 500
# Assignment emails per notify task (one SMTP connection each): small enough that a worker's
# threads share out a big routing pass, large enough to spare a connection per email.
NOTIFY_BATCH = 25

_LEAD_FIELDS = ("pk", "country", "company_size", "source", "stage", "score")


class NotInHandoff(Conflict):
    default_code = "not_in_handoff"
    default_detail = "Only MQL and PQL leads are assigned to reps."


class AlreadyAssigned(Conflict):
    default_code = "already_assigned"
    default_detail = "The lead is already assigned to that rep."


class NotAssignable(ApiError):
    """The target of a reassignment cannot take the lead: the code says why."""

    default_code = "not_assignable"


# --- The hook and the locks -------------------------------------------------------------------


def stage_entered_hook(lead_ids: list[int], created: bool = False) -> None:
    """A `core.hooks.lead_stage_entered` receiver (HandoffConfig.ready()): runs after the move
    commits and only queues the task; which of the leads are now MQL/PQL and unowned is the
    task's to find out. A lost publish is caught up by pool_route every minute. Leads just
    created (at IQL, with no assignment) give it nothing to do: no task for them (a form
    submission or a new visitor's identify would publish one each)."""
    if created:
        return
    broker.publish(ROUTE_LEADS, list(lead_ids))


def _lock_routing() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROUTING_LOCK])


def _assign_mode() -> bool:
    # No settings row yet: the default mode, assign.
    return not HandoffSettings.objects.filter(pk=1, mode=Mode.POOL).exists()


# --- Routing ----------------------------------------------------------------------------------


@dataclass
class _Pass:
    routed: int
    seen: int
    free: int
    last: tuple[datetime, int] | None


def leads_route(*, lead_ids: list[int]) -> int:
    """Route these leads (they became MQL/PQL, or were taken back from a rep). Leads that are
    owned, not MQL/PQL, do-not-contact, or sent back to nurture are left alone. Returns how
    many were assigned. One transaction per chunk of leads."""
    ids = sorted({int(i) for i in lead_ids})
    if not ids or not _assign_mode():
        return 0
    routed = 0
    for start in range(0, len(ids), CHUNK):
        chunk = Lead.objects.filter(pk__in=ids[start : start + CHUNK])
        routed += _route(chunk).routed
    return routed


def pool_route() -> int:
    """Assign the pool's leads, oldest first (by when they entered their stage), while any
    rep has room; then queue again assignment emails that were lost. Periodic (every minute:
    also reps whose away ended by itself) and published after anything frees capacity."""
    routed = 0
    if _assign_mode():
        after = None
        while True:
            result = _route(Lead.objects.all(), after=after)
            routed += result.routed
            if result.seen < CHUNK or result.free <= 0:
                break
            after = result.last
    _notifications_catch_up()
    return routed


@transaction.atomic
def _route(leads, *, after: tuple[datetime, int] | None = None) -> _Pass:
    _lock_routing()
    now = timezone.now()
    candidates = leads.filter(routing_selectors.routable_q())
    if after is not None:
        candidates = candidates.filter(stage_entered_at__gte=after[0]).exclude(
            stage_entered_at=after[0], pk__lte=after[1]
        )
    rows = list(
        candidates.order_by("stage_entered_at", "pk")
        .select_for_update(no_key=True, skip_locked=True, of=("self",))
        .values(*_LEAD_FIELDS, "stage_entered_at")[:CHUNK]
    )
    if not rows:
        return _Pass(0, 0, 0, None)
    last = (rows[-1]["stage_entered_at"], rows[-1]["pk"])
    rules = routing_selectors.routing_rules_active()
    rep_ids = {rep_id for rule in rules for rep_id in rule.rep_ids}
    decided = matching.plan(
        leads=[_facts(row) for row in rows],
        rules=rules,
        slots=routing_selectors.rep_slots(rep_ids=rep_ids, now=now),
        lapsed=routing_selectors.lapsed_reps(lead_ids=[row["pk"] for row in rows]),
        now=now,
    )
    _assignments_open(decided.picks, now=now)
    return _Pass(len(decided.picks), len(rows), decided.free, last)


def _facts(row: dict) -> matching.LeadFacts:
    return matching.LeadFacts(
        id=row["pk"],
        country=row["country"],
        company_size=row["company_size"],
        source=row["source"],
        stage=row["stage"],
        score=row["score"],
    )


# --- Opening assignments ----------------------------------------------------------------------


def _deadlines(now: datetime) -> tuple[datetime, datetime]:
    row = handoff_settings()
    hours = clock.hours_parse(row.business_hours)
    accept_due = clock.deadline(now, row.accept_within_minutes, hours)
    return accept_due, clock.deadline(accept_due, row.reassign_after_minutes, hours)


# One statement each for a whole chunk: the assignments (from parallel arrays) and the owners.
_INSERT_ASSIGNMENTS = """
    INSERT INTO handoff_assignment
        (lead_id, rep_id, rule_id, status, assigned_at, accept_due_at, reassign_due_at)
    SELECT lead_id, rep_id, rule_id, %s, %s, %s, %s
    FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS t(lead_id, rep_id, rule_id)
    RETURNING id
"""
_SET_OWNERS = """
    UPDATE leads_lead SET owner_id = t.rep_id, updated_at = %s
    FROM unnest(%s::bigint[], %s::bigint[]) AS t(lead_id, rep_id)
    WHERE leads_lead.id = t.lead_id AND leads_lead.owner_id IS NULL
"""


def _assignments_open(picks: list[tuple[int, int, int]], *, now: datetime) -> list[int]:
    """Set-based `assignment_open` for routing's picks (lead, rep, rule); the leads are
    locked by the caller. Returns the new assignments' ids."""
    if not picks:
        return []
    accept_due, reassign_due = _deadlines(now)
    lead_ids, rep_ids, rule_ids = (list(column) for column in zip(*picks, strict=True))
    # Arrays (one a column) travel as psycopg2 lists: one statement for the whole chunk.
    params: list[Any] = [AssignmentStatus.PENDING.value, now, accept_due, reassign_due]
    params += [lead_ids, rep_ids, rule_ids]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_ASSIGNMENTS, params)
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(_SET_OWNERS, [now, lead_ids, rep_ids])
    for start in range(0, len(ids), NOTIFY_BATCH):
        broker.publish_on_commit(NOTIFY_ASSIGNED, ids[start : start + NOTIFY_BATCH])
    return ids


def assignment_open(
    *, lead: Lead, rep: User, actor: User | None = None, rule=None, now: datetime | None = None
) -> Assignment:
    """Hand `lead` to `rep`: a PENDING assignment with its accept and reassign deadlines
    (business time, from the settings), the lead's owner set (it stays MQL/PQL), and the rep's
    email queued for after the commit. The caller holds the lead's row lock and has checked
    the rep; the lead must have no open assignment (one open a lead: a database constraint)."""
    now = now or timezone.now()
    accept_due, reassign_due = _deadlines(now)
    assignment = Assignment.objects.create(
        lead=lead,
        rep=rep,
        rule=rule,
        assigned_by=actor,
        assigned_at=now,
        accept_due_at=accept_due,
        reassign_due_at=reassign_due,
    )
    lead.owner = rep
    lead.save(update_fields=["owner", "updated_at"])
    broker.publish_on_commit(NOTIFY_ASSIGNED, [assignment.pk])
    return assignment


# --- A manager's reassignment -----------------------------------------------------------------


def lead_assign_authorize(*, actor: User) -> None:
    if not actor.manages_sales:
        raise Forbidden("Only sales managers and admins assign leads.")


def _refuse(code: str, message: str) -> NotAssignable:
    return NotAssignable(message, code=code, fields={"owner": [message]})


def _assignable_rep(owner_id: int, now: datetime) -> User:
    """The target rep, or a 400 saying why they cannot take a lead."""
    rep = User.objects.filter(pk=owner_id).first()
    if rep is None or not rep.is_rep:
        raise _refuse("not_a_rep", "That user is not a sales rep.")
    if not rep.is_active:
        raise _refuse("rep_inactive", f"{rep.get_username()} is not active.")
    if rep.away_now(now):
        raise _refuse("rep_away", f"{rep.get_username()} is away.")
    load = routing_selectors.rep_load(rep_id=rep.pk)
    if load >= rep.capacity:
        raise _refuse(
            "rep_full", f"{rep.get_username()} is full ({load} of {rep.capacity} open leads)."
        )
    return rep


@transaction.atomic
def lead_assign(*, lead_id: int, owner_id: int, actor: User) -> Assignment:
    """A manager (or admin) gives an MQL/PQL lead to a rep: the open assignment, if any, ends
    as REASSIGNED and a new one opens. The rep must be an active rep, not away, not full
    (400 `not_a_rep`, `rep_inactive`, `rep_away`, `rep_full`)."""
    lead_assign_authorize(actor=actor)
    _lock_routing()
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    if lead.stage not in routing_selectors.HANDOFF_STAGES:
        raise NotInHandoff()
    now = timezone.now()
    if lead.owner_id is not None and lead.owner_id == owner_id:
        raise AlreadyAssigned()
    rep = _assignable_rep(owner_id, now)
    previous = lead.owner_id
    Assignment.objects.filter(lead=lead, status__in=routing_selectors.OPEN_STATUSES).update(
        status=AssignmentStatus.REASSIGNED, ended_at=now
    )
    before = lead.owner.get_username() if lead.owner is not None else None
    assignment = assignment_open(lead=lead, rep=rep, actor=actor, now=now)
    audit_record(
        actor=actor,
        action="lead.assign",
        object_type="lead",
        object_id=lead.pk,
        object_label=lead.email,
        changes={"owner": [before, rep.get_username()]},
    )
    if previous is not None:
        broker.publish_on_commit(ROUTE_POOL)  # the previous owner has room again
    return assignment


# --- The assignment email ---------------------------------------------------------------------


def assignment_notify(*, assignment_id: int) -> bool:
    """Email the rep about a pending assignment, once (see assignments_notify)."""
    return assignments_notify(assignment_ids=[assignment_id]) == 1


def assignments_notify(*, assignment_ids: list[int]) -> int:
    """Email each rep about their pending assignments, each once, over one SMTP connection.

    Each send is claimed first by setting `notified_at` where it is still empty (a task that
    runs twice sends nothing twice). A failed send gives its claim back and raises: the task
    retries, and what was sent stays sent. Nothing to send (sent already, decided, gone, the
    rep without an email address) is skipped. Returns how many emails went out.
    """
    hours, sent = _hours(), 0
    mailer = mail.mailers.default
    try:
        for assignment_id in assignment_ids:
            sent += _notify_one(assignment_id, hours=hours, mailer=mailer)
    finally:
        mailer.close()
    return sent


def _notify_one(assignment_id: int, *, hours, mailer) -> int:
    now = timezone.now()
    claimed = Assignment.objects.filter(
        pk=assignment_id, notified_at__isnull=True, status=AssignmentStatus.PENDING
    ).update(notified_at=now)
    if not claimed:
        return 0
    assignment = Assignment.objects.select_related("lead", "rep").get(pk=assignment_id)
    if not assignment.rep.email:
        logger.warning("handoff: rep %s has no email address", assignment.rep_id)
        return 0
    message = emails.assignment_email(assignment, hours=hours)
    try:
        mailer.open()  # once: kept open for the rest of the batch
        mailer.send_messages([message])
    except Exception:
        # Give the claim back so that the retry sends it; the error goes to the task.
        Assignment.objects.filter(pk=assignment_id, notified_at=now).update(notified_at=None)
        raise
    return 1


def _hours() -> clock.BusinessHours | None:
    return clock.hours_parse(handoff_settings().business_hours)


def _notifications_catch_up() -> int:
    """Queue again the emails of pending assignments nobody was told about (a lost task)."""
    now = timezone.now()
    ids = list(
        Assignment.objects.filter(
            status=AssignmentStatus.PENDING,
            notified_at__isnull=True,
            assigned_at__lt=now - NOTIFY_GRACE,
            assigned_at__gt=now - NOTIFY_GIVE_UP,
        ).values_list("pk", flat=True)[:NOTIFY_CATCH_UP_LIMIT]
    )
    for start in range(0, len(ids), NOTIFY_BATCH):
        broker.publish(NOTIFY_ASSIGNED, ids[start : start + NOTIFY_BATCH])
    return len(ids)
