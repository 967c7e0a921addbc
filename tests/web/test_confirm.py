"""Double opt-in: the signed, expiring confirmation link (/f/confirm/<token>/)."""

import pytest
from django.core import signing
from django.test import Client

from leads.models import Consent, ConsentState, Lead
from nurturing.models import Enrollment
from tests.nurturing.conftest import make_sequence
from tests.web.conftest import CONSENT, make_form, submit
from web import emails, services
from web.models import SubmissionStatus

pytestmark = pytest.mark.django_db

DAY = 24 * 3600
SIGNED_AT = 1_900_000_000  # a whole second: TimestampSigner counts whole seconds


class Clock:
    """time.time() for django.core.signing, moved by hand."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(SIGNED_AT)
    monkeypatch.setattr(signing.time, "time", clock)
    return clock


@pytest.fixture
def pending(marketer):
    sequence = make_sequence(key="ebook-followup")
    form = make_form(marketer, slug="ebook-doi", double_opt_in=True, sequence=sequence)
    return submit(form)


def confirm_path(submission) -> str:
    return f"/f/confirm/{emails.confirm_token(submission.pk)}/"


def unchanged(submission) -> bool:
    submission.refresh_from_db()
    lead = Lead.objects.get(pk=submission.lead_id)
    return (
        submission.status == SubmissionStatus.PENDING
        and submission.confirmed_at is None
        and lead.consent == ConsentState.UNKNOWN
        and not Consent.objects.exists()
        and not Enrollment.objects.exists()
    )


def test_the_link_works_until_its_expiry_to_the_second(pending, clock, settings):
    settings.FORMS_CONFIRM_MAX_AGE_DAYS = 7
    token = emails.confirm_token(pending.pk)

    clock.now = SIGNED_AT + 7 * DAY
    assert emails.confirm_read(token) == pending.pk

    clock.now = SIGNED_AT + 7 * DAY + 0.001
    with pytest.raises(emails.LinkExpired) as expired:
        emails.confirm_read(token)
    assert expired.value.submission_id == pending.pk


def test_the_links_life_is_a_setting(pending, clock, settings):
    settings.FORMS_CONFIRM_MAX_AGE_DAYS = 1
    token = emails.confirm_token(pending.pk)

    clock.now = SIGNED_AT + DAY
    assert emails.confirm_read(token) == pending.pk
    clock.now = SIGNED_AT + DAY + 1
    with pytest.raises(emails.LinkExpired):
        emails.confirm_read(token)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "tampered",
        "another-salt",
        "not-an-id",
    ],
)
def test_a_tampered_or_foreign_token_is_refused(pending, token):
    good = emails.confirm_token(pending.pk)
    tokens = {
        "tampered": good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb"),
        "another-salt": signing.TimestampSigner(salt="nurturing.unsubscribe").sign_object(
            pending.pk
        ),
        "not-an-id": signing.TimestampSigner(salt=emails.SALT_CONFIRM).sign_object("1"),
    }

    with pytest.raises(emails.LinkInvalid):
        emails.confirm_read(tokens.get(token, token))


def test_opening_the_link_asks_and_changes_nothing(pending, client):
    response = client.get(confirm_path(pending))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Confirm <strong>ada@example.com</strong> to get the lead-scoring ebook." in html
    assert '<button type="submit" class="leadcrm-submit">Confirm my email</button>' in html
    assert unchanged(pending)


def test_confirming_gives_consent_with_evidence_and_starts_the_sequence(
    pending, marketer, published, django_capture_on_commit_callbacks
):
    # The form's wording changes after the visitor agreed: the evidence keeps what they saw.
    services.form_update(form=pending.form, actor=marketer, consent_text="New wording.")

    with django_capture_on_commit_callbacks(execute=True):
        response = Client(REMOTE_ADDR="198.51.100.23").post(confirm_path(pending))

    assert response.status_code == 200
    assert "Thank you: your email is confirmed" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == SubmissionStatus.CONFIRMED
    assert pending.confirmed_at is not None
    lead = Lead.objects.get()
    assert lead.consent == ConsentState.GIVEN
    evidence = Consent.objects.get()
    assert (evidence.lead, evidence.state, evidence.wording, evidence.source, evidence.ip) == (
        lead,
        ConsentState.GIVEN,
        CONSENT,
        "form:ebook-doi",
        "198.51.100.23",
    )
    assert evidence.at == pending.confirmed_at
    assert (services.SUBMISSION_FOLLOWUP, (pending.pk,)) in published
    assert not Enrollment.objects.exists()  # the follow-up starts the sequence

    services.submission_followup(submission_id=pending.pk)

    assert list(Enrollment.objects.values_list("lead", "sequence__key")) == [
        (lead.pk, "ebook-followup")
    ]


def test_confirming_twice_changes_nothing_more(pending, client):
    client.post(confirm_path(pending))
    services.submission_followup(submission_id=pending.pk)
    pending.refresh_from_db()
    confirmed_at = pending.confirmed_at

    again = client.post(confirm_path(pending))
    opened = client.get(confirm_path(pending))
    services.submission_followup(submission_id=pending.pk)

    assert "Already confirmed" in again.content.decode()
    assert "Already confirmed" in opened.content.decode()
    pending.refresh_from_db()
    assert pending.confirmed_at == confirmed_at
    assert (Consent.objects.count(), Enrollment.objects.count()) == (1, 1)


def test_an_expired_link_shows_so_and_changes_nothing(pending, clock, client, settings):
    path = confirm_path(pending)
    clock.now = SIGNED_AT + settings.FORMS_CONFIRM_MAX_AGE_DAYS * DAY + 1

    for response in (client.get(path), client.post(path)):
        assert response.status_code == 400
        html = response.content.decode()
        assert "<h1>This link has expired</h1>" in html
        assert '<a href="/f/ebook-doi/">Fill in the form again</a>' in html
    assert unchanged(pending)


def test_a_submission_marked_expired_is_not_confirmed(pending, client):
    path = confirm_path(pending)
    pending.status = SubmissionStatus.EXPIRED
    pending.save()

    response = client.post(path)

    assert response.status_code == 400
    assert "<h1>This link has expired</h1>" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == SubmissionStatus.EXPIRED
    assert not Consent.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_link_shows_so_and_changes_nothing(pending, client, method):
    path = confirm_path(pending)
    tampered = path[:-4] + ("aaa/" if not path.endswith("aaa/") else "bbb/")

    response = getattr(client, method)(tampered)

    assert response.status_code == 400
    assert "<h1>This link is not valid</h1>" in response.content.decode()
    assert unchanged(pending)


def test_a_link_to_a_deleted_submission_is_not_valid(pending, client):
    path = confirm_path(pending)
    pending.delete()

    response = client.post(path)

    assert response.status_code == 400
    assert "<h1>This link is not valid</h1>" in response.content.decode()


def test_an_existing_lead_confirms_through_its_own_submission(marketer, client):
    form = make_form(marketer, slug="doi", double_opt_in=True)
    first = submit(form)
    second = submit(form, first_name="Ada")

    client.post(confirm_path(second))

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (SubmissionStatus.PENDING, SubmissionStatus.CONFIRMED)
    assert Lead.objects.get().consent == ConsentState.GIVEN
