"""Every write of the web app: forms (marketers and admins), submissions, double opt-in, and the
emails a submission gets.

A submission is checked for spam first (web/spam.py), then its answers (web/validation.py), and
only then stored, in one transaction: the lead (created at IQL, or its blank fields filled),
the Submission row, the consent evidence (at once, or once the address is confirmed), the
`Form Submitted` event, the anonymous id's link. Its email goes out from a Celery task after
the commit, claimed by a conditional update so that it is sent once.
"""

import logging
import re
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from core import inserts
from core.errors import ApiError, Conflict
from core.publish import publish_on_commit
from events import services as event_services
from leads import privacy
from leads import selectors as lead_selectors
from leads import services as lead_services
from leads.models import ConsentState, Lead, SourceChannel, Stage
from nurturing import services as nurture_services
from nurturing.models import TriggerKind
from web import emails, spam, validation
from web.models import Form, Submission, SubmissionStatus
from web.selectors import forms_authorize

logger = logging.getLogger(__name__)

SUBMISSION_FOLLOWUP = "web.submission_followup"
EVENT_NAME = "Form Submitted"
EVENT_SOURCE = "forms"
RESERVED_SLUGS = frozenset({"confirm"})  # /f/confirm/<token>/ is the double opt-in link
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SLUG_MESSAGE = "Lowercase letters and digits, words joined by hyphens (at most 80)."
# The Celery task retries a failing send; past this, the periodic catch-up takes it again.
FOLLOWUP_CATCH_UP_AFTER = timedelta(minutes=1)
CONFIRMED_CATCH_UP_WITHIN = timedelta(days=1)


class InvalidForm(ApiError):
    default_code = "invalid"
    default_detail = "The form is not valid."


class InvalidSubmission(ApiError):
    default_code = "invalid"
    default_detail = "Some answers need fixing."


# --- Forms ---------------------------------------------------------------------------------------

EDITABLE = (
    "slug",
    "name",
    "title",
    "intro",
    "fields",
    "offer_title",
    "offer_url",
    "source_channel",
    "consent_text",
    "double_opt_in",
    "thank_you_message",
    "redirect_url",
    "sequence",
    "is_active",
)


@transaction.atomic
def form_create(*, actor: User | None, **values: Any) -> Form:
    """A new form. `fields` is normalised (email first when left out)."""
    forms_authorize(actor=actor)
    form = Form(created_by=actor)
    return _form_save(form, values)


@transaction.atomic
def form_update(*, form: Form, actor: User | None, **values: Any) -> Form:
    """Change a form (like a PATCH: only the values given)."""
    forms_authorize(actor=actor)
    locked = Form.objects.select_for_update().get(pk=form.pk)
    return _form_save(locked, values)


@transaction.atomic
def form_delete(*, form: Form, actor: User | None) -> None:
    """Delete a form nobody sent yet; one with submissions is switched off instead (409)."""
    forms_authorize(actor=actor)
    if Submission.objects.filter(form_id=form.pk).exists():
        raise Conflict(
            "This form has submissions (the consent evidence of its leads): switch it off "
            "(is_active false) instead of deleting it.",
            code="form_has_submissions",
        )
    Form.objects.filter(pk=form.pk).delete()


def _form_save(form: Form, values: dict[str, Any]) -> Form:
    unknown = sorted(set(values) - set(EDITABLE))
    if unknown:
        raise TypeError(f"not editable: {', '.join(unknown)}")
    for name, value in values.items():
        setattr(form, name, value.strip() if isinstance(value, str) else value)
    problems = _form_problems(form)
    if problems:
        first = next(iter(problems.items()))
        raise InvalidForm(f"{first[0]}: {first[1][0]}", fields=problems)
    try:
        with transaction.atomic():
            form.save()
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "") or ""
        if "slug" not in constraint:
            raise
        raise _slug_taken() from exc
    return form


def _slug_taken() -> Conflict:
    message = "Another form has this slug."
    return Conflict(message, code="duplicate_slug", fields={"slug": [message]})


def _form_problems(form: Form) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    if not isinstance(form.slug, str) or not _SLUG.fullmatch(form.slug) or len(form.slug) > 80:
        add("slug", SLUG_MESSAGE)
    elif form.slug in RESERVED_SLUGS:
        add("slug", f"{form.slug!r} is reserved.")
    elif Form.objects.filter(slug=form.slug).exclude(pk=form.pk).exists():
        raise _slug_taken()
    for name in ("name", "title", "consent_text"):
        if not getattr(form, name):
            add(name, "This field is required.")
    for name in ("offer_url", "redirect_url"):
        if getattr(form, name) and not _web_url(getattr(form, name)):
            add(name, "An http:// or https:// address.")
    if form.source_channel not in SourceChannel.values:
        add("source_channel", "Not a source channel.")
    try:
        form.fields = [spec.as_json() for spec in validation.fields_parse(form.fields)]
    except validation.InvalidFields as exc:
        problems["fields"] = exc.problems
    return problems


