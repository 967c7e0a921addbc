"""A visitor sends a form: web.services.submission_create (spam checks, the answers, and then
the lead, the consent evidence, the event, the anonymous id's link and the Submission row, in
one transaction)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from events import services as event_services
from events.models import Event, Identity, PendingEvent
from leads.models import Consent, ConsentState, Lead, SourceChannel, Stage, StageChange
from nurturing.models import Enrollment
from playbook import scoring as scoring_playbook
from scoring.services import backlog_score
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence
from tests.support import race
from tests.web.conftest import CONSENT, aged_token, make_form, submit
from web import services, spam
from web.models import Submission, SubmissionStatus

pytestmark = pytest.mark.django_db

VISIT = services.Visit(
    ip="203.0.113.7",
    user_agent="Mozilla/5.0 (test)",
    referrer="https://news.example/post",
    anonymous_id="anon-42",
    utm={"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"},
)


def stored() -> dict:
    """Everything a submission writes, counted."""
    return {
        "leads": Lead.objects.count(),
        "submissions": Submission.objects.count(),
        "consents": Consent.objects.count(),
        "events": Event.objects.count(),
        "identities": Identity.objects.count(),
    }


NOTHING = {"leads": 0, "submissions": 0, "consents": 0, "events": 0, "identities": 0}


def test_a_new_visitor_becomes_an_iql_lead_of_the_forms_channel(form):
    submission = submit(form, visit=VISIT, email="Ada@Example.com")

    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.last_name, lead.company_name, lead.title) == (
        "ada@example.com",
        "Ada",
        "Lovelace",
        "Analytical Engines",
        "Head of Research",
    )
    assert (lead.stage, lead.source, lead.consent_required) == (
        Stage.IQL,
        SourceChannel.LEAD_MAGNET,
        True,
    )
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign, lead.utm_term) == (
        "newsletter",
        "email",
        "spring",
        "",
    )
    assert lead.traits == {"team_size": "11-50"}
    history = StageChange.objects.get(lead=lead)
    assert (history.from_stage, history.to_stage, history.reason) == ("", Stage.IQL, "form:ebook")
    assert submission.lead == lead
    assert (submission.status, submission.email, submission.ip, submission.user_agent) == (
        SubmissionStatus.CONFIRMED,
        "ada@example.com",
        "203.0.113.7",
        "Mozilla/5.0 (test)",
    )
    assert submission.data == {
        "fields": {
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company_name": "Analytical Engines",
            "title": "Head of Research",
            "team_size": "11-50",
        },
        "consent_text": CONSENT,
    }
    assert (submission.referrer, submission.anonymous_id, submission.utm) == (
        "https://news.example/post",
        "anon-42",
        VISIT.utm,
    )
    assert submission.confirmed_at == submission.submitted_at


def test_without_double_opt_in_the_consent_is_given_with_its_evidence(form):
    submission = submit(form, visit=VISIT)

    lead = Lead.objects.get()
    assert lead.consent == ConsentState.GIVEN
    evidence = Consent.objects.get(lead=lead)
    assert (evidence.state, evidence.wording, evidence.source, evidence.ip, evidence.at) == (
        ConsentState.GIVEN,
        CONSENT,
        "form:ebook",
        "203.0.113.7",
        submission.submitted_at,
    )


def test_a_new_lead_is_created_with_its_consent_not_updated_after(form):
    """The new lead's row is inserted with consent given, beside its evidence: no second write
    of the row it just inserted."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        submit(form, visit=VISIT)
    writes = [q["sql"] for q in queries.captured_queries if "UPDATE leads_lead" in q["sql"]]
    assert writes == []
    assert Lead.objects.get().consent == ConsentState.GIVEN
    assert Consent.objects.count() == 1


def test_an_existing_lead_gets_consent_and_its_evidence_too(form):
    lead = LeadFactory(email="ada@example.com", consent=ConsentState.UNKNOWN)
    submission = submit(form, visit=VISIT, email="Ada@Example.com")

    lead.refresh_from_db()
    assert lead.consent == ConsentState.GIVEN
    evidence = Consent.objects.get(lead=lead)
    assert (evidence.wording, evidence.source, evidence.ip, evidence.at) == (
        CONSENT,
        "form:ebook",
        "203.0.113.7",
        submission.submitted_at,
    )


