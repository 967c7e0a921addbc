"""Who is in which sequence: enrolling (by hand or by trigger), and leaving."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import User
from core.errors import Conflict
from core.publish import publish_on_commit
from leads import lifecycle
from leads.filters import LeadFilter
from leads.models import ConsentState, Lead, Stage
from leads.selectors import leads_last_stage_change
from nurturing import selectors
from nurturing.models import (
    SALES_STAGES,
    Enrollment,
    EnrollmentStatus,
    Message,
    Sequence,
    StageEntry,
    Suppression,
    TriggerKind,
)
from nurturing.services.dispatch import NURTURE_DISPATCH_LEADS
from nurturing.services.sequences import filter_params, require_marketing

logger = logging.getLogger(__name__)

# The periodic matcher's look-back for stage entries: it backs up the on-commit kick (a lost
# task, a broker outage), it is not meant to replay history.
STAGE_LOOKBACK = timedelta(days=1)
# At most this many new enrollments per sequence per matcher run; the rest come next run.
MATCH_LIMIT = 1000


class EnrollmentRefused(Conflict):
    default_code = "enrollment_refused"
    default_detail = "This lead cannot be enrolled in this sequence."


def _first_due(sequence: Sequence, now):
    first = sequence.steps.order_by("position").first()
    return None if first is None else now + timedelta(minutes=first.delay_minutes)


def _refusal(lead: Lead, sequence: Sequence) -> str | None:
    if not sequence.is_active:
        return "The sequence is not active."
    if lead.do_not_contact:
        return f"The lead is do-not-contact ({lead.do_not_contact_reason})."
    if lead.consent == ConsentState.WITHDRAWN:
        return "The lead withdrew consent to email."
    if selectors.email_suppressed(email=lead.email):
        return "The lead's address is suppressed (bounced or unsubscribed)."
    if sequence.exits_at(lead.stage):
        return f"The sequence ends at the lead's stage ({lead.stage})."
    return None


@transaction.atomic
def enrollment_create(
    *,
    lead_id: int,
    sequence_id: int,
    actor: User | None,
    trigger: str = TriggerKind.MANUAL,
) -> Enrollment:
    """Enroll a lead; 409 when it is already active in the sequence or must not be mailed."""
    require_marketing(actor)
    lead = Lead.objects.get(pk=lead_id)
    sequence = Sequence.objects.get(pk=sequence_id)
    refusal = _refusal(lead, sequence)
    now = timezone.now()
    due = _first_due(sequence, now)
    if refusal is None and due is None:
        refusal = "The sequence has no steps."
    if refusal:
        raise EnrollmentRefused(refusal)
    enrollment = Enrollment(
        lead=lead,
        sequence=sequence,
        trigger=trigger,
        next_due_at=due,
        enrolled_at=now,
        enrolled_by=actor,
    )
    try:
        with transaction.atomic():
            enrollment.save()
    except IntegrityError as exc:
        raise EnrollmentRefused(
            "The lead is already active in this sequence.", code="already_enrolled"
        ) from exc
    _kick_on_commit(lead.pk)
    return enrollment


def _kick_on_commit(lead_id: int) -> None:
    publish_on_commit(NURTURE_DISPATCH_LEADS, [lead_id], queue=settings.NURTURE_QUEUE)


def enrollments_end(
    qs: QuerySet[Enrollment], *, reason: str, status: str = EnrollmentStatus.EXITED
) -> int:
    return qs.filter(status=EnrollmentStatus.ACTIVE).update(
        status=status, ended_at=timezone.now(), next_due_at=None, exit_reason=reason[:200]
    )


@transaction.atomic
def enrollment_exit(*, enrollment: Enrollment, actor: User | None, reason: str = "") -> Enrollment:
    require_marketing(actor)
    who = actor.get_username() if actor else "system"
    ended = enrollments_end(
        Enrollment.objects.filter(pk=enrollment.pk), reason=reason.strip() or f"stopped by {who}"
    )
    if not ended:
        raise Conflict("The enrollment has already ended.", code="enrollment_ended")
    return Enrollment.objects.get(pk=enrollment.pk)


def lead_enrollments_exit(*, lead_id: int, reason: str) -> int:
    return enrollments_end(Enrollment.objects.filter(lead_id=lead_id), reason=reason)


# --- Merging duplicates (the hand-off merges; it decides who may) ------------------------------


def enrollments_move_to_lead(*, from_lead_id: int, to_lead_id: int) -> int:
    """Give one lead's enrollments to another. A lead is active in a sequence at most once: the
    moved lead's active enrollments in sequences the kept lead is active in end first
    ("merged"). Move the emails too (`messages_move_to_lead`). Returns how many moved."""
    kept_active = Enrollment.objects.filter(lead_id=to_lead_id, status=EnrollmentStatus.ACTIVE)
    clashing = Enrollment.objects.filter(
        lead_id=from_lead_id, sequence_id__in=kept_active.values("sequence_id")
    )
    enrollments_end(clashing, reason=f"merged into lead {to_lead_id}")
    return Enrollment.objects.filter(lead_id=from_lead_id).update(lead_id=to_lead_id)


def messages_move_to_lead(*, from_lead_id: int, to_lead_id: int) -> int:
    """Give one lead's nurture emails to another (with `enrollments_move_to_lead`)."""
    return Message.objects.filter(lead_id=from_lead_id).update(lead_id=to_lead_id)