def _web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and len(value) <= 500


# --- Submissions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """What the request and the page say about the visitor, besides their answers."""

    ip: str | None = None
    user_agent: str = ""
    referrer: str = ""
    anonymous_id: str = ""
    utm: dict[str, str] = field(default_factory=dict)


def submission_create(
    *,
    form: Form,
    answers: Mapping[str, str],
    consent: bool,
    token: str,
    honeypot: str = "",
    visit: Visit | None = None,
    now: datetime | None = None,
) -> Submission:
    """A visitor sent `form`. Spam checks first (SpamRefused, StaleForm, TooFast, RateLimited),
    then the answers (InvalidSubmission with errors per field), then everything stored in one
    transaction. Returns the Submission (status pending with double opt-in, else confirmed)."""
    now = now or timezone.now()
    visit = visit or Visit()
    spam.honeypot_check(honeypot)
    spam.token_check(token=token, form_id=form.pk, now=now)
    spam.rate_check(form_id=form.pk, ip=visit.ip)
    specs = validation.fields_parse(form.fields)
    values, errors = validation.values_clean(specs, answers, consent=consent)
    if errors:
        raise InvalidSubmission(_check_these(len(errors)), fields=errors)
    return _submission_store(form=form, specs=specs, values=values, visit=visit, now=now)


def _check_these(count: int) -> str:
    # Words for the visitor, above the form: each field says what is wrong beside it.
    return (
        "Please check the field marked below."
        if count == 1
        else f"Please check the {count} fields marked below."
    )


@transaction.atomic
def _submission_store(
    *, form: Form, specs, values: dict[str, str], visit: Visit, now
) -> Submission:
    confirmed = not form.double_opt_in
    # Confirmed (no double opt-in): the address is good to mail, with this evidence. A new lead
    # is created with it; an existing one gets it below.
    consent = (
        _form_consent(form, wording=form.consent_text, ip=visit.ip, at=now) if confirmed else None
    )
    lead, consent_recorded = _lead_for_submission(
        form=form, specs=specs, values=values, utm=visit.utm, consent=consent
    )
    submission = inserts.insert(
        Submission(
            form=form,
            lead=lead,
            email=values["email"],
            data={"fields": values, "consent_text": form.consent_text},
            utm=visit.utm,
            referrer=visit.referrer,
            anonymous_id=visit.anonymous_id,
            ip=visit.ip,
            user_agent=visit.user_agent,
            status=SubmissionStatus.CONFIRMED if confirmed else SubmissionStatus.PENDING,
            submitted_at=now,
            confirmed_at=now if confirmed else None,
        )
    )
    if consent is not None and not consent_recorded:
        _consent_give(lead.pk, consent)
    event_services.lead_event_record(
        lead=lead,
        source=event_services.source_internal(EVENT_SOURCE),
        name=EVENT_NAME,
        message_id=f"form-submission-{submission.pk}",
        properties={"form": form.slug, "offer": form.offer_title},
        occurred_at=now,
    )
    if visit.anonymous_id:
        event_services.lead_anonymous_id_link(lead_id=lead.pk, anonymous_id=visit.anonymous_id)
    publish_on_commit(SUBMISSION_FOLLOWUP, submission.pk)
    return submission


def _lead_for_submission(
    *, form: Form, specs, values: dict[str, str], utm: dict, consent
) -> tuple[Lead, bool]:
    """The lead of this email (any case): created at IQL with the form's channel, consent
    needed (and given, with `consent`'s evidence, when there is one); or, when it exists, only
    its blank fields filled (nothing overwritten). With whether `consent` was recorded."""
    fields = {name: v for name, v in values.items() if name in validation.LEAD_FIELDS}
    traits = {s.trait: values[s.name] for s in specs if s.trait and s.name in values}
    existing = lead_selectors.lead_locked_by_email(values["email"])
    if existing is None:
        # An erased address is checked (and locked against an erasure) by the create, which
        # leaves it out: then no lead is found below either, and the submission is refused.
        new = {
            **fields,
            **utm,
            "traits": traits,
            "source": form.source_channel,
        }
        # The set-based create: one insert (its own savepoint), and a lost race on the email
        # (a concurrent submission or identify) is left out instead of raising.
        created = lead_services.leads_create_identified(
            rows=[new], reason=f"form:{form.slug}", consent_required=True, consent=consent
        )
        if created:
            lead = Lead(pk=created[values["email"]], stage=Stage.IQL, consent_required=True, **new)
            if consent is not None:
                lead.consent = ConsentState.GIVEN
            lead._state.adding = False  # the row just inserted: not read back
            return lead, consent is not None
        existing = lead_selectors.lead_locked_by_email(values["email"])
        if existing is None:  # the address was erased while this form was being sent
            raise privacy.AddressErased()
    fields.pop("email")
    _lead_fill_blanks(
        lead=existing, fields={**fields, **utm, "source": form.source_channel}, traits=traits
    )
    return existing, False


