"""Writes of sequences and their steps (marketers and admins only)."""

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import QueryDict
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record, changes_between
from core.errors import ApiError, Conflict, Forbidden
from leads.filters import LeadFilter
from leads.models import Lead, Stage
from nurturing import emails
from nurturing.models import Sequence, Step, TriggerKind


class InvalidSequence(ApiError):
    default_code = "invalid"
    default_detail = "The sequence is not valid."


def require_marketing(actor: User | None) -> None:
    """Sequences are marketing's: sales reps read them but never change them."""
    if actor is not None and not actor.does_marketing:
        raise Forbidden("Only marketers and admins may change nurture sequences.")


def filter_params(raw: dict[str, Any]) -> QueryDict:
    params = QueryDict(mutable=True)
    for key, value in raw.items():
        values = value if isinstance(value, list) else [value]
        params.setlist(key, [str(v).lower() if isinstance(v, bool) else str(v) for v in values])
    return params


def _check_filter(raw: Any) -> None:
    if not isinstance(raw, dict) or not raw:
        raise InvalidSequence(
            "A filter trigger needs lead filter parameters.",
            fields={"trigger_filter": ['Give lead list filters, e.g. {"source": ["event"]}.']},
        )
    unknown = sorted(set(raw) - set(LeadFilter.base_filters))
    if unknown:
        raise InvalidSequence(
            f"Unknown lead filters: {', '.join(unknown)}.",
            fields={"trigger_filter": [f"Unknown filter: {name}." for name in unknown]},
        )
    form = LeadFilter(data=filter_params(raw), queryset=Lead.objects.none()).form
    if not form.is_valid():
        errors = {key: [str(e) for e in value] for key, value in form.errors.items()}
        raise InvalidSequence(
            "The lead filter is not valid.", fields={"trigger_filter": [str(errors)]}
        )


def _check_sequence(seq: Sequence) -> None:
    if seq.trigger_kind == TriggerKind.STAGE and not seq.trigger_stage:
        raise InvalidSequence(
            "A stage trigger needs a stage.", fields={"trigger_stage": ["Required."]}
        )
    if seq.trigger_kind == TriggerKind.SCORE and seq.trigger_score is None:
        raise InvalidSequence(
            "A score trigger needs a score.", fields={"trigger_score": ["Required."]}
        )
    if seq.trigger_kind == TriggerKind.FILTER:
        _check_filter(seq.trigger_filter)
    bad = [stage for stage in seq.exit_stages if stage not in Stage.values]
    if not isinstance(seq.exit_stages, list) or bad:
        raise InvalidSequence(
            "exit_stages must be a list of stages.",
            fields={"exit_stages": [f"Not a stage: {stage}." for stage in bad] or ["Not a list."]},
        )


def _save(instance, *, conflict: str) -> None:
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise Conflict(conflict) from exc


@transaction.atomic
def sequence_create(*, actor: User | None, **fields: Any) -> Sequence:
    require_marketing(actor)
    seq = Sequence(**fields, created_by=actor, activated_at=timezone.now())
    _check_sequence(seq)
    _save(seq, conflict="A sequence with this key already exists.")
    _audit(actor, "sequence.create", "sequence", seq, seq.name, {}, fields)
    return seq


def _audit(actor, action: str, kind: str, row, label: str, before: dict, after: dict) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type=kind,
        object_id=row.pk,
        object_label=label,
        changes=changes_between(before, after),
    )


@transaction.atomic
def sequence_update(*, sequence: Sequence, actor: User | None, **fields: Any) -> Sequence:
    require_marketing(actor)
    seq = Sequence.objects.select_for_update().get(pk=sequence.pk)
    reactivated = fields.get("is_active") is True and not seq.is_active
    before = {name: getattr(seq, name) for name in fields}
    for name, value in fields.items():
        setattr(seq, name, value)
    if reactivated:
        seq.activated_at = timezone.now()
    _check_sequence(seq)
    _save(seq, conflict="A sequence with this key already exists.")
    _audit(actor, "sequence.update", "sequence", seq, seq.name, before, fields)
    return seq


