"""Six months of demo lead history for the dashboard: about 2,000 leads from every source
channel, their stage history, the rejections the reps made and the activity behind it all
(the plan: playbook/demo_history_plan.py). Idempotent: leads whose external id starts with
`MARKER` mean the history is there, and a second run writes nothing.

Seeding, not the live path: the rows are written in bulk, as the services would have left them
(a history row per move, owners from the acceptance on, recycle counts), but without the
stage hooks (no nurture enrollments, no hand-off emails for months-old moves). The events go
into scoring's queue, so `demo_setup`'s scoring pass gives every lead the score and band the
default playbook gives its activity, and moves none of them (the plan keeps IQL leads under
the MQL threshold and product bursts before the moves they explain).
"""

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from events.services import source_internal
from handoff.models import Assignment, AssignmentStatus, Rejection
from leads.models import Direction, Lead, SourceChannel, StageChange
from playbook.demo_history_plan import MARKER, PlannedLead, plan

USERS = ("marketer", "rep1", "rep2", "rep3")


@transaction.atomic
def demo_history_ensure(*, now: datetime | None = None) -> int:
    """Write the history unless it is there; returns how many leads were new."""
    if Lead.objects.filter(external_id__startswith=MARKER).exists():
        return 0
    now = now or timezone.now()
    users = {u.username: u for u in User.objects.filter(username__in=USERS)}
    planned = plan(now=now)
    leads = Lead.objects.bulk_create(_lead(p, users) for p in planned)
    ids = [lead.pk for lead in leads]
    _backdate(ids, planned)
    StageChange.objects.bulk_create(
        StageChange(
            lead_id=lead_id,
            from_stage=c.from_stage,
            to_stage=c.to_stage,
            changed_at=c.at,
            changed_by=users.get(c.by or ""),
            rule=c.rule,
            reason=c.reason,
        )
        for lead_id, p in zip(ids, planned, strict=True)
        for c in p.changes
    )
    _rejections(ids, planned, users)
    _events(ids, planned)
    _analyze()
    return len(ids)


def _analyze() -> None:
    """Statistics for the planner on the tables just filled in bulk: without them it plans the
    queries that follow (scoring the history's events, the demo's own checks) for the empty
    tables it last saw, and a nested loop over 15,000 events took minutes on a fresh
    PostgreSQL 18 (`make test`'s embedded one)."""
    with connection.cursor() as cursor:
        tables = ("leads_lead", "leads_stagechange", "leads_journey", "events_event")
        for table in (*tables, "events_pendingevent"):
            cursor.execute(f"ANALYZE {table}")


def _lead(p: PlannedLead, users: dict[str, User]) -> Lead:
    utm_source, utm_medium, utm_campaign = p.utm
    outbound = p.source in (SourceChannel.DIRECT_OUTREACH, SourceChannel.IMPORT)
    return Lead(
        email=p.email,
        first_name=p.first_name,
        last_name=p.last_name,
        title=p.title,
        country=p.country,
        company_name=p.company_name,
        company_domain=p.company_domain,
        company_size=p.company_size,
        source=p.source,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        utm_source=utm_source,
        utm_medium=utm_medium,
        utm_campaign=utm_campaign,
        external_id=p.external_id,
        owner=users.get(p.owner or ""),
        stage=p.stage,
        stage_entered_at=p.changes[-1].at,
        recycle_count=p.recycle_count,
    )


def _backdate(ids: list[int], planned: list[PlannedLead]) -> None:
    """created_at is auto_now_add (bulk_create sets it to now): one UPDATE puts each lead's
    creation, and its last change, where its history says."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads_lead AS l SET created_at = v.created, updated_at = v.updated "
            "FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) "
            "AS v(id, created, updated) WHERE l.id = v.id",
            [ids, [p.created_at for p in planned], [p.changes[-1].at for p in planned]],
        )


def _rejections(ids: list[int], planned: list[PlannedLead], users: dict[str, User]) -> None:
    """Each rejection as lead_reject leaves it: the assignment ended REJECTED (routing leaves
    the lead in nurture for it) and the Rejection with what had made the lead MQL/PQL."""
    rows = [(lead_id, p, r) for lead_id, p in zip(ids, planned, strict=True) for r in p.rejections]
    assignments = Assignment.objects.bulk_create(
        Assignment(
            lead_id=lead_id,
            rep=users[r.rep],
            status=AssignmentStatus.REJECTED,
            assigned_at=r.assigned_at,
            notified_at=r.assigned_at,
            accept_due_at=r.assigned_at + timedelta(minutes=60),
            reassign_due_at=r.assigned_at + timedelta(minutes=180),
            decided_at=r.rejected_at,
            ended_at=r.rejected_at,
        )
        for lead_id, _, r in rows
    )
    Rejection.objects.bulk_create(
        Rejection(
            lead_id=lead_id,
            rep=users[r.rep],
            assignment=assignment,
            reason=r.reason,
            source=p.source,
            stage=_stage_at(p, r.assigned_at),
            qualified_by=_rule_at(p, r.assigned_at),
            rejected_at=r.rejected_at,
        )
        for (lead_id, p, r), assignment in zip(rows, assignments, strict=True)
    )


def _stage_at(p: PlannedLead, at: datetime) -> str:
    return [c.to_stage for c in p.changes if c.at <= at][-1]


def _rule_at(p: PlannedLead, at: datetime) -> str:
    return [c.rule for c in p.changes if c.at <= at][-1] or "by hand"


def _events(ids: list[int], planned: list[PlannedLead]) -> None:
    """The activity, as ingestion stores it for a known lead, queued for scoring."""
    source = source_internal("demo")
    rows = [
        (f"{p.external_id}-{n}", kind, name, lead_id, p.external_id, at)
        for lead_id, p in zip(ids, planned, strict=True)
        for n, (kind, name, at) in enumerate(sorted(p.events, key=lambda e: e[2]))
    ]
    columns = [list(column) for column in zip(*rows, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH new AS (
                INSERT INTO events_event (source_id, message_id, type, name, lead_id, user_id,
                    anonymous_id, previous_id, group_id, properties, traits, context,
                    occurred_at, received_at)
                SELECT %s, m, t, n, l, u, '', '', '', '{}', '{}', '{}', a, a
                FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[],
                    %s::timestamptz[]) AS v(m, t, n, l, u, a)
                RETURNING id
            )
            INSERT INTO events_pendingevent (event_id) SELECT id FROM new
            """,
            [source.pk, *columns],
        )