# --- Triggers ----------------------------------------------------------------------------------


def _entry_kinds(leads: list[Lead]) -> dict[int, str]:
    """How each lead entered its current stage: RECYCLED when its last history row is a
    recycle into that stage, else NEW. One query for all of them."""
    last = leads_last_stage_change(lead_ids=[lead.pk for lead in leads])
    kinds: dict[int, str] = {}
    for lead in leads:
        from_stage, to_stage = last.get(lead.pk, ("", ""))
        recycled = to_stage == lead.stage and lifecycle.is_recycle(from_stage, to_stage)
        kinds[lead.pk] = StageEntry.RECYCLED if recycled else StageEntry.NEW
    return kinds


def _bulk_enroll(sequence: Sequence, lead_ids: list[int], *, now) -> int:
    due = _first_due(sequence, now)
    if due is None or not lead_ids:
        return 0
    rows = [
        Enrollment(
            lead_id=lead_id,
            sequence=sequence,
            trigger=sequence.trigger_kind,
            next_due_at=due,
            enrolled_at=now,
        )
        for lead_id in lead_ids
    ]
    # A lead already active in the sequence is skipped by the one-active constraint.
    created = Enrollment.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


def _mailable_leads(sequence: Sequence) -> QuerySet[Lead]:
    blocked_stages = [Stage.DISQUALIFIED, *sequence.exit_stages]
    if sequence.exit_on_sales_accept:
        blocked_stages += list(SALES_STAGES)
    suppressed = Suppression.objects.filter(email=OuterRef("email"))
    # A lead still waiting to give consent is enrolled (its enrollment waits: see
    # selectors.lead_paused_q); one that withdrew it is not.
    return (
        Lead.objects.filter(do_not_contact=False)
        .exclude(consent=ConsentState.WITHDRAWN)
        .exclude(stage__in=blocked_stages)
        .exclude(Exists(suppressed))
    )


def _stage_candidates(sequence: Sequence, now) -> list[int]:
    since = max(sequence.activated_at, now - STAGE_LOOKBACK)
    enrolled_since_entry = Enrollment.objects.filter(
        lead_id=OuterRef("pk"), sequence=sequence, enrolled_at__gte=OuterRef("stage_entered_at")
    )
    leads = (
        _mailable_leads(sequence)
        .filter(stage=sequence.trigger_stage, stage_entered_at__gte=since)
        .exclude(Exists(enrolled_since_entry))
        .order_by("stage_entered_at")[:MATCH_LIMIT]
    )
    return _entry_wanted(sequence, list(leads))


def _entry_wanted(sequence: Sequence, leads: list[Lead]) -> list[int]:
    """The leads whose way into the stage (new or recycled) the sequence's trigger wants."""
    wanted = sequence.trigger_stage_entry
    if wanted == StageEntry.ANY:
        return [lead.pk for lead in leads]
    kinds = _entry_kinds(leads)
    return [lead.pk for lead in leads if kinds[lead.pk] == wanted]