@transaction.atomic
def sequence_delete(*, sequence: Sequence, actor: User | None) -> None:
    require_marketing(actor)
    if sequence.enrollments.exists():
        raise Conflict(
            "This sequence has enrollments; deactivate it instead (is_active=false).",
            code="sequence_in_use",
        )
    _audit(actor, "sequence.delete", "sequence", sequence, sequence.name, {}, {})
    sequence.delete()


def _check_step(step: Step) -> None:
    errors = {}
    for name, autoescape in (("subject", False), ("body_text", False), ("body_html", True)):
        source = getattr(step, name)
        error = emails.check_template(source, autoescape=autoescape) if source else None
        if error:
            errors[name] = [f"Template error: {error}"]
    if errors:
        raise InvalidSequence(next(iter(errors.values()))[0], fields=errors)


@transaction.atomic
def step_create(*, sequence: Sequence, actor: User | None, **fields: Any) -> Step:
    require_marketing(actor)
    # Lock the sequence so that two appends get distinct positions.
    seq = Sequence.objects.select_for_update().get(pk=sequence.pk)
    if fields.get("position") is None:
        last = seq.steps.aggregate(last=Max("position"))["last"] or 0
        fields["position"] = last + 1
    step = Step(sequence=seq, **fields)
    _check_step(step)
    _save(step, conflict="This sequence already has a step at that position.")
    label = f"{seq.name}: step {step.position}"
    _audit(actor, "sequence.step_create", "sequence", seq, label, {}, fields)
    return step


@transaction.atomic
def step_update(*, step: Step, actor: User | None, **fields: Any) -> Step:
    require_marketing(actor)
    step = Step.objects.select_for_update().get(pk=step.pk)
    before = {name: getattr(step, name) for name in fields}
    for name, value in fields.items():
        setattr(step, name, value)
    _check_step(step)
    _save(step, conflict="This sequence already has a step at that position.")
    label = f"{step.sequence.name}: step {step.position}"
    _audit(actor, "sequence.step_update", "sequence", step.sequence, label, before, fields)
    return step


@transaction.atomic
def step_delete(*, step: Step, actor: User | None) -> None:
    require_marketing(actor)
    if step.messages.exists():
        raise Conflict(
            "Emails were already sent for this step; edit it or deactivate the sequence.",
            code="step_in_use",
        )
    label = f"{step.sequence.name}: step {step.position}"
    _audit(actor, "sequence.step_delete", "sequence", step.sequence, label, {}, {})
    step.delete()


@transaction.atomic
def step_move(*, step: Step, actor: User | None, direction: int) -> Step:
    """Swap a step with its neighbour (direction -1: earlier, +1: later). A step's delay
    counts from the step before it, so the delays move with the order."""
    require_marketing(actor)
    seq = Sequence.objects.select_for_update().get(pk=step.sequence_id)
    ordered = list(seq.steps.order_by("position"))
    index = next(i for i, s in enumerate(ordered) if s.pk == step.pk)
    other_index = index + (1 if direction > 0 else -1)
    if not 0 <= other_index < len(ordered):
        return ordered[index]
    this, other = ordered[index], ordered[other_index]
    # Through a free position: (sequence, position) is unique at every statement.
    free = max(s.position for s in ordered) + 1
    this_position, other_position = this.position, other.position
    Step.objects.filter(pk=this.pk).update(position=free)
    Step.objects.filter(pk=other.pk).update(position=this_position)
    Step.objects.filter(pk=this.pk).update(position=other_position)
    this.refresh_from_db()
    return this


def step_test_send(*, step: Step, lead: Lead, actor: User) -> str:
    """Send the step, rendered for `lead`, to the actor's own address through the configured
    mail backend, marked as a test and without tracking. Returns the address."""
    require_marketing(actor)
    if not actor.email:
        raise InvalidSequence(
            "Your account has no email address to send the test to.", code="no_email"
        )
    rendered = emails.render(
        subject=step.subject,
        body_text=step.body_text,
        body_html=step.body_html,
        context=emails.lead_context(lead),
    )
    message = EmailMultiAlternatives(
        subject=f"[Test] {rendered.subject}",
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[actor.email],
        headers={"X-Nurture-Test": f"step {step.pk}, lead {lead.pk}"},
    )
    if rendered.html:
        message.attach_alternative(rendered.html, "text/html")
    message.send()
    return actor.email
