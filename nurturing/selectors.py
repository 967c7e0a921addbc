"""Reads of nurturing, scoped by who asks, and the lead timeline's nurture items."""

from typing import Any

from django.db import connection
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from accounts.models import User
from core import hooks
from core.errors import Forbidden
from leads.models import Lead, StageChange
from leads.selectors import lead_consent_awaited_q, lead_visible_q
from nurturing import emails
from nurturing.models import (
    SENT_STATUSES,
    Enrollment,
    EnrollmentStatus,
    Message,
    MessageStatus,
    Sequence,
    Step,
    Suppression,
)


def lead_paused_q() -> Q:
    """A lead owned by someone who talks to it in person (a rep; apps above nurturing add their
    own conditions through `core.hooks.nurture_pause_conditions`) pauses its enrollments; so
    does a lead whose source or form needs consent it has not given yet (until it does)."""
    combined = Q(owner__isnull=False) | lead_consent_awaited_q()
    for condition in hooks.nurture_pause_conditions.call():
        combined |= condition
    return combined


def paused_lead_exists() -> Exists:
    """For filtering rows that carry a `lead_id`: true when that lead is paused."""
    return Exists(Lead.objects.filter(lead_paused_q(), pk=OuterRef("lead_id")))


def email_suppressed(*, email: str) -> bool:
    return Suppression.objects.filter(email__iexact=email).exists()


def sequence_list() -> QuerySet[Sequence]:
    return Sequence.objects.all()


def step_list() -> QuerySet[Step]:
    return Step.objects.select_related("sequence")


def enrollment_list(*, user: User) -> QuerySet[Enrollment]:
    """Enrollments of the leads `user` may see (leads.selectors decides which those are)."""
    qs = Enrollment.objects.select_related("lead", "sequence", "enrolled_by").annotate(
        lead_paused=paused_lead_exists()
    )
    if user.sees_all_leads:
        return qs
    return qs.filter(lead__in=Lead.objects.filter(lead_visible_q(user)))


def message_list(*, user: User) -> QuerySet[Message]:
    qs = Message.objects.select_related("step", "enrollment__sequence")
    if user.sees_all_leads:
        return qs
    return qs.filter(lead__in=Lead.objects.filter(lead_visible_q(user)))


def message_review_authorize(*, user: User | None) -> None:
    """Reviewing emails (listing them, settling them) is for marketers and admins; `None` is
    the system."""
    if user is not None and not user.does_marketing:
        raise Forbidden("Only marketers and admins review emails.")


def message_review_list(*, user: User) -> QuerySet[Message]:
    """Emails whose worker died while the server was answering: maybe sent, never resent."""
    message_review_authorize(user=user)
    return Message.objects.filter(status=MessageStatus.UNKNOWN).select_related(
        "lead", "step", "enrollment__sequence"
    )


# --- Timeline ----------------------------------------------------------------------------------

# Keyed by the status as stored (a plain str on a loaded row).
_MESSAGE_TITLES: dict[str, str] = {
    MessageStatus.SENT: "Email sent",
    MessageStatus.SKIPPED: "Email skipped",
    MessageStatus.CANCELLED: "Email cancelled",
    MessageStatus.BOUNCED: "Email bounced",
    MessageStatus.FAILED: "Email failed",
    MessageStatus.UNKNOWN: "Email maybe sent (needs review)",
}


def _enrollment_items(lead: Lead) -> list[dict[str, Any]]:
    items = []
    for row in Enrollment.objects.filter(lead=lead).select_related("sequence", "enrolled_by"):
        detail = {
            "enrollment": row.pk,
            "sequence": row.sequence.name,
            "trigger": row.trigger,
            "by": row.enrolled_by.get_username() if row.enrolled_by else None,
        }
        items.append(
            {
                "kind": "nurture_enrolled",
                "at": row.enrolled_at,
                "title": f"Enrolled in {row.sequence.name}",
                "detail": detail,
            }
        )
        if row.ended_at:
            verb = "Completed" if row.status == "completed" else "Left"
            items.append(
                {
                    "kind": f"nurture_{row.status}",
                    "at": row.ended_at,
                    "title": f"{verb} {row.sequence.name}",
                    "detail": {**detail, "reason": row.exit_reason},
                }
            )
    return items


