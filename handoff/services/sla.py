"""The response-time SLA job and its escalation emails.

Every minute `sla_check` (task handoff.sla_check, see leadcrm/schedule.py):

1. marks accept breaches: pending assignments at or past `accept_due_at` (the deadline's own
   instant counts as missed);
2. marks first-touch breaches: accepted assignments with no call, email or meeting logged at or
   past `first_touch_due_at`;
3. takes back leads at or past `reassign_due_at` that are still pending: the assignment becomes
   REASSIGNED (routing never gives the lead to that rep again), the lead loses its owner, and
   the lead is published to routing after the commit.

Each step is one set-based statement: a conditional UPDATE ... RETURNING (only rows not yet
marked) that also writes one `SlaNotice` per row changed (unique per assignment and kind). So
two beats, or a job run twice or concurrently, mark and escalate once. Rows are locked with
SKIP LOCKED: a row another transaction holds (a rep accepting right now, a second job) is left
for that transaction or the next minute, and the job never waits for a lock (every row it
changes it has locked itself), so it cannot deadlock with the rep's decisions, which lock the
lead and then its assignment (the take-back locks both, skipping either when held).

The marks are the timeline's record (selectors/timeline.py shows `*_breached_at` and the
take-back). The emails go out from the task handoff.sla_notify after the commit, to the rep and
every active sales manager (the admins when there are no managers), each claimed once.
"""

import logging
from datetime import datetime, timedelta
from itertools import batched

from django.db import connection, transaction
from django.utils import timezone

from core.publish import publish_on_commit
from handoff import sla_emails
from handoff.models import SlaNotice, SlaNoticeKind
from leads.services import leads_owner_release
from nurturing import transport

logger = logging.getLogger(__name__)

# Task names (published by name; handoff/tasks.py defines the tasks).
SLA_NOTIFY = "handoff.sla_notify"
ROUTE_LEADS = "handoff.route_leads"

NOTICES_PER_TASK = 100
LEADS_PER_ROUTING_TASK = 500
# A notice still unsent this long after it was queued lost its task (a broker outage, a worker
# that died mid-send, a passing SMTP error): the job queues it again. Duplicates are harmless
# (each send is claimed), so this only trades latency against queue traffic.
NOTICE_REQUEUE_AFTER = timedelta(minutes=5)
NOTICE_REQUEUE_LIMIT = 1_000

# Writes one notice per assignment marked, in the same statement as the mark.
_NOTICES = """
noticed AS (
    INSERT INTO handoff_slanotice (assignment_id, kind, created_at, queued_at, error)
    SELECT id, %(kind)s, %(now)s, %(now)s, '' FROM marked
    ON CONFLICT (assignment_id, kind) DO NOTHING
    RETURNING id
)
"""

# `due` lists the rows and locks them, skipping what another transaction holds; the UPDATE
# repeats the condition on the locked (current) row: a row already marked is never marked again.
# `id = ANY(ARRAY(...))`: the rows are fetched by primary key, not by a join that would read
# every pending row.
MARK_ACCEPT_BREACHES = f"""
WITH due AS (
    SELECT id FROM handoff_assignment
    WHERE status = 'pending' AND accept_due_at <= %(now)s AND accept_breached_at IS NULL
    FOR UPDATE SKIP LOCKED
), marked AS (
    UPDATE handoff_assignment AS a SET accept_breached_at = %(now)s
    WHERE a.id = ANY(ARRAY(SELECT id FROM due))
        AND a.status = 'pending' AND a.accept_breached_at IS NULL
    RETURNING a.id
), {_NOTICES}
SELECT (SELECT count(*) FROM marked), ARRAY(SELECT id FROM noticed ORDER BY id)
"""

MARK_TOUCH_BREACHES = f"""
WITH due AS (
    SELECT id FROM handoff_assignment
    WHERE status = 'accepted' AND first_touched_at IS NULL AND first_touch_due_at <= %(now)s
        AND touch_breached_at IS NULL
    FOR UPDATE SKIP LOCKED
), marked AS (
    UPDATE handoff_assignment AS a SET touch_breached_at = %(now)s
    WHERE a.id = ANY(ARRAY(SELECT id FROM due))
        AND a.status = 'accepted' AND a.first_touched_at IS NULL AND a.touch_breached_at IS NULL
    RETURNING a.id
), {_NOTICES}
SELECT (SELECT count(*) FROM marked), ARRAY(SELECT id FROM noticed ORDER BY id)
"""

# `accept_due_at <= now` is implied (the reassign deadline follows the accept deadline) but lets
# the planner use the partial index on pending rows by accept_due_at. The leads are locked too
# (skipping those someone holds: a rep deciding right now), as their owner changes.
TAKE_BACK = f"""
WITH due AS (
    SELECT id, lead_id FROM handoff_assignment
    WHERE status = 'pending' AND accept_due_at <= %(now)s AND reassign_due_at <= %(now)s
    FOR UPDATE SKIP LOCKED
), held AS (
    SELECT id FROM leads_lead WHERE id = ANY(ARRAY(SELECT lead_id FROM due))
    FOR UPDATE SKIP LOCKED
), marked AS (
    UPDATE handoff_assignment AS a
    SET status = 'reassigned', ended_at = %(now)s,
        accept_breached_at = coalesce(a.accept_breached_at, %(now)s)
    WHERE a.id = ANY(ARRAY(SELECT due.id FROM due JOIN held ON held.id = due.lead_id))
        AND a.status = 'pending'
    RETURNING a.id, a.lead_id, a.rep_id
), {_NOTICES}
SELECT ARRAY(SELECT lead_id FROM marked ORDER BY lead_id),
    ARRAY(SELECT rep_id FROM marked ORDER BY lead_id),
    ARRAY(SELECT id FROM noticed ORDER BY id)
"""

