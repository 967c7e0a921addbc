"""Demo data for the website front door: the marketing site as a browser source (its public
key allowed from http://127.0.0.1:8000), the "ebook" form with its hosted page (/f/ebook/,
double opt-in), and leads that came through it: three confirmed, one still waiting for its
confirmation link. One of them read the pricing page and the blog before filling the form: those
page views joined the lead.

`demo_setup` calls `demo_web_ensure()` after the demo users exist (the form is the demo
marketer's). Idempotent: a second call adds nothing. The submissions go through the
real service (spam checks, lead, consent, event), with a form shown a minute earlier.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from events import services as event_services
from events.models import ConsentPolicy, Source, SourceKind
from web import services as web_services
from web import spam
from web.models import Form

DEMO_ORIGIN = "http://127.0.0.1:8000"
SOURCE_NAME = "Marketing website (browser)"
FORM_SLUG = "ebook"

FORM = {
    "slug": FORM_SLUG,
    "name": "Lead-scoring ebook",
    "title": "Get the lead-scoring ebook",
    "intro": "Thirty pages on scoring leads: which signals matter, how many points each is "
    "worth, and when to hand a lead to sales.",
    "fields": [
        {"name": "email", "label": "Work email", "required": True},
        {"name": "first_name", "label": "First name", "required": True},
        {"name": "last_name", "label": "Last name"},
        {"name": "company_name", "label": "Company"},
        {"name": "title", "label": "Job title"},
        {
            "name": "team_size",
            "label": "Sales team size",
            "kind": "select",
            "options": ["1-5", "6-20", "21-100", "100+"],
        },
    ],
    "offer_title": "the lead-scoring ebook",
    "offer_url": "https://example.com/guides/lead-scoring-ebook.pdf",
    "source_channel": "lead_magnet",
    "consent_text": "Yes, email me the ebook and occasional guides from leadcrm. "
    "I can unsubscribe at any time.",
    "double_opt_in": True,
    "thank_you_message": "Thank you for your interest in the ebook!",
}


@dataclass(frozen=True)
class Visitor:
    first_name: str
    last_name: str
    company: str
    title: str
    team_size: str
    ip: str
    utm: dict
    confirmed: bool
    pages: tuple[str, ...] = ()

    @property
    def email(self) -> str:
        return f"{self.first_name}.{self.last_name}@{self.company.split()[0]}.example".lower()


VISITORS = (
    Visitor(
        "Nora",
        "Webb",
        "Lumen Analytics",
        "Head of Sales Ops",
        "21-100",
        "203.0.113.21",
        {"utm_source": "linkedin", "utm_medium": "social", "utm_campaign": "ebook-launch"},
        confirmed=True,
        pages=("Blog", "Pricing"),
    ),
    Visitor(
        "Omar",
        "Haddad",
        "Brightpath",
        "Marketing Manager",
        "6-20",
        "203.0.113.22",
        {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "march"},
        confirmed=True,
    ),
    Visitor(
        "Lena",
        "Fischer",
        "Kiteworks",
        "VP Revenue",
        "100+",
        "203.0.113.23",
        {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "lead-scoring"},
        confirmed=True,
    ),
    Visitor(
        "Tom",
        "Okafor",
        "Fieldnote",
        "Founder",
        "1-5",
        "203.0.113.24",
        {},
        confirmed=False,
    ),
)


def demo_web_ensure() -> int:
    """The browser source, the form and its leads, if missing. Returns how many were created."""
    created = int(_browser_source_ensure())
    if Form.objects.filter(slug=FORM_SLUG).exists():
        return created
    with transaction.atomic():
        marketer = User.objects.get(username="marketer")
        form = web_services.form_create(actor=marketer, **FORM)
    for number, visitor in enumerate(VISITORS):
        _came_through(form, visitor, number)
    return created + 1 + len(VISITORS)


def _browser_source_ensure() -> bool:
    if Source.objects.filter(name=SOURCE_NAME).exists():
        return False
    # A real key (its digest kept): rotate it to see it. A browser key is public anyway.
    source, _key = event_services.source_create(name=SOURCE_NAME)
    Source.objects.filter(pk=source.pk).update(
        kind=SourceKind.BROWSER,
        allowed_origins=[DEMO_ORIGIN],
        consent_policy=ConsentPolicy.NEEDED,
    )
    return True


def _came_through(form: Form, visitor: Visitor, number: int) -> None:
    now = timezone.now()
    anonymous_id = f"demo-visitor-{number}"
    if visitor.pages:
        source = Source.objects.get(name=SOURCE_NAME)
        event_services.events_ingest(
            source=source,
            messages=[
                {
                    "type": "page",
                    "name": name,
                    "anonymousId": anonymous_id,
                    "messageId": f"{anonymous_id}-page-{i}",
                    "timestamp": (now - timedelta(minutes=30 - i)).isoformat(),
                }
                for i, name in enumerate(visitor.pages)
            ],
        )
    submission = web_services.submission_create(
        form=form,
        answers={
            "email": visitor.email,
            "first_name": visitor.first_name,
            "last_name": visitor.last_name,
            "company_name": visitor.company,
            "title": visitor.title,
            "team_size": visitor.team_size,
        },
        consent=True,
        token=spam.form_token(form_id=form.pk, at=now - timedelta(minutes=1)),
        visit=web_services.Visit(
            ip=visitor.ip,
            user_agent="Mozilla/5.0 (demo)",
            referrer="https://www.example.com/blog/lead-scoring",
            anonymous_id=anonymous_id,
            utm=visitor.utm,
        ),
    )
    if visitor.confirmed:
        web_services.submission_confirm(submission_id=submission.pk, ip=visitor.ip)