# TEMPORARY (web-forms): replaced by the KEYS helper's "fill blanks only" lead service at merge
def _lead_fill_blanks(*, lead: Lead, fields: dict[str, Any], traits: dict[str, Any]) -> list[str]:
    """Fill the lead's blank fields (and traits it lacks) from `fields`; never overwrite. The
    source channel "other" (the default: not known) counts as blank. The row is locked."""
    blank = [
        name
        for name, value in fields.items()
        if value not in ("", None)
        and (
            getattr(lead, name) in ("", None)
            or (name == "source" and lead.source == SourceChannel.OTHER)
        )
    ]
    changes: dict[str, Any] = {name: fields[name] for name in blank}
    missing = {key: value for key, value in traits.items() if key not in lead.traits}
    if missing:
        changes["traits"] = missing
    if changes:
        lead_services.leads_update_identified(changes={lead.pk: changes})
        for name in blank:
            setattr(lead, name, fields[name])
        lead.traits = {**lead.traits, **missing}
    return sorted(changes)


def _form_consent(
    form: Form, *, wording: str, ip: str | None, at: datetime
) -> lead_services.ConsentGiven:
    """The evidence of consent given through `form`: the exact wording the visitor agreed to,
    the form, from where and when."""
    return lead_services.ConsentGiven(wording=wording, source=f"form:{form.slug}", ip=ip, at=at)


def _consent_give(lead_id: int, consent: lead_services.ConsentGiven) -> None:
    """The address is good to mail (no double opt-in, or confirmed): the consent's evidence."""
    lead_services.lead_consent_give(
        lead_id=lead_id,
        wording=consent.wording,
        source=consent.source,
        ip=consent.ip,
        at=consent.at,
    )


# --- Double opt-in -------------------------------------------------------------------------------


class ConfirmOutcome:
    CONFIRMED = "confirmed"
    ALREADY = "already"
    EXPIRED = "expired"


@transaction.atomic
def submission_confirm(
    *, submission_id: int, ip: str | None, now: datetime | None = None
) -> tuple[Submission, str]:
    """The visitor clicked their confirmation link (its token already verified): the submission
    is confirmed and consent given with its evidence; after the commit, the follow-up starts
    the form's sequence and mails the offer. A second click changes nothing (ALREADY); an
    expired submission neither (EXPIRED). Submission.DoesNotExist when it is gone."""
    now = now or timezone.now()
    submission = Submission.objects.select_for_update().select_related("form").get(pk=submission_id)
    if submission.status == SubmissionStatus.CONFIRMED:
        return submission, ConfirmOutcome.ALREADY
    if submission.status == SubmissionStatus.EXPIRED:
        return submission, ConfirmOutcome.EXPIRED
    submission.status = SubmissionStatus.CONFIRMED
    submission.confirmed_at = now
    submission.save(update_fields=["status", "confirmed_at"])
    if submission.lead_id is not None:
        # The wording the visitor saw when they sent the form, not the form's text today.
        wording = str(submission.data.get("consent_text", submission.form.consent_text))
        _consent_give(
            submission.lead_id, _form_consent(submission.form, wording=wording, ip=ip, at=now)
        )
    publish_on_commit(SUBMISSION_FOLLOWUP, submission.pk)
    return submission, ConfirmOutcome.CONFIRMED


# --- After the commit: the sequence and the email (web.tasks.submission_followup) ---------------


def submission_followup(*, submission_id: int) -> dict[str, Any]:
    """What a submission is due once committed: the form's nurture sequence once the address
    is good to mail, then its email. Each once, however often it runs."""
    return {
        "sequence": submission_sequence_start(submission_id=submission_id),
        "email": submission_mail_send(submission_id=submission_id),
    }