# Unsent notices whose task was lost, claimed for re-queueing by one job only.
REQUEUE_NOTICES = """
UPDATE handoff_slanotice SET queued_at = %(now)s
WHERE id IN (
    SELECT id FROM handoff_slanotice
    WHERE sent_at IS NULL AND error = '' AND queued_at <= %(stale)s
    ORDER BY queued_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING id
"""


def _run(sql: str, **params) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _requeue(now: datetime) -> list[int]:
    with connection.cursor() as cursor:
        stale = now - NOTICE_REQUEUE_AFTER
        cursor.execute(REQUEUE_NOTICES, {"now": now, "stale": stale, "limit": NOTICE_REQUEUE_LIMIT})
        return sorted(row[0] for row in cursor.fetchall())


def _take_back(now: datetime) -> tuple[int, list[int], list[int]]:
    """Assignments past their reassign deadline end; their leads lose the rep (unless a manager
    gave a lead to someone else meanwhile). Returns how many assignments ended, the leads
    released and the notices written."""
    lead_ids, rep_ids, notices = _run(TAKE_BACK, now=now, kind=SlaNoticeKind.REASSIGNED.value)
    released = leads_owner_release(owners=dict(zip(lead_ids, rep_ids, strict=True)))
    return len(lead_ids), released, notices


@transaction.atomic
def sla_check(*, now: datetime | None = None) -> dict:
    """Mark missed deadlines, queue their escalation emails, take back leads past the reassign
    deadline and queue them for routing (see the module docstring). Idempotent.

    Returns how many rows each step changed, and how many lost notices were queued again.
    """
    now = now or timezone.now()
    accept, accept_notices = _run(MARK_ACCEPT_BREACHES, now=now, kind=SlaNoticeKind.ACCEPT.value)
    touch, touch_notices = _run(MARK_TOUCH_BREACHES, now=now, kind=SlaNoticeKind.TOUCH.value)
    taken, released, taken_notices = _take_back(now)
    requeued = _requeue(now)
    _publish_in_chunks(
        SLA_NOTIFY, [*accept_notices, *touch_notices, *taken_notices], NOTICES_PER_TASK
    )
    _publish_in_chunks(SLA_NOTIFY, requeued, NOTICES_PER_TASK)
    _publish_in_chunks(ROUTE_LEADS, released, LEADS_PER_ROUTING_TASK)
    return {
        "accept_breaches": accept,
        "touch_breaches": touch,
        "reassigned": taken,
        "notices_requeued": len(requeued),
    }


def _publish_in_chunks(task_name: str, ids: list[int], size: int) -> None:
    for chunk in batched(ids, size):
        publish_on_commit(task_name, list(chunk))


# --- Sending the escalation emails ------------------------------------------------------------


def _claim(notice_id: int, token: datetime) -> bool:
    # One autocommitted statement, made just before the SMTP server is asked to accept: a second
    # delivery of the task (or a second task) finds it claimed and sends nothing.
    return (
        SlaNotice.objects.filter(pk=notice_id, sent_at__isnull=True, error="").update(sent_at=token)
        == 1
    )


def _release(notice_id: int, token: datetime, error: str = "") -> None:
    """Undo our claim: unsent (a passing failure, retried later) or given up (`error`)."""
    SlaNotice.objects.filter(pk=notice_id, sent_at=token).update(sent_at=None, error=error)


def _give_up(notice_id: int, error: str) -> None:
    SlaNotice.objects.filter(pk=notice_id, sent_at__isnull=True).update(error=error[:1000])


def sla_notices_send(*, notice_ids: list[int]) -> int:
    """Send these escalation emails, each at most once; returns how many were sent.

    Must run outside a transaction (each claim is committed as it is made). A notice already
    sent, given up, or being sent by someone else is skipped. A passing failure (server down,
    4xx) leaves the notice unsent; the SLA job queues it again after NOTICE_REQUEUE_AFTER.
    A worker killed after the claim and before the server's answer loses that one email (the
    claim stays): at most once, never twice.
    """
    notices = list(
        SlaNotice.objects.filter(pk__in=notice_ids, sent_at__isnull=True, error="")
        .select_related("assignment__lead", "assignment__rep")
        .order_by("id")
    )
    if not notices:
        return 0
    context = sla_emails.escalation_context()
    sent = 0
    with transport.Mailer() as mailer:
        for notice in notices:
            try:
                sent += _send_one(mailer, notice, context)
            except transport.Transient as exc:
                # The server is unreachable or busy: the rest would fail the same way.
                logger.warning("SLA notice %s not sent (%s); it is retried later", notice.pk, exc)
                break
    return sent


def _send_one(mailer: transport.Mailer, notice: SlaNotice, context) -> bool:
    message = sla_emails.notice_email(notice, context)
    if not message.recipients():
        _give_up(notice.pk, "nobody to send to: the rep and the managers have no email address")
        return False
    token = timezone.now()
    claimed: list[bool] = []

    def commit() -> bool:
        claimed.append(_claim(notice.pk, token))
        return claimed[-1]

    try:
        mailer.send(message, commit=commit)
    except transport.NotCommitted:
        return False
    except transport.Transient:
        if any(claimed):
            _release(notice.pk, token)
        raise
    except transport.Refused as exc:
        if any(claimed):
            _release(notice.pk, token, error=f"refused: {exc}"[:1000])
        else:
            _give_up(notice.pk, f"refused: {exc}")
        return False
    except transport.AcceptanceUnknown as exc:
        # Claimed and maybe delivered: never sent again (at most once), but say so.
        SlaNotice.objects.filter(pk=notice.pk).update(error=f"answer lost: {exc}"[:1000])
        return False
    return True
