"""Demo users and leads for `make run`. Idempotent: running it twice changes nothing."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from leads import lifecycle, services
from leads.models import Lead, SourceChannel, Stage
from leads.selectors import leads_with_email

DEMO_DOMAIN = "demo.leadcrm.test"


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    first_name: str
    superuser: bool = False


DEMO_USERS = (
    DemoUser("admin", "admin-demo", Role.ADMIN, "Ada", superuser=True),
    DemoUser("marketer", "marketer-demo", Role.MARKETER, "Mia"),
    DemoUser("rep1", "rep1-demo", Role.REP, "Ravi"),
    DemoUser("rep2", "rep2-demo", Role.REP, "Rosa"),
)

# (first name, last name, company, title, size, source, path of stages after IQL, owner)
_PEOPLE = [
    ("Iris", "Quinn", "Acme Books", "Editor", 8, SourceChannel.LEAD_MAGNET, [], None),
    ("Ivan", "Lopez", "Northwind", "Analyst", 30, SourceChannel.ORGANIC_SEARCH, [], None),
    ("Ines", "Park", "Blue Fin", "Designer", 12, SourceChannel.SOCIAL, [], None),
    ("Mark", "Quigley", "Globex", "Head of Ops", 240, SourceChannel.PAID_SEARCH, ["MQL"], None),
    ("Maya", "Lind", "Initech", "VP Marketing", 120, SourceChannel.GUEST_BLOG, ["MQL"], None),
    ("Paul", "Quest", "Hooli", "Engineer", 800, SourceChannel.ORGANIC_SEARCH, ["PQL"], None),
    ("Priya", "Larsen", "Umbrella", "CTO", 60, SourceChannel.REFERRAL, ["MQL", "PQL"], None),
    (
        "Sam",
        "Allen",
        "Stark Industries",
        "Director IT",
        5000,
        SourceChannel.EVENT,
        ["MQL", "SAL"],
        "rep1",
    ),
    ("Sara", "Ali", "Wayne Corp", "Founder", 45, SourceChannel.PARTNER, ["PQL", "SAL"], "rep2"),
    (
        "Seth",
        "Quail",
        "Cyberdyne",
        "Chief of Staff",
        900,
        SourceChannel.DIRECT_OUTREACH,
        ["MQL", "SAL", "SQL"],
        "rep1",
    ),
    (
        "Sofia",
        "Quintero",
        "Tyrell",
        "VP Sales",
        300,
        SourceChannel.REFERRAL,
        ["PQL", "SAL", "SQL"],
        "rep2",
    ),
    (
        "Carl",
        "Ustinov",
        "Soylent",
        "COO",
        150,
        SourceChannel.EVENT,
        ["MQL", "SAL", "SQL", "CUSTOMER"],
        "rep1",
    ),
    ("Dina", "Quarry", "Gringotts", "Student", 1, SourceChannel.SOCIAL, ["DISQUALIFIED"], None),
    (
        "Rita",
        "Cycle",
        "Vandelay",
        "Buyer",
        20,
        SourceChannel.PAID_SEARCH,
        ["MQL", "SAL", "MQL"],
        "rep2",
    ),
]

_REASONS = {
    "DISQUALIFIED": "Student project, no budget",
    "MQL": "Not ready to buy this quarter; back to nurture",
}


def demo_users_ensure() -> list[DemoUser]:
    for demo in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=demo.username,
            defaults={
                "role": demo.role,
                "first_name": demo.first_name,
                "email": f"{demo.username}@{DEMO_DOMAIN}",
            },
        )
        if created:
            user.is_superuser = user.is_staff = demo.superuser
            user.set_password(demo.password)
            user.save()
    return list(DEMO_USERS)


@transaction.atomic
def demo_leads_ensure() -> int:
    """Create the demo leads (one path through the lifecycle each). Returns how many were new."""
    created = 0
    owners = {u.username: u for u in User.objects.filter(username__in=["rep1", "rep2"])}
    marketer = User.objects.get(username="marketer")
    for first, last, company, title, size, source, path, owner in _PEOPLE:
        email = f"{first}.{last}@{company.split()[0]}.example".lower()
        if leads_with_email(email).exists():
            continue
        lead = services.lead_create(
            actor=marketer,
            email=email,
            first_name=first,
            last_name=last,
            company_name=company,
            title=title,
            company_size=size,
            source=source,
            external_id=f"demo-{first}-{last}".lower(),
        )
        _walk(lead, path, owners.get(owner) if owner else None, marketer)
        days_ago = 3 + 4 * len(path) + created % 5
        _backdate(lead, days_ago=days_ago)
        _activity(lead, final=path[-1] if path else Stage.IQL, days_ago=days_ago)
        created += 1
    return created


# What each demo lead did, by the stage it ends in: (Segment call type, event or page name, times).
_ACTIVITY = {
    Stage.IQL: [("track", "Ebook Downloaded", 1)],
    Stage.MQL: [
        ("page", "Pricing", 2),
        ("track", "Webinar Attended", 1),
        ("track", "Newsletter Subscribed", 1),
    ],
    Stage.PQL: [
        ("page", "Pricing", 1),
        ("track", "Project Created", 2),
        ("track", "Task Created", 20),
    ],
    Stage.SAL: [("page", "Pricing", 3), ("track", "Demo Requested", 1)],
    Stage.SQL: [
        ("page", "Pricing", 3),
        ("track", "Demo Requested", 1),
        ("track", "Webinar Attended", 1),
    ],
    Stage.CUSTOMER: [("page", "Pricing", 3), ("track", "Demo Requested", 1)],
    Stage.DISQUALIFIED: [],
}


def _activity(lead: Lead, *, final: str, days_ago: int) -> None:
    """Push the lead's demo activity through event ingestion, the path every event takes."""
    from events.services import events_ingest, source_internal

    start = timezone.now() - timedelta(days=days_ago)
    messages: list[dict[str, str | None]] = []
    for call, name, times in _ACTIVITY[Stage(final)]:
        for _ in range(times):
            at = start + timedelta(hours=6 * (len(messages) + 1))
            message = {
                "type": call,
                "userId": lead.external_id,
                "timestamp": at.isoformat(),
                "messageId": f"{lead.external_id}-{len(messages)}",
            }
            message["event" if call == "track" else "name"] = name
            messages.append(message)
    if messages:
        events_ingest(source=source_internal("demo"), messages=messages)


def _walk(lead: Lead, path: list[str], owner: User | None, marketer: User) -> None:
    current: str = Stage.IQL
    for stage in path:
        if lifecycle.is_forward(current, stage) and stage in (Stage.MQL, Stage.PQL):
            services.lead_promote(lead_id=lead.pk, to=stage, rule="demo playbook")
        else:
            services.lead_transition(
                lead_id=lead.pk, to=stage, actor=owner or marketer, reason=_REASONS.get(stage, "")
            )
        current = stage


def _backdate(lead: Lead, *, days_ago: int) -> None:
    """Spread a demo lead's history over past days so time-in-stage figures mean something.

    Seeding only: real history rows are never rewritten.
    """
    start = timezone.now() - timedelta(days=days_ago)
    rows = list(lead.stage_changes.order_by("changed_at", "id"))
    step = timedelta(days=days_ago) / (len(rows) + 1)
    for index, row in enumerate(rows):
        row.changed_at = start + step * index
        row.save(update_fields=["changed_at"])
    Lead.objects.filter(pk=lead.pk).update(created_at=start, stage_entered_at=rows[-1].changed_at)
