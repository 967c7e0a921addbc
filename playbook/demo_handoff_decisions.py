"""Demo data of the rep's decisions: leads waiting in rep1's and rep2's inboxes, some accepted
with activities and tasks, two rejections (one back to nurture, one not a fit) and a lead
qualified with its discovery answers. Idempotent: a second run changes nothing.

Needs the demo users (playbook.demo.demo_users_ensure). The assignments are seeded as rows
(no email goes out); live hand-offs open them through routing.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from handoff import clock
from handoff.models import Assignment
from handoff.selectors import handoff_settings
from handoff.services import activities, decisions
from leads import services as lead_services
from leads.models import Lead, SourceChannel, Stage
from leads.selectors import leads_with_email

DOMAIN = "handoff.demo.leadcrm.test"
MQL_RULE = "scoring: MQL threshold 50"
PQL_RULE = "scoring: 20 x Task Created within 14 days"

DISCOVERY = {
    "product_fit": True,
    "decision_makers": "Head of Operations (sponsor), CFO signs",
    "decision_process": "Two-week trial, then a security review",
    "timeframe": "Live before the end of the quarter",
    "current_solution": "Spreadsheets and a shared inbox",
    "budget": "Approved: 18k a year",
}


@dataclass(frozen=True)
class DemoLead:
    first: str
    company: str
    stage: str  # MQL or PQL: what scoring made it
    source: str
    rep: str
    # what the rep does: wait, accept, touch (accept + activities + a task), qualify, or a
    # reject reason code
    then: str
    minutes_ago: int  # when it was assigned


_LEADS = (
    DemoLead("Nina", "Northwind Traders", "MQL", SourceChannel.PAID_SEARCH, "rep1", "wait", 50),
    DemoLead("Omar", "Contoso", "PQL", SourceChannel.ORGANIC_SEARCH, "rep1", "wait", 20),
    DemoLead("Lena", "Fabrikam", "MQL", SourceChannel.EVENT, "rep1", "wait", 5),
    DemoLead("Theo", "Litware", "PQL", SourceChannel.REFERRAL, "rep2", "wait", 35),
    DemoLead("Gwen", "Adventure Works", "MQL", SourceChannel.SOCIAL, "rep2", "wait", 10),
    DemoLead("Hugo", "Tailspin Toys", "MQL", SourceChannel.PAID_SEARCH, "rep1", "touch", 300),
    DemoLead("Iris", "Wide World Importers", "PQL", SourceChannel.PARTNER, "rep2", "touch", 400),
    DemoLead("Kurt", "Proseware", "MQL", SourceChannel.PAID_SEARCH, "rep2", "no_budget", 600),
    DemoLead("Lola", "Lucerne Publishing", "MQL", SourceChannel.SOCIAL, "rep1", "not_a_fit", 700),
    DemoLead("Milo", "Coho Winery", "PQL", SourceChannel.EVENT, "rep1", "qualify", 2000),
)


def _email(demo: DemoLead) -> str:
    return f"{demo.first.lower()}@{demo.company.split()[0].lower()}.{DOMAIN}"


@transaction.atomic
def demo_handoff_decisions() -> int:
    """Seed the decisions' demo leads; returns how many were new."""
    reps = {u.username: u for u in User.objects.filter(username__in=["rep1", "rep2"])}
    marketer = User.objects.get(username="marketer")
    now = timezone.now()
    created = 0
    for demo in _LEADS:
        if leads_with_email(_email(demo)).exists():
            continue
        lead = _qualified_lead(demo, marketer)
        rep = reps[demo.rep]
        _inbox(lead, rep, now - timedelta(minutes=demo.minutes_ago))
        _decide(lead.pk, rep, demo.then, now)
        created += 1
    return created


def _qualified_lead(demo: DemoLead, marketer: User) -> Lead:
    lead = lead_services.lead_create(
        actor=marketer,
        email=_email(demo),
        first_name=demo.first,
        last_name="Demo",
        company_name=demo.company,
        company_domain=f"{demo.company.split()[0].lower()}.example",
        phone=f"+1 555 01{len(demo.first)}{len(demo.company):02d}",
        source=demo.source,
    )
    rule = MQL_RULE if demo.stage == Stage.MQL else PQL_RULE
    lead_services.lead_promote(lead_id=lead.pk, to=demo.stage, rule=rule)
    return lead


def _inbox(lead: Lead, rep: User, at: datetime) -> Assignment:
    """The rep's pending assignment, as routing opens it (deadlines in business time)."""
    settings = handoff_settings()
    hours = clock.hours_parse(settings.business_hours)
    accept_due = clock.deadline(at, settings.accept_within_minutes, hours)
    Lead.objects.filter(pk=lead.pk).update(owner=rep)
    return Assignment.objects.create(
        lead=lead,
        rep=rep,
        assigned_at=at,
        accept_due_at=accept_due,
        reassign_due_at=clock.deadline(accept_due, settings.reassign_after_minutes, hours),
    )


def _decide(lead_id: int, rep: User, then: str, now: datetime) -> None:
    if then == "wait":
        return
    if then not in ("touch", "qualify", "accept"):
        note = "Asked to talk again next year" if then == "no_budget" else "Student project"
        decisions.lead_reject(lead_id=lead_id, actor=rep, reason=then, note=note)
        return
    decisions.lead_accept(lead_id=lead_id, actor=rep)
    if then in ("touch", "qualify"):
        _work(lead_id, rep, now)
    if then == "qualify":
        decisions.lead_qualify(lead_id=lead_id, actor=rep, answers=DISCOVERY)


def _work(lead_id: int, rep: User, now: datetime) -> None:
    activities.activity_log(
        lead_id=lead_id, actor=rep, kind="call", body="Intro call: interested, wants a demo."
    )
    activities.activity_log(
        lead_id=lead_id, actor=rep, kind="note", body="Prefers email; decision this quarter."
    )
    activities.task_create(
        lead_id=lead_id, actor=rep, title="Send the demo recording", due_at=now + timedelta(hours=3)
    )