def test_consent_given_at_creation_needs_its_wording():
    from django.db import transaction

    from leads import services as lead_services

    consent = lead_services.ConsentGiven(wording=" ", source="form:x", ip=None, at=timezone.now())
    with pytest.raises(ValueError, match="wording"), transaction.atomic():
        lead_services.leads_create_identified(rows=[{"email": "a@example.com"}], consent=consent)
    assert not Lead.objects.exists()


def test_with_double_opt_in_nothing_is_consented_until_confirmed(doi_form):
    submission = submit(doi_form, visit=VISIT)

    lead = Lead.objects.get()
    assert (submission.status, submission.confirmed_at) == (SubmissionStatus.PENDING, None)
    assert (lead.consent, lead.consent_required) == (ConsentState.UNKNOWN, True)
    assert not Consent.objects.exists()


def test_the_forms_sequence_starts_after_the_commit_without_double_opt_in(marketer):
    sequence = make_sequence(key="ebook-followup")
    form = make_form(marketer, sequence=sequence)
    doi = make_form(marketer, slug="doi", double_opt_in=True, sequence=sequence)
    now = submit(form, email="now@example.com")
    later = submit(doi, email="later@example.com")
    assert not Enrollment.objects.exists()  # not in the visitor's request

    # the follow-up task, as often as it may run
    for _ in range(2):
        services.submission_followup(submission_id=now.pk)
        services.submission_followup(submission_id=later.pk)

    assert list(Enrollment.objects.values_list("lead__email", "sequence__key", "trigger")) == [
        ("now@example.com", "ebook-followup", "manual")
    ]
    now.refresh_from_db()
    later.refresh_from_db()
    assert now.sequence_started_at is not None
    assert later.sequence_started_at is None


def test_a_refused_enrollment_is_final(marketer):
    sequence = make_sequence(key="ebook-followup", is_active=False)
    submission = submit(make_form(marketer, sequence=sequence))

    assert services.submission_sequence_start(submission_id=submission.pk) is False

    submission.refresh_from_db()
    assert submission.sequence_started_at is not None  # decided: the catch-up leaves it
    assert not Enrollment.objects.exists()


def test_an_existing_lead_gets_only_its_blank_fields_filled(form):
    lead = LeadFactory(
        email="ada@example.com",
        first_name="Augusta",
        last_name="",
        company_name="",
        title="Countess",
        source=SourceChannel.OTHER,
        utm_source="",
        utm_medium="cpc",
        traits={"team_size": "1-10", "plan": "pro"},
    )

    submission = submit(form, visit=VISIT, email="ADA@example.COM")

    lead.refresh_from_db()
    assert Lead.objects.count() == 1
    assert submission.lead == lead
    assert (lead.email, lead.first_name, lead.last_name, lead.company_name, lead.title) == (
        "ada@example.com",
        "Augusta",
        "Lovelace",
        "Analytical Engines",
        "Countess",
    )
    # "other" is the default (not known): the form's channel fills it. The UTM fields that had
    # a value keep it.
    assert (lead.source, lead.utm_source, lead.utm_medium, lead.utm_campaign) == (
        SourceChannel.LEAD_MAGNET,
        "newsletter",
        "cpc",
        "spring",
    )
    assert lead.traits == {"team_size": "1-10", "plan": "pro"}
    assert (lead.stage, lead.consent_required) == (Stage.IQL, False)


def test_an_existing_leads_known_channel_stays(form):
    lead = LeadFactory(email="ada@example.com", source=SourceChannel.EVENT)

    submit(form)

    lead.refresh_from_db()
    assert lead.source == SourceChannel.EVENT


