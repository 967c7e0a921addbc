"""playbook/demo_web.py: a browser source, the ebook form with its hosted page, and leads that
came through it (three confirmed, one waiting)."""

import pytest
from django.test import Client

from events.models import ConsentPolicy, Event, Source, SourceKind
from leads.models import Consent, ConsentState, Lead
from playbook.demo import demo_users_ensure
from playbook.demo_web import SOURCE_NAME, demo_web_ensure
from web import spam
from web.models import Form, Submission, SubmissionStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limits(monkeypatch):
    # The limiter is not under test here (and Redis not needed): always allowed.
    monkeypatch.setattr(spam.ratelimit, "hit_many", lambda checks, window: None)


def counts() -> tuple[int, ...]:
    return (
        Source.objects.count(),
        Form.objects.count(),
        Submission.objects.count(),
        Lead.objects.count(),
        Consent.objects.count(),
        Event.objects.count(),
    )


def test_the_demo_has_a_browser_source_a_form_and_its_leads():
    demo_users_ensure()

    assert demo_web_ensure() == 6

    source = Source.objects.get(name=SOURCE_NAME)
    assert (source.kind, source.allowed_origins, source.consent_policy) == (
        SourceKind.BROWSER,
        ["http://127.0.0.1:8000"],
        ConsentPolicy.NEEDED,
    )
    form = Form.objects.get(slug="ebook")
    assert (form.double_opt_in, form.is_active, form.created_by.username) == (
        True,
        True,
        "marketer",
    )
    page = Client().get("/f/ebook/")
    assert page.status_code == 200
    assert "<h1>Get the lead-scoring ebook</h1>" in page.content.decode()
    statuses = dict(Submission.objects.values_list("email", "status"))
    assert statuses == {
        "nora.webb@lumen.example": SubmissionStatus.CONFIRMED,
        "omar.haddad@brightpath.example": SubmissionStatus.CONFIRMED,
        "lena.fischer@kiteworks.example": SubmissionStatus.CONFIRMED,
        "tom.okafor@fieldnote.example": SubmissionStatus.PENDING,
    }
    consent = dict(Lead.objects.values_list("email", "consent"))
    assert consent["tom.okafor@fieldnote.example"] == ConsentState.UNKNOWN
    assert consent["nora.webb@lumen.example"] == ConsentState.GIVEN
    nora = Lead.objects.get(email="nora.webb@lumen.example")
    assert (nora.source, nora.utm_campaign, nora.traits) == (
        "lead_magnet",
        "ebook-launch",
        {"team_size": "21-100"},
    )
    # her page views before the form joined her
    assert sorted(Event.objects.filter(lead=nora).values_list("name", flat=True)) == [
        "Blog",
        "Form Submitted",
        "Pricing",
    ]


def test_running_it_again_adds_nothing():
    demo_users_ensure()
    demo_web_ensure()
    before = counts()

    assert demo_web_ensure() == 0
    assert counts() == before