def _message_items(lead: Lead) -> list[dict[str, Any]]:
    items = []
    rows = Message.objects.filter(lead=lead).select_related("step", "enrollment__sequence")
    for row in rows:
        detail = {
            "message": row.pk,
            "sequence": row.enrollment.sequence.name,
            "step": row.step.position,
            "subject": row.subject or row.step.subject,
            "status": row.status,
            "detail": row.detail,
        }
        title = _MESSAGE_TITLES.get(row.status)
        if title:
            at = row.sent_at or row.claimed_at or row.created_at
            items.append({"kind": "nurture_email", "at": at, "title": title, "detail": detail})
        if row.opened_at:
            items.append(
                {
                    "kind": "nurture_open",
                    "at": row.opened_at,
                    "title": "Email opened",
                    "detail": detail,
                }
            )
        if row.clicked_at:
            items.append(
                {
                    "kind": "nurture_click",
                    "at": row.clicked_at,
                    "title": "Email link clicked",
                    "detail": detail,
                }
            )
    return items


def nurture_timeline_items(lead: Lead) -> list[dict[str, Any]]:
    return _enrollment_items(lead) + _message_items(lead)


# --- Figures: what each step achieves ------------------------------------------------------

# Sent: handed to the mail server (a message in review probably was); delivered: not bounced.
_SENT = list(SENT_STATUSES)
_DELIVERED = [MessageStatus.SENT, MessageStatus.UNKNOWN]
FIGURE_DAYS = 30
FIGURE_KEYS = (
    "reached", "sent", "delivered", "opened", "clicked", "unsubscribed", "bounced", "to_mql",
    "to_sql",
)  # fmt: skip


# Emails whose lead entered MQL / SQL within FIGURE_DAYS after the email was sent, per step: a
# join of the steps' sent emails with the (far fewer) MQL and SQL history rows, instead of a
# probe of the history for every email; an email counts once however many entries follow it.
# Both sides come from partial indexes in the lead's order (message_sent_lead,
# stagechange_mql_sql), so the join is a merge of two index-only scans. The steps are given by
# id, not joined, so that the planner sees how many emails they hold. The window is in hours:
# `timestamptz + '30 days'` is calendar arithmetic, a time zone conversion on every row (the
# same instant here, as the connection is in UTC, and as Python's timedelta(days=30) counts),
# where `+ '720 hours'` is an addition.
_WENT_ON_SQL = f"""
SELECT m.step_id, count(DISTINCT m.id) FILTER (WHERE sc.to_stage = 'MQL'),
    count(DISTINCT m.id) FILTER (WHERE sc.to_stage = 'SQL')
FROM {Message._meta.db_table} AS m
JOIN {StageChange._meta.db_table} AS sc ON sc.lead_id = m.lead_id
    AND sc.to_stage IN ('MQL', 'SQL')
    AND sc.changed_at > m.sent_at
    AND sc.changed_at <= m.sent_at + make_interval(hours => %(hours)s)
WHERE m.step_id = ANY(%(steps)s) AND m.status = ANY(%(sent)s)
GROUP BY m.step_id
"""


def _went_on(step_ids: list[int]) -> dict[int, tuple[int, int]]:
    params: dict[str, Any] = {
        "steps": step_ids,
        "sent": [str(status) for status in _SENT],  # as message_sent_lead's condition says
        "hours": FIGURE_DAYS * 24,
    }
    with connection.cursor() as cursor:
        cursor.execute(_WENT_ON_SQL, params)
        return {step_id: (to_mql, to_sql) for step_id, to_mql, to_sql in cursor.fetchall()}