def test_the_submission_is_a_form_submitted_event_the_playbook_scores(form):
    scoring_playbook.playbook_load()

    submission = submit(form)

    event = Event.objects.get(name="Form Submitted")
    assert (event.lead, event.source.name, event.source.internal, event.type) == (
        submission.lead,
        "forms",
        True,
        "track",
    )
    assert event.properties == {"form": "ebook", "offer": "the lead-scoring ebook"}
    assert event.occurred_at == submission.submitted_at
    assert event.message_id == f"form-submission-{submission.pk}"
    backlog_score(lead_ids=[event.lead_id])
    lead = Lead.objects.get()
    # +10 for the form; -10 nothing (not a free-mail address); +15 for "Head of Research".
    assert lead.score == 25
    assert lead.ledger.filter(rule__key="form-submitted").get().points == 10


def test_the_anonymous_id_joins_the_page_views_made_before_the_form(form):
    source = event_services.source_internal("site-test")
    event_services.events_ingest(
        source=source,
        messages=[
            {"type": "page", "name": "Pricing", "anonymousId": "anon-42", "messageId": "p1"},
            {"type": "page", "name": "Blog", "anonymousId": "anon-42", "messageId": "p2"},
            {"type": "page", "name": "Home", "anonymousId": "someone-else", "messageId": "p3"},
        ],
    )

    submission = submit(form, visit=VISIT)

    assert sorted(Event.objects.filter(lead=submission.lead).values_list("name", flat=True)) == [
        "Blog",
        "Form Submitted",
        "Pricing",
    ]
    assert Event.objects.get(message_id="p3").lead is None
    assert Identity.objects.get(value="anon-42").lead == submission.lead
    # the page views wait for scoring, with the form's event
    assert PendingEvent.objects.filter(event__lead=submission.lead).count() == 3


def test_an_anonymous_id_another_lead_has_stays_that_leads(form):
    other = LeadFactory(email="other@example.com")
    Identity.objects.create(kind="anonymous", value="anon-42", lead=other)

    submission = submit(form, visit=VISIT)

    assert Identity.objects.get(value="anon-42").lead == other
    assert submission.anonymous_id == "anon-42"


def test_the_email_is_published_after_the_commit(
    form, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submission = submit(form)

    assert (services.SUBMISSION_FOLLOWUP, (submission.pk,)) in published


def test_answers_with_errors_store_nothing(form, published):
    with pytest.raises(services.InvalidSubmission) as refused:
        submit(form, email="nope", first_name="www.spam.example", consent=False)

    assert refused.value.detail.code == "invalid"
    assert str(refused.value.detail) == "Please check the 3 fields marked below."
    assert refused.value.fields == {
        "email": ["Enter a valid email address."],
        "first_name": ["Links are not allowed here."],
        "consent": ["Tick the box to agree, so that we may send you what you asked for."],
    }
    assert stored() == NOTHING
    assert published == []


def test_a_failure_half_way_stores_nothing(
    form, monkeypatch, published, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise RuntimeError("the event log is down")

    monkeypatch.setattr(event_services, "lead_event_record", broken)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        submit(form, visit=VISIT)

    assert stored() == NOTHING
    assert published == []


# --- Spam ----------------------------------------------------------------------------------------


def test_a_filled_honeypot_is_refused_and_stores_nothing(form):
    with pytest.raises(spam.SpamRefused) as refused:
        submit(form, honeypot="https://cheap.example")

    assert (refused.value.status_code, refused.value.detail.code) == (400, "spam")
    assert stored() == NOTHING


def test_the_minimum_fill_time_is_exact(form, settings):
    settings.FORMS_MIN_FILL_SECONDS = 3
    shown = timezone.now()
    token = spam.form_token(form_id=form.pk, at=shown)

    with pytest.raises(spam.TooFast) as refused:
        services.submission_create(
            form=form,
            answers={"email": "bot@example.com", "first_name": "Bot"},
            consent=True,
            token=token,
            now=shown + timedelta(seconds=3) - timedelta(milliseconds=1),
        )
    assert (refused.value.status_code, refused.value.detail.code) == (400, "too_fast")
    assert stored() == NOTHING

    submission = services.submission_create(
        form=form,
        answers={"email": "ada@example.com", "first_name": "Ada"},
        consent=True,
        token=token,
        now=shown + timedelta(seconds=3),
    )
    assert submission.pk


def test_the_minimum_fill_time_is_a_setting(form, settings):
    settings.FORMS_MIN_FILL_SECONDS = 20

    with pytest.raises(spam.TooFast):
        submit(form, token=aged_token(form, seconds=19))
    assert submit(form, token=aged_token(form, seconds=21)).pk


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-token",
        "tampered",
        "other-form",
        "a-day-and-a-millisecond-old",
    ],
)
def test_a_missing_tampered_foreign_or_old_start_token_is_refused(form, marketer, token):
    shown = timezone.now() - timedelta(days=1)
    tokens = {
        "tampered": aged_token(form)[:-2] + "xx",
        "other-form": aged_token(make_form(marketer, slug="other")),
        "a-day-and-a-millisecond-old": spam.form_token(
            form_id=form.pk, at=shown - timedelta(milliseconds=1)
        ),
    }

    with pytest.raises(spam.StaleForm) as refused:
        services.submission_create(
            form=form,
            answers={"email": "ada@example.com", "first_name": "Ada"},
            consent=True,
            token=tokens.get(token, token),
            now=shown + timedelta(days=1),
        )

    assert (refused.value.status_code, refused.value.detail.code) == (400, "stale_form")
    assert Submission.objects.count() == 0


