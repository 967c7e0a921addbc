"""The default scoring playbook from the product brief, loaded by `manage.py load_playbook`.

Idempotent: each rule carries a key, and a rule whose key exists is left alone (a marketer may
have edited or switched it off since). The MQL threshold and temperature bands are the
settings' defaults; the PQL conditions are set when none are configured.
"""

from django.db import transaction

from scoring import services
from scoring.models import ScoringRule, ScoringSettings

BEHAVIOUR_DAYS = 90

FREE_MAIL_DOMAINS = [
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "ymail.com",
    "hotmail.com",
    "hotmail.co.uk",
    "outlook.com",
    "live.com",
    "msn.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.com",
    "yandex.com",
    "yandex.ru",
    "mail.ru",
    "zoho.com",
    "qq.com",
    "163.com",
]


def _event(event_name: str, points: int, *, event_type: str = "track", max_times=None) -> dict:
    return {
        "kind": "event",
        "event_type": event_type,
        "event_name": event_name,
        "points": points,
        "max_times": max_times,
        "expires_after_days": BEHAVIOUR_DAYS,
    }


def _fit(field: str, operator: str, value, points: int) -> dict:
    return {
        "kind": "attribute",
        "conditions": [{"field": field, "operator": operator, "value": value}],
        "points": points,
    }


# (key, name, definition)
DEFAULT_RULES = [
    (
        "pricing-page",
        "Viewed the pricing page",
        _event("Pricing", 10, event_type="page", max_times=3),
    ),
    ("newsletter", "Subscribed to the newsletter", _event("Newsletter Subscribed", 10)),
    ("ebook", "Downloaded an ebook", _event("Ebook Downloaded", 10)),
    # A lead-capture form sent (web.services records it): they gave their email for content.
    ("form-submitted", "Submitted a form", _event("Form Submitted", 10)),
    ("webinar", "Attended a webinar", _event("Webinar Attended", 15)),
    ("demo-request", "Requested a demo", _event("Demo Requested", 30)),
    ("email-open", "Opened an email", _event("Email Opened", 2)),
    ("email-click", "Clicked a link in an email", _event("Email Link Clicked", 5)),
    ("unsubscribe", "Unsubscribed", _event("Unsubscribed", -20)),
    (
        "senior-title",
        "Senior title",
        _fit("title", "contains", ["VP", "Head", "Director", "Chief", "Founder"], 15),
    ),
    ("company-size", "Company of 50 or more", _fit("company_size", "gte", 50, 10)),
    ("free-mail", "Free-mail address", _fit("email_domain", "in", FREE_MAIL_DOMAINS, -10)),
]

DEFAULT_PQL = [
    {"event_name": "Project Created", "min_count": 2, "within_days": 14},
    {"event_name": "Task Created", "min_count": 20, "within_days": 14},
]


@transaction.atomic
def playbook_load() -> int:
    """Create the default rules if missing; idempotent. Returns how many were created."""
    existing = set(ScoringRule.objects.filter(key__isnull=False).values_list("key", flat=True))
    created = 0
    for key, name, definition in DEFAULT_RULES:
        if key in existing:
            continue
        services.rule_create(actor=None, name=name, definition=definition, key=key, rescore=False)
        created += 1
    settings_row = ScoringSettings.objects.filter(pk=1).first()
    pql_set = settings_row is None or not settings_row.pql_conditions
    if pql_set:
        services.scoring_settings_update(
            actor=None, data={"pql_conditions": DEFAULT_PQL}, rescore=False
        )
    if created or pql_set:
        # One re-score for the whole playbook, so existing events earn their points.
        services.rescore_start(actor=None, reason="Default playbook loaded")
    return created