def _ever_enrolled_candidates(sequence: Sequence, leads: QuerySet[Lead]) -> list[int]:
    ever = Enrollment.objects.filter(lead_id=OuterRef("pk"), sequence=sequence)
    return list(
        leads.exclude(Exists(ever)).order_by("pk").values_list("pk", flat=True)[:MATCH_LIMIT]
    )


def _candidates(sequence: Sequence, now) -> list[int]:
    if sequence.trigger_kind == TriggerKind.STAGE:
        return _stage_candidates(sequence, now)
    mailable = _mailable_leads(sequence)
    if sequence.trigger_kind == TriggerKind.SCORE:
        # "Crosses a score": a lead is enrolled once, the first time it is seen at or above it.
        reached = mailable.filter(score__gte=sequence.trigger_score)
        return _ever_enrolled_candidates(sequence, reached)
    if sequence.trigger_kind == TriggerKind.FILTER:
        lead_filter = LeadFilter(data=filter_params(sequence.trigger_filter), queryset=mailable)
        # django-filter drops an invalid filter and keeps the rest: a bad saved trigger would
        # match far more leads than the marketer asked for. Match none, and say why.
        if not lead_filter.is_valid():
            raise InvalidTrigger(_form_errors(lead_filter.errors))
        return _ever_enrolled_candidates(sequence, lead_filter.qs)
    return []


class InvalidTrigger(ValueError):
    pass


def _form_errors(errors) -> str:
    return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())


def triggers_match(*, now=None) -> int:
    """Enroll every lead a stage, score or filter trigger wants; returns how many."""
    now = now or timezone.now()
    enrolled = 0
    sequences = Sequence.objects.filter(is_active=True).exclude(trigger_kind=TriggerKind.MANUAL)
    for sequence in sequences.order_by("pk"):
        enrolled += _match_one(sequence, now)
    return enrolled


def _match_one(sequence: Sequence, now) -> int:
    """One sequence's matching: its failure is logged and leaves the other sequences' alone."""
    try:
        with transaction.atomic():
            return _bulk_enroll(sequence, _candidates(sequence, now), now=now)
    except InvalidTrigger as exc:
        logger.error(
            "Sequence %s (%s): its filter trigger is not valid and was skipped: %s",
            sequence.pk,
            sequence.key,
            exc,
        )
    except Exception:
        logger.exception("Sequence %s (%s): trigger matching failed", sequence.pk, sequence.key)
    return 0


@transaction.atomic
def leads_stage_entered(*, lead_ids: list[int]) -> int:
    """After leads entered a stage: leave the sequences that end there, join those it starts.

    Set-based (a re-score can move thousands of leads at once): a few queries per stage
    sequence, whatever the number of leads. Idempotent: a second call for the same stage entry
    enrolls nobody twice.
    """
    leads = {lead.pk: lead for lead in Lead.objects.filter(pk__in=list(lead_ids))}
    if not leads:
        return 0
    now = timezone.now()
    ending: dict[str, list[int]] = {}
    active = Enrollment.objects.filter(lead_id__in=list(leads), status=EnrollmentStatus.ACTIVE)
    for enrollment in active.select_related("sequence"):
        stage = leads[enrollment.lead_id].stage
        if enrollment.sequence.exits_at(stage):
            ending.setdefault(stage, []).append(enrollment.pk)
    for stage, ids in ending.items():
        enrollments_end(Enrollment.objects.filter(pk__in=ids), reason=f"reached {stage}")
    enrolled = 0
    stages = {lead.stage for lead in leads.values()}
    triggered = Sequence.objects.filter(
        is_active=True, trigger_kind=TriggerKind.STAGE, trigger_stage__in=stages
    ).order_by("pk")
    for sequence in triggered:
        in_stage = [pk for pk, lead in leads.items() if lead.stage == sequence.trigger_stage]
        enrolled_since_entry = Enrollment.objects.filter(
            lead_id=OuterRef("pk"),
            sequence=sequence,
            enrolled_at__gte=OuterRef("stage_entered_at"),
        )
        candidates = (
            _mailable_leads(sequence)
            .filter(pk__in=in_stage, stage_entered_at__gte=sequence.activated_at)
            .exclude(Exists(enrolled_since_entry))
            .order_by("pk")
        )
        enrolled += _bulk_enroll(sequence, _entry_wanted(sequence, list(candidates)), now=now)
    return enrolled
