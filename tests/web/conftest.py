"""Forms for the web tests, and sending them as a visitor would."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from web import services, spam

FIELDS = [
    {"name": "email", "label": "Work email", "required": True},
    {"name": "first_name", "label": "First name", "required": True},
    {"name": "last_name", "label": "Last name"},
    {"name": "company_name", "label": "Company"},
    {"name": "title", "label": "Job title"},
    {"name": "team_size", "label": "Team size", "kind": "select", "options": ["1-10", "11-50"]},
]
CONSENT = "Yes, send me the ebook and occasional emails about leadcrm. Unsubscribe any time."


@pytest.fixture(autouse=True)
def _forms_rate_limits(request, settings, monkeypatch):
    """The forms' rate-limit keys are this test's own. Only tests marked `services` (a real
    Redis) meet the limiter; the others are always allowed."""
    settings.FORMS_KEY_PREFIX = f"test-forms-{uuid.uuid4().hex[:12]}:"
    if request.node.get_closest_marker("services") is None:
        monkeypatch.setattr(spam.ratelimit, "hit_many", lambda checks, window: None)


def make_form(actor, **values):
    defaults = {
        "slug": "ebook",
        "name": "Ebook",
        "title": "Get the lead-scoring ebook",
        "intro": "Thirty pages on scoring leads.",
        "fields": FIELDS,
        "offer_title": "the lead-scoring ebook",
        "offer_url": "https://example.com/ebook.pdf",
        "consent_text": CONSENT,
        "double_opt_in": False,
        "thank_you_message": "Thanks!",
    }
    return services.form_create(actor=actor, **{**defaults, **values})


@pytest.fixture
def form(marketer):
    return make_form(marketer)


@pytest.fixture
def doi_form(marketer):
    return make_form(marketer, slug="ebook-doi", name="Ebook (double opt-in)", double_opt_in=True)


def aged_token(form, seconds: float = 10) -> str:
    """The form's start token, as if the form was shown `seconds` ago."""
    return spam.form_token(form_id=form.pk, at=timezone.now() - timedelta(seconds=seconds))


def answers(**values) -> dict:
    return {
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company_name": "Analytical Engines",
        "title": "Head of Research",
        "team_size": "11-50",
        **values,
    }


def submit(form, *, visit=None, consent=True, token=None, honeypot="", **values):
    """submission_create as the view calls it, with a token 10 s old."""
    return services.submission_create(
        form=form,
        answers=answers(**values),
        consent=consent,
        token=aged_token(form) if token is None else token,
        honeypot=honeypot,
        visit=visit or services.Visit(ip="203.0.113.7", user_agent="pytest"),
    )


def post_data(form, *, consent=True, token=None, **values) -> dict:
    """The body a browser posts (form-encoded)."""
    data = {**answers(**values), "leadcrm_ts": aged_token(form) if token is None else token}
    if consent:
        data["consent"] = "yes"
    return data
