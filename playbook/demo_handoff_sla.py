"""Demo data for the response SLAs: leads whose deadlines were met, missed, and one taken back,
so that the SLA report, the lead timelines and the inbox show every case. Idempotent.

`demo_sla_ensure()` runs after the demo users exist (rep1, rep2: playbook/demo.py). The rows
are written as the hand-off would have left them, breach marks and escalation notices (sent)
included, so the SLA job finds nothing left to do for them, except the lead whose accept
deadline passed twenty minutes ago: the job takes it back once its reassign deadline passes,
and emails about that. Deadlines are plain elapsed time from the settings' minutes (the demo
runs around the clock, the default).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from handoff.models import Activity, Assignment, AssignmentStatus, SlaNotice
from handoff.selectors import handoff_settings
from leads import services
from leads.models import Lead, SourceChannel, Stage
from leads.selectors import leads_with_email

RULE = "demo playbook"


@dataclass(frozen=True)
class SlaCase:
    first: str
    last: str
    company: str
    source: str
    rep: str
    ago: timedelta | None = None  # assigned this long ago, or:
    accept_left: timedelta | None = None  # this long left to accept now (negative: missed)
    accepted_after: timedelta | None = None  # None: never answered
    touched_after: timedelta | None = None  # after the accept; None: never touched
    taken_back: bool = False


M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)

CASES = (
    # Met both: accepted in 12 minutes, called 40 minutes later.
    SlaCase(
        "Hana", "Mori", "Kyoto Tea", SourceChannel.REFERRAL, "rep1", 3 * D, None, 12 * M, 40 * M
    ),
    SlaCase(
        "Omar", "Haddad", "Cedar Labs", SourceChannel.EVENT, "rep2", 4 * D, None, 25 * M, 2 * H
    ),
    # Accepted late (accept deadline missed), touched in time.
    SlaCase(
        "Lena", "Berg", "Fjord Data", SourceChannel.PAID_SEARCH, "rep1", 2 * D, None, 90 * M, H
    ),
    # Accepted in time, never touched: the first-touch deadline passed.
    SlaCase("Tom", "Reyes", "Mesa Solar", SourceChannel.EVENT, "rep2", D, None, 30 * M),
    # Not answered, taken back after the reassign deadline (the lead goes back to routing).
    SlaCase(
        "Nora", "Vidal", "Brisa Foods", SourceChannel.PAID_SEARCH, "rep2", 2 * D, taken_back=True
    ),
    # Not answered: the accept deadline passed 20 minutes ago; the reassign deadline is ahead.
    SlaCase("Ivo", "Kral", "Tatra Tools", SourceChannel.REFERRAL, "rep1", accept_left=-20 * M),
    # Waiting, on time: 40 minutes left to accept.
    SlaCase(
        "Ada", "Nwosu", "Lagos Ledger", SourceChannel.ORGANIC_SEARCH, "rep1", accept_left=40 * M
    ),
)


@dataclass(frozen=True)
class _Clock:
    accept: timedelta
    touch: timedelta
    reassign: timedelta


def _clock() -> _Clock:
    row = handoff_settings()
    return _Clock(
        accept=timedelta(minutes=row.accept_within_minutes),
        touch=timedelta(minutes=row.first_touch_within_minutes),
        reassign=timedelta(minutes=row.reassign_after_minutes),
    )


def _assigned_at(case: SlaCase, clock: _Clock, now: datetime) -> datetime:
    if case.ago is not None:
        return now - case.ago
    return now - clock.accept + (case.accept_left or timedelta(0))


@transaction.atomic
def demo_sla_ensure() -> int:
    """Create the SLA demo leads and their assignments. Returns how many were new."""
    reps = {u.username: u for u in User.objects.filter(username__in=["rep1", "rep2"])}
    clock, now, created = _clock(), timezone.now(), 0
    for case in CASES:
        email = f"{case.first}.{case.last}@{case.company.split()[0]}.example".lower()
        if leads_with_email(email).exists():
            continue
        rep = reps[case.rep]
        lead = _lead(case, email, rep)
        _assignment(case, lead, rep, clock, _assigned_at(case, clock, now), now)
        created += 1
    return created


def _lead(case: SlaCase, email: str, rep: User) -> Lead:
    lead = services.lead_create(
        actor=None,
        email=email,
        first_name=case.first,
        last_name=case.last,
        company_name=case.company,
        source=case.source,
        owner=rep,
        rule=RULE,
    )
    services.lead_promote(lead_id=lead.pk, to=Stage.MQL, rule=RULE)
    if case.accepted_after is not None:
        services.lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=rep)
    return lead


def _assignment(
    case: SlaCase, lead: Lead, rep: User, clock: _Clock, at: datetime, now: datetime
) -> None:
    row = Assignment(
        lead=lead,
        rep=rep,
        assigned_at=at,
        notified_at=at,
        accept_due_at=at + clock.accept,
        reassign_due_at=at + clock.accept + clock.reassign,
    )
    if case.accepted_after is not None:
        _accepted(row, case, clock)
    if row.accept_due_at <= min(now, row.decided_at or now):
        row.accept_breached_at = row.accept_due_at + M  # the job's next minute
    if case.taken_back:
        row.status, row.ended_at = AssignmentStatus.REASSIGNED, row.reassign_due_at + M
        services.leads_owner_release(owners={lead.pk: rep.pk})
    row.save()
    _backdate(lead, row)
    _touch(row, rep)
    _notices(row)


def _backdate(lead: Lead, row: Assignment) -> None:
    """The lead's history at the assignment's times: created, MQL, then SAL when accepted.
    Seeding only: real history rows are never rewritten."""
    times = [row.assigned_at - 2 * M, row.assigned_at - M, row.decided_at or row.assigned_at]
    changes = list(lead.stage_changes.order_by("changed_at", "id"))
    for change, at in zip(changes, times, strict=False):
        change.changed_at = at
        change.save(update_fields=["changed_at"])
    Lead.objects.filter(pk=lead.pk).update(
        created_at=times[0], stage_entered_at=changes[-1].changed_at
    )


def _accepted(row: Assignment, case: SlaCase, clock: _Clock) -> None:
    assert case.accepted_after is not None  # called only for the cases that were accepted
    row.status = AssignmentStatus.ACCEPTED
    decided = row.assigned_at + case.accepted_after
    row.decided_at = decided
    row.first_touch_due_at = decided + clock.touch
    if case.touched_after is not None:
        row.first_touched_at = decided + case.touched_after
    if row.first_touched_at is None or row.first_touched_at >= row.first_touch_due_at:
        row.touch_breached_at = row.first_touch_due_at + M


def _touch(row: Assignment, rep: User) -> None:
    if row.first_touched_at:
        body = "Intro call: booked a demo for next week."
        Activity.objects.create(
            lead=row.lead, user=rep, kind="call", body=body, occurred_at=row.first_touched_at
        )


def _notices(row: Assignment) -> None:
    """The escalation emails the job would have sent for this row's breaches."""
    marks = [
        ("accept", row.accept_breached_at),
        ("touch", row.touch_breached_at),
        ("reassigned", row.ended_at if row.status == AssignmentStatus.REASSIGNED else None),
    ]
    SlaNotice.objects.bulk_create(
        SlaNotice(assignment=row, kind=kind, created_at=at, queued_at=at, sent_at=at)
        for kind, at in marks
        if at is not None
    )