def _step_counts(step_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per step: its emails by status, opened, clicked and unsubscribed, counted in an
    index-only scan of message_step_figures (grouped in its order: no sort, no hash; count(*),
    as the index holds no id), then folded into the figures here."""
    rows = (
        Message.objects.filter(step_id__in=step_ids)
        .values("step_id", "status")
        .annotate(
            n=Count("*"), o=Count("opened_at"), c=Count("clicked_at"), u=Count("unsubscribed_at")
        )
        .order_by()
    )
    by_step: dict[int, dict[str, int]] = {}
    for row in rows:
        figures = by_step.setdefault(row["step_id"], dict.fromkeys(FIGURE_KEYS, 0))
        status, n = row["status"], row["n"]
        figures["reached"] += n
        figures["sent"] += n if status in _SENT else 0
        figures["delivered"] += n if status in _DELIVERED else 0
        figures["bounced"] += n if status == MessageStatus.BOUNCED else 0
        figures["opened"] += row["o"]
        figures["clicked"] += row["c"]
        figures["unsubscribed"] += row["u"]
    return by_step


def sequence_figures(*, sequence: Sequence) -> dict[str, Any]:
    """Per step and for the sequence: emails reached, sent, delivered, opened, clicked,
    unsubscribed, bounced, and leads that went on to MQL / SQL within 30 days of the email.
    Four queries: the steps, their emails' figures, what their leads became, the enrollments."""
    steps_in_order = list(sequence.steps.order_by("position"))
    step_ids = [step.pk for step in steps_in_order]
    by_step = _step_counts(step_ids)
    went_on = _went_on(step_ids)
    steps: list[dict[str, Any]] = []
    for step in steps_in_order:
        row = by_step.get(step.pk, dict.fromkeys(FIGURE_KEYS, 0))
        row["to_mql"], row["to_sql"] = went_on.get(step.pk, (0, 0))
        steps.append({"step": step, **row})
    totals = {key: sum(s[key] for s in steps) for key in FIGURE_KEYS}
    # Counting the (never null) status, not the id: enrollment_sequence_status holds no id,
    # and this way the index alone answers.
    enrollments = sequence.enrollments.aggregate(
        enrolled=Count("status"),
        active=Count("status", filter=Q(status=EnrollmentStatus.ACTIVE)),
        completed=Count("status", filter=Q(status=EnrollmentStatus.COMPLETED)),
    )
    return {"steps": steps, "totals": totals, **enrollments}


# Every sequence's emails sent, opened and clicked: counted per step and status in order from
# message_step_figures alone (as _step_counts does), then summed per sequence over those few
# rows, rather than every email joined with its step and hashed by sequence.
_OVERVIEW_SQL = f"""
SELECT s.sequence_id, coalesce(sum(x.n) FILTER (WHERE x.status = ANY(%(sent)s)), 0)::bigint,
    sum(x.opened)::bigint, sum(x.clicked)::bigint
FROM (
    SELECT step_id, status, count(*) AS n, count(opened_at) AS opened,
        count(clicked_at) AS clicked
    FROM {Message._meta.db_table}
    GROUP BY step_id, status
) AS x
JOIN {Step._meta.db_table} AS s ON s.id = x.step_id
GROUP BY s.sequence_id
"""


def _sequence_sent_counts() -> dict[int, dict[str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(_OVERVIEW_SQL, {"sent": [str(status) for status in _SENT]})
        return {
            sequence_id: {"sent": sent, "opened": opened, "clicked": clicked}
            for sequence_id, sent, opened, clicked in cursor.fetchall()
        }


def sequences_overview() -> list[dict[str, Any]]:
    """Every sequence with its enrollment count and email figures, in two queries."""
    sent = _sequence_sent_counts()
    # Subqueries, not two joins counted DISTINCT: those multiply enrollments by steps. The
    # status is counted, not the id, so that enrollment_sequence_status alone answers.
    enrolled = (
        Enrollment.objects.filter(sequence_id=OuterRef("pk"))
        .values("sequence_id")
        .annotate(n=Count("status"))
        .values("n")
    )
    steps = (
        Step.objects.filter(sequence_id=OuterRef("pk"))
        .values("sequence_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    rows = Sequence.objects.annotate(
        enrolled=Coalesce(Subquery(enrolled, output_field=IntegerField()), 0),
        step_count=Coalesce(Subquery(steps, output_field=IntegerField()), 0),
    ).order_by("name", "id")
    return [
        {
            "sequence": seq,
            **{k: sent.get(seq.pk, {}).get(k, 0) for k in ("sent", "opened", "clicked")},
        }
        for seq in rows
    ]


def step_preview(*, step: Step, lead: Lead) -> dict[str, Any]:
    """The step rendered for a real lead, and which variables fell back to a default because
    the lead's field is blank."""
    context = emails.lead_context(lead)
    rendered = emails.render(
        subject=step.subject, body_text=step.body_text, body_html=step.body_html, context=context
    )
    blank = {
        "first_name": not lead.first_name.strip(),
        "full_name": not (lead.full_name or lead.first_name),
        "company": not lead.company_name.strip(),
        "owner_name": lead.owner_id is None,
    }
    defaults = [(name, context[name]) for name, is_blank in blank.items() if is_blank]
    return {"rendered": rendered, "defaults": defaults, "context": context}