def test_a_start_token_a_day_old_still_works(form):
    shown = timezone.now() - timedelta(days=1)

    submission = services.submission_create(
        form=form,
        answers={"email": "ada@example.com", "first_name": "Ada"},
        consent=True,
        token=spam.form_token(form_id=form.pk, at=shown),
        now=shown + timedelta(days=1),
    )

    assert submission.pk


def _away_from_a_minute_edge() -> None:
    # The limits count per minute: start well inside one, so the hits below share it.
    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)


@pytest.mark.services
def test_one_address_may_send_ten_forms_a_minute_and_not_eleven(form, redis_url, settings):
    settings.FORMS_RATE_PER_IP_PER_MINUTE = 10
    _away_from_a_minute_edge()
    for i in range(10):
        submit(form, email=f"person{i}@example.com")

    with pytest.raises(spam.RateLimited) as refused:
        submit(form, email="eleventh@example.com")

    assert (refused.value.status_code, refused.value.detail.code) == (429, "rate_limited")
    assert 1 <= refused.value.retry_after <= 60
    assert Submission.objects.count() == 10
    # another address is not held back
    other = services.Visit(ip="198.51.100.1")
    assert submit(form, email="other@example.com", visit=other).pk


@pytest.mark.services
def test_one_form_takes_its_limit_from_all_addresses_together(form, marketer, redis_url, settings):
    settings.FORMS_RATE_PER_FORM_PER_MINUTE = 3
    _away_from_a_minute_edge()
    for i in range(3):
        submit(form, email=f"p{i}@example.com", visit=services.Visit(ip=f"198.51.100.{i}"))

    with pytest.raises(spam.RateLimited):
        submit(form, email="p4@example.com", visit=services.Visit(ip="198.51.100.9"))

    assert Submission.objects.count() == 3
    # another form is not held back
    assert submit(make_form(marketer, slug="other"), email="p5@example.com").pk


# --- Concurrency ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_submissions_of_a_new_email_make_one_lead(marketer):
    form = make_form(marketer)
    token = aged_token(form)

    results = race(
        lambda i: services.submission_create(
            form=form,
            answers={"email": "ada@example.com", "first_name": "Ada", "last_name": f"L{i}"},
            consent=True,
            token=token,
        )
    )

    assert all(isinstance(r, Submission) for r in results), results
    lead = Lead.objects.get()
    assert Submission.objects.filter(lead=lead).count() == 2
    assert lead.last_name in ("L0", "L1")
    # One created the lead with consent, the other found it and gave it again: two rows of
    # evidence, the state given.
    assert (lead.consent, Consent.objects.filter(lead=lead).count()) == (ConsentState.GIVEN, 2)