@transaction.atomic
def submission_sequence_start(*, submission_id: int) -> bool:
    """Enroll a confirmed submission's lead in its form's sequence, once: claimed by setting
    `sequence_started_at` where it is empty, in the enrollment's transaction (a failure hands
    the claim back). A refusal (already in it, do-not-contact, the sequence off) is the
    sequence's own rule, and final. True when this call enrolled the lead."""
    submission = Submission.objects.select_related("form").filter(pk=submission_id).first()
    if submission is None or submission.form.sequence_id is None or submission.lead_id is None:
        return False
    claimed = Submission.objects.filter(
        pk=submission.pk, status=SubmissionStatus.CONFIRMED, sequence_started_at__isnull=True
    ).update(sequence_started_at=timezone.now())
    if not claimed:
        return False
    try:
        nurture_services.enrollment_create(
            lead_id=submission.lead_id,
            sequence_id=submission.form.sequence_id,
            actor=None,
            trigger=TriggerKind.MANUAL,
        )
    except nurture_services.EnrollmentRefused as exc:
        logger.info(
            "form %s: lead %s not enrolled: %s",
            submission.form.slug,
            submission.lead_id,
            exc.detail,
        )
        return False
    return True


def submission_mail_send(*, submission_id: int) -> str | None:
    """Send the email a submission is due, once: the confirmation link while it is pending, the
    content offer once it is confirmed. Returns the name of the claim it sent under
    ("confirmation_sent_at" / "offer_sent_at"), None when nothing was due (or another worker
    has it).

    The send is claimed first by a conditional UPDATE that sets the `*_sent_at` column only
    where it is empty (committed at once: run it outside a transaction), so two workers never
    both send. A send that fails hands the claim back and raises, to be retried. A worker that
    dies between the claim and the send leaves the email unsent: never twice, at the price of
    sometimes not at all.
    """
    submission = Submission.objects.select_related("form").filter(pk=submission_id).first()
    if submission is None:
        return None
    if submission.status == SubmissionStatus.PENDING:
        claim, build = "confirmation_sent_at", emails.confirmation_email
    elif submission.status == SubmissionStatus.CONFIRMED and submission.form.offer_url:
        claim, build = "offer_sent_at", emails.offer_email
    else:
        return None
    claimed_at = timezone.now()
    claimed = Submission.objects.filter(
        pk=submission.pk, status=submission.status, **{f"{claim}__isnull": True}
    ).update(**{claim: claimed_at})
    if not claimed:
        return None
    try:
        build(submission).send()
    except smtplib.SMTPRecipientsRefused:
        # The server refused the address for good: trying again would not change its mind.
        logger.warning("form email to submission %s refused by the server", submission.pk)
        return None
    except (smtplib.SMTPException, OSError):
        Submission.objects.filter(pk=submission.pk, **{claim: claimed_at}).update(**{claim: None})
        raise
    return claim


def submissions_followup_due(*, now: datetime | None = None) -> list[int]:
    """Submissions whose follow-up never ran (a lost task, a broker outage, retries run out):
    an email never claimed, or a sequence never started. The periodic catch-up publishes them
    again."""
    now = now or timezone.now()
    settled = now - FOLLOWUP_CATCH_UP_AFTER
    confirmation_due = Q(
        status=SubmissionStatus.PENDING,
        confirmation_sent_at__isnull=True,
        submitted_at__lte=settled,
        submitted_at__gte=now - emails.confirm_max_age(),
    )
    confirmed = Q(
        status=SubmissionStatus.CONFIRMED,
        confirmed_at__lte=settled,
        confirmed_at__gte=now - CONFIRMED_CATCH_UP_WITHIN,
    )
    offer_due = confirmed & Q(offer_sent_at__isnull=True) & ~Q(form__offer_url="")
    sequence_due = confirmed & Q(
        sequence_started_at__isnull=True, form__sequence__isnull=False, lead__isnull=False
    )
    rows = Submission.objects.filter(confirmation_due | offer_due | sequence_due).order_by("pk")
    return list(rows.values_list("pk", flat=True)[:1000])


def submissions_expire(*, now: datetime | None = None) -> int:
    """Pending submissions whose confirmation link has run out become expired (a click on the
    link shows so, and changes nothing). Returns how many."""
    now = now or timezone.now()
    # A minute's margin: the link is signed just after its claim is set.
    cutoff = now - emails.confirm_max_age() - timedelta(minutes=1)
    return Submission.objects.filter(
        status=SubmissionStatus.PENDING, confirmation_sent_at__lt=cutoff
    ).update(status=SubmissionStatus.EXPIRED)


# --- Merging duplicates (the hand-off merges; it decides who may) --------------------------------
