"""Every write to a lead. What may change a stage: here, with the rules in leads/lifecycle.py."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat
from django.utils import timezone

from accounts.models import Role, User
from audit.services import audit_record, changes_between
from core import hooks, inserts
from core.errors import ApiError, Conflict, Forbidden
from leads import lifecycle, privacy, selectors
from leads.lifecycle import Actor
from leads.models import Consent, ConsentState, Lead, Stage, StageChange


def _stage_entered(lead_ids: list[int], *, created: bool = False) -> None:
    hooks.lead_stage_entered.call_on_commit(list(lead_ids), created)


class IllegalTransition(Conflict):
    default_code = "illegal_transition"
    default_detail = "That stage change is not allowed from the lead's current stage."


class TransitionForbidden(Forbidden):
    default_code = "transition_forbidden"
    default_detail = "You may not make that stage change."


class ReasonRequired(ApiError):
    default_code = "reason_required"
    default_detail = "That stage change needs a reason."


class DuplicateEmail(Conflict):
    default_code = "duplicate_email"
    default_detail = "A lead with this email already exists."


class DuplicateExternalId(Conflict):
    default_code = "duplicate_external_id"
    default_detail = "A lead with this external_id already exists."


# Fields a sales rep may edit on a lead they own; marketers and admins may edit every field.
REP_EDITABLE = frozenset(
    {
        "first_name",
        "last_name",
        "title",
        "phone",
        "country",
        "company_name",
        "company_domain",
        "company_size",
        "traits",
        "do_not_contact",
        "do_not_contact_reason",
    }
)


def actor_kind(user: User | None) -> Actor:
    if user is None:
        return Actor.SYSTEM
    if user.is_admin:
        return Actor.ADMIN
    if user.role == Role.MANAGER:
        return Actor.MANAGER
    return Actor.REP if user.role == Role.REP else Actor.MARKETER


def lead_create_authorize(*, actor: User | None) -> None:
    """Marketers, admins and the system (`actor=None`: ingestion, imports) create leads."""
    if actor_kind(actor) is Actor.REP:
        raise Forbidden("A sales rep may not create leads.")


def lead_transition_targets(*, lead: Lead, actor: User) -> list[tuple[Stage, lifecycle.Move]]:
    """The stage moves `actor` may make from the lead's stage through the generic stage form
    (the ones a page offers; qualifying has its own form, with the discovery checklist)."""
    targets = lifecycle.allowed_targets(from_stage=lead.stage, actor=actor_kind(actor))
    moves = [(to, lifecycle.MOVES[(Stage(lead.stage), to)]) for to in targets]
    return [(to, move) for to, move in moves if move.kind not in lifecycle.DEDICATED_MOVES]


class UseDedicatedForm(Conflict):
    default_code = "use_qualify"
    default_detail = (
        "Qualify a lead with the discovery checklist: POST /api/v1/leads/{id}/qualify/ "
        "(or Qualify on the lead's page)."
    )


def lead_transition_requested(*, lead_id: int, to: str, actor: User, reason: str = "") -> Lead:
    """A person's move through the generic stage change (the API's `transition/`, the lead
    page's stage form): any legal move but the dedicated ones (`lifecycle.DEDICATED_MOVES`)."""
    lead = Lead.objects.only("stage").get(pk=lead_id)
    move = lifecycle.MOVES.get((Stage(lead.stage), Stage(to))) if to in Stage.values else None
    if move is not None and move.kind in lifecycle.DEDICATED_MOVES:
        raise UseDedicatedForm()
    return lead_transition(lead_id=lead_id, to=to, actor=actor, reason=reason)


def _check_owner(data: dict[str, Any]) -> None:
    owner = data.get("owner")
    if owner is not None and not (owner.is_admin or owner.is_rep):
        message = "A lead's owner must be a sales rep or an admin."
        raise ApiError(message, code="invalid", fields={"owner": [message]})


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if "email" in data:
        data["email"] = data["email"].strip().lower()
    if data.get("external_id") == "":
        data["external_id"] = None
    if data.get("do_not_contact") is False:
        data["do_not_contact_reason"] = ""
    return data


def _check_dnc(lead: Lead) -> None:
    if lead.do_not_contact and not lead.do_not_contact_reason.strip():
        raise ApiError(
            "do_not_contact needs a reason.",
            code="invalid",
            fields={"do_not_contact_reason": ["Required when do_not_contact is true."]},
        )


def _duplicate(error: type[Conflict], field: str) -> Conflict:
    return error(fields={field: [error.default_detail]})


def _save_unique(lead: Lead) -> None:
    """Save, turning a lost race on a unique constraint into a 409.

    Told apart by the constraint's name as PostgreSQL reports it, never by the message, whose
    values could contain any word.
    """
    try:
        with transaction.atomic():
            lead.save()
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        if constraint == "lead_email_ci_unique":
            raise _duplicate(DuplicateEmail, "email") from exc
        if constraint == "lead_external_id_unique":
            raise _duplicate(DuplicateExternalId, "external_id") from exc
        raise


def _check_unique(data: dict[str, Any], *, exclude_id: int | None = None) -> None:
    others = Lead.objects.exclude(pk=exclude_id) if exclude_id is not None else Lead.objects.all()
    if "email" in data and selectors.leads_with_email(data["email"], others).exists():
        raise _duplicate(DuplicateEmail, "email")
    if data.get("external_id") and others.filter(external_id=data["external_id"]).exists():
        raise _duplicate(DuplicateExternalId, "external_id")


def _check_not_erased(data: dict[str, Any]) -> None:
    """An erased address is never added again (leads.privacy): 409 address_erased. Its lock
    is held to the end of the transaction, so an erasure of it in progress is waited for."""
    email = data.get("email")
    if not email:
        return
    privacy.emails_lock([email])
    if privacy.email_erased(email):
        raise privacy.AddressErased(fields={"email": [privacy.AddressErased.default_detail]})


def _check_rep_may_edit(lead: Lead, actor: User, data: dict[str, Any]) -> None:
    # The hand-off queue is visible to every rep, but only the rep who accepted a lead edits it.
    if lead.owner_id != actor.pk:
        raise Forbidden("A sales rep may only edit leads they own; accept the lead first.")
    # A PUT sends every field back; only the fields whose value changes must be rep-editable.
    changed = {name for name, value in data.items() if getattr(lead, name) != value}
    forbidden = sorted(changed - REP_EDITABLE)
    if forbidden:
        raise Forbidden(
            f"A sales rep may not change: {', '.join(forbidden)}.",
            fields={name: ["Not editable by a sales rep."] for name in forbidden},
        )


@transaction.atomic
def lead_create(*, actor: User | None, rule: str = "", **fields: Any) -> Lead:
    """Create a lead at IQL, with its first history row ("" -> IQL)."""
    lead_create_authorize(actor=actor)
    data = _normalise(fields)
    _check_owner(data)
    _check_not_erased(data)
    _check_unique(data)
    now = timezone.now()
    lead = Lead(**data, stage=Stage.IQL, stage_entered_at=now)
    _check_dnc(lead)
    _save_unique(lead)
    StageChange.objects.create(
        lead=lead,
        from_stage="",
        to_stage=Stage.IQL,
        changed_at=now,
        changed_by=actor,
        rule=rule,
        reason="created",
    )
    _stage_entered([lead.pk], created=True)
    return lead


@transaction.atomic
def lead_update(*, lead: Lead, actor: User, **fields: Any) -> Lead:
    """Update a lead's fields. Stage and score are not fields here: see lead_transition/scoring."""
    data = _normalise(fields)
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if actor_kind(actor) is Actor.REP:
        _check_rep_may_edit(lead, actor, data)
    _check_owner(data)
    if "email" in data and data["email"] != lead.email.lower():
        _check_not_erased(data)
    _check_unique(data, exclude_id=lead.pk)
    before = {name: _audit_value(lead, name) for name in data}
    for name, value in data.items():
        setattr(lead, name, value)
    _check_dnc(lead)
    _save_unique(lead)
    _audit_lead(lead, actor, "lead.update", before)
    return lead


def _audit_value(lead: Lead, name: str) -> Any:
    """A field's value as the audit shows it: the owner by username, not by id."""
    if name == "owner":
        return lead.owner.get_username() if lead.owner is not None else None
    return getattr(lead, name)


def _audit_lead(lead: Lead, actor: User | None, action: str, before: dict[str, Any]) -> None:
    """The audit row of a person's edit (the lead's timeline shows it): only when a value
    changed. Ingestion's identify and fill-blanks writes are not audited (their evidence is
    the events that carried them), nor the score (its ledger) or the stage (its history)."""
    after = {name: _audit_value(lead, name) for name in before}
    changes = changes_between(before, after)
    if changes:
        audit_record(
            actor=actor,
            action=action,
            object_type="lead",
            object_id=lead.pk,
            object_label=lead.email,
            changes=changes,
        )


@transaction.atomic
def lead_mark_do_not_contact(*, lead_id: int, reason: str) -> bool:
    """A system write (a bounce, an unsubscribe): never contact this lead again.

    Returns False, changing nothing, when the lead is already do-not-contact (its first reason
    stays) or no longer exists.
    """
    if not reason.strip():
        raise ValueError("do-not-contact needs a reason")
    updated = Lead.objects.filter(pk=lead_id, do_not_contact=False).update(
        do_not_contact=True, do_not_contact_reason=reason.strip(), updated_at=timezone.now()
    )
    if updated:
        audit_record(
            actor=None,
            action="lead.do_not_contact",
            object_type="lead",
            object_id=lead_id,
            changes={
                "do_not_contact": [False, True],
                "do_not_contact_reason": ["", reason.strip()],
            },
        )
    return updated == 1


# --- Consent to email, with its evidence ---------------------------------------------------------


def _wording_checked(wording: str) -> None:
    """Consent given needs the exact wording the person agreed to."""
    if not wording.strip():
        raise ValueError("consent needs the exact wording the person agreed to")


def _consent_checked(*, source: str, ip: str | None, at: datetime | None) -> datetime:
    if not source.strip() or len(source.strip()) > 200:
        raise ValueError(
            "consent evidence needs a source (where: a form's slug, 'unsubscribe', ...)"
        )
    if ip is not None:
        try:
            validate_ipv46_address(ip)
        except ValidationError:
            raise ValueError(f"not an IP address: {ip!r}") from None
    if at is not None and timezone.is_naive(at):
        raise ValueError("consent evidence needs a timezone-aware time")
    return at or timezone.now()


def _consent_record(
    *, lead_id: int, state: str, wording: str, source: str, ip: str | None, at: datetime | None
) -> bool:
    at = _consent_checked(source=source, ip=ip, at=at)
    # One statement locks the row, sets the state and says what it was: two changes of one
    # lead's consent serialise, so the state always matches its latest evidence row.
    with connection.cursor() as cursor:
        cursor.execute(_CONSENT_SET, [state, state, timezone.now(), lead_id])
        row = cursor.fetchone()
    if row is None:
        raise Lead.DoesNotExist(f"No lead {lead_id}.")
    inserts.insert(
        Consent(lead_id=lead_id, state=state, wording=wording, source=source.strip(), ip=ip, at=at)
    )
    return row[0] != state


# The lead's consent set (updated_at too when it changes), its row locked, and the state
# it had before returned (a locked subquery reads it; UPDATE ... RETURNING sees the new row).
_CONSENT_SET = """
UPDATE leads_lead AS l
SET consent = %s, updated_at = CASE WHEN before.consent = %s THEN l.updated_at ELSE %s END
FROM (SELECT id, consent FROM leads_lead WHERE id = %s FOR UPDATE) AS before
WHERE l.id = before.id
RETURNING before.consent
"""


@transaction.atomic
def lead_consent_give(
    *, lead_id: int, wording: str, source: str, ip: str | None = None, at: datetime | None = None
) -> bool:
    """The lead agreed to email: `wording` is the exact text they agreed to, `source` where
    (a form's slug, a source's name), `ip` from where, `at` when (default now).

    Every call records its evidence row (a second form filled in is evidence too, with its own
    wording); the return value says whether the lead's state changed (False when consent was
    already given). Giving consent does not lift do-not-contact or a suppressed address.
    """
    _wording_checked(wording)
    return _consent_record(
        lead_id=lead_id, state=ConsentState.GIVEN, wording=wording, source=source, ip=ip, at=at
    )


@transaction.atomic
def lead_consent_withdraw(
    *,
    lead_id: int,
    source: str,
    wording: str = "",
    ip: str | None = None,
    at: datetime | None = None,
) -> bool:
    """The lead withdrew consent (an unsubscribe, a request): nurture never mails it again,
    whatever its source's policy. Every call records its evidence row; returns whether the
    state changed (False when it was already withdrawn)."""
    return _consent_record(
        lead_id=lead_id, state=ConsentState.WITHDRAWN, wording=wording, source=source, ip=ip, at=at
    )


def lead_consent_record_authorize(*, actor: User) -> None:
    """Who may record consent by hand (a signed paper form, a call, a badge scan): marketers
    and admins, who own the mailing."""
    if not actor.does_marketing:
        raise Forbidden("Only marketers and admins may record a lead's consent.")


@transaction.atomic
def lead_consent_record(
    *,
    lead_id: int,
    actor: User,
    state: str,
    wording: str,
    source: str,
    at: datetime | None = None,
) -> tuple[bool, Consent]:
    """Consent given or withdrawn, recorded by hand with its evidence: the exact `wording` the
    person agreed to (required to give; optional to withdraw), `source` (where: "trade show
    badge scan", "phone call"), `at` when (default now; never in the future). The evidence's
    source names who recorded it. Returns (whether the state changed, the evidence row)."""
    lead_consent_record_authorize(actor=actor)
    if state not in (ConsentState.GIVEN, ConsentState.WITHDRAWN):
        raise ValueError("consent recorded by hand is given or withdrawn")
    if at is not None and at > timezone.now():
        raise ValueError("consent cannot be recorded for a time still to come")
    if not source.strip():
        raise ValueError("consent evidence needs a source")
    evidence = f"{source.strip()} (recorded by {actor.get_username()})"[:200]
    if state == ConsentState.GIVEN:
        changed = lead_consent_give(lead_id=lead_id, wording=wording, source=evidence, at=at)
    else:
        changed = lead_consent_withdraw(lead_id=lead_id, wording=wording, source=evidence, at=at)
    return changed, Consent.objects.filter(lead_id=lead_id).latest("id")


# Clears the owner only where it is still the one expected (one statement for any number).
_OWNERS_RELEASE = """
UPDATE leads_lead AS l SET owner_id = NULL, updated_at = %s
FROM unnest(%s::bigint[], %s::bigint[]) AS t(lead_id, owner_id)
WHERE l.id = t.lead_id AND l.owner_id = t.owner_id
RETURNING l.id
"""


@transaction.atomic
def leads_owner_release(*, owners: dict[int, int]) -> list[int]:
    """A system write (the hand-off took leads back from a rep who missed a deadline): these
    leads become unowned, so routing may give them to someone else and nurturing resumes.

    `owners` maps a lead's id to the owner it is taken from; a lead whose owner has changed
    since (a manager reassigned it) keeps its new owner. The stage does not change. Returns
    the ids of the leads released, sorted. Callers that must never wait lock the rows first.
    """
    if not owners:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_OWNERS_RELEASE, [timezone.now(), list(owners), list(owners.values())])
        return sorted(row[0] for row in cursor.fetchall())


@transaction.atomic
def lead_delete(*, lead: Lead, actor: User) -> None:
    if actor_kind(actor) is Actor.REP:
        raise Forbidden("A sales rep may not delete leads.")
    audit_record(
        actor=actor,
        action="lead.delete",
        object_type="lead",
        object_id=lead.pk,
        object_label=lead.email,
    )
    lead.delete()


def _record_change(
    *, lead: Lead, to: str, actor: User | None, rule: str, reason: str, move: lifecycle.Move
) -> None:
    now = timezone.now()
    from_stage = lead.stage
    lead.stage = to
    lead.stage_entered_at = now
    update = ["stage", "stage_entered_at", "updated_at"]
    if move.kind is lifecycle.MoveKind.RECYCLE:
        lead.recycle_count += 1
        lead.owner = None  # back to marketing's nurture, out of the rep's queue
        update += ["recycle_count", "owner"]
    if move.kind is lifecycle.MoveKind.ACCEPT and lead.owner_id is None and actor is not None:
        lead.owner = actor
        update.append("owner")
    lead.save(update_fields=update)
    StageChange.objects.create(
        lead=lead,
        from_stage=from_stage,
        to_stage=to,
        changed_at=now,
        changed_by=actor,
        rule=rule,
        reason=reason.strip(),
    )
    _stage_entered([lead.pk])


def _check_rep_owns(lead: Lead, actor: User | None, move: lifecycle.Move) -> None:
    """A rep acts only on leads assigned to them; the one move on a lead nobody owns is
    accepting it (claiming it from the pool, where the hand-off lets reps see the pool)."""
    if actor is None or actor_kind(actor) is not Actor.REP or lead.owner_id == actor.pk:
        return
    if lead.owner_id is None and move.kind is lifecycle.MoveKind.ACCEPT:
        return
    raise TransitionForbidden("A sales rep may act only on leads assigned to them.")


@transaction.atomic
def lead_transition(
    *, lead_id: int, to: str, actor: User | None, reason: str = "", rule: str = ""
) -> Lead:
    """Move a lead to stage `to`, writing its history row in the same transaction.

    `actor=None` is an automatic move, which must name its `rule`. The row is locked first, so
    two concurrent moves serialise and the second is checked against the first one's result.
    """
    if actor is None and not rule:
        raise ValueError("an automatic move must name its rule")
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    move = _move_checked(
        lifecycle.check_move,
        from_stage=lead.stage,
        to_stage=to,
        actor=actor_kind(actor),
        reason=reason,
    )
    _check_rep_owns(lead, actor, move)
    _record_change(lead=lead, to=to, actor=actor, rule=rule, reason=reason, move=move)
    return lead


def _move_checked(check, **kwargs) -> lifecycle.Move:
    """A lifecycle check, its refusals turned into the API's errors."""
    try:
        return check(**kwargs)
    except lifecycle.IllegalMove as exc:
        raise IllegalTransition(str(exc)) from exc
    except lifecycle.MoveNotAllowed as exc:
        raise TransitionForbidden(str(exc)) from exc
    except lifecycle.MoveNeedsReason as exc:
        raise ReasonRequired(str(exc), fields={"reason": ["This field is required."]}) from exc


@transaction.atomic
def lead_return_to_nurture(*, lead_id: int, actor: User, reason: str) -> Lead:
    """Hand a lead back to marketing's nurture: MQL, owner cleared, recycle_count + 1.

    From PQL, SAL or SQL this is the lifecycle's recycle; from MQL (an assigned lead sales never
    accepted) it is `lifecycle.RETURN_TO_NURTURE`, an MQL -> MQL history row. Either way the
    history row records a recycle and the stage hook fires, so nurturing enrolls the lead as a
    recycled entry (the re-engagement sequence). A rep may return only a lead assigned to them.
    """
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    move = _move_checked(
        lifecycle.check_recycle, from_stage=lead.stage, actor=actor_kind(actor), reason=reason
    )
    _check_rep_owns(lead, actor, move)
    _record_change(lead=lead, to=Stage.MQL, actor=actor, rule="", reason=reason, move=move)
    return lead


@transaction.atomic
def lead_promote(*, lead_id: int, to: str, rule: str, reason: str = "") -> bool:
    """Automatic forward move for a rule (MQL threshold, PQL condition).

    Returns False, changing nothing, when the lead is already at or past `to`, or has left the
    funnel: automatic moves never go backwards.
    """
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    if not _system_may_move(lead.stage, to):
        return False
    move = lifecycle.MOVES[(Stage(lead.stage), Stage(to))]
    _record_change(lead=lead, to=to, actor=None, rule=rule, reason=reason, move=move)
    return True


@transaction.atomic
def leads_promote(*, reasons: dict[int, str], to: str, rule: str) -> int:
    """Set-based `lead_promote` for many leads: `reasons` maps lead id -> reason.

    Same rules as lead_promote (forward only, only moves a rule may make), one locking read,
    one UPDATE and one insert of history rows, whatever the number of leads. Scoring promotes
    thousands of leads in a re-score, where a round trip per lead was a third of the time.
    Returns how many leads moved.
    """
    if not reasons:
        return 0
    locked = Lead.objects.select_for_update(no_key=True).filter(pk__in=list(reasons))
    movable = [
        (lead_id, stage)
        for lead_id, stage in locked.values_list("pk", "stage")
        if _system_may_move(stage, to)
    ]
    if not movable:
        return 0
    now = timezone.now()
    ids = [lead_id for lead_id, _ in movable]
    Lead.objects.filter(pk__in=ids).update(stage=to, stage_entered_at=now, updated_at=now)
    StageChange.objects.bulk_create(
        StageChange(
            lead_id=lead_id,
            from_stage=stage,
            to_stage=to,
            changed_at=now,
            rule=rule,
            reason=reasons[lead_id].strip(),
        )
        for lead_id, stage in movable
    )
    _stage_entered(ids)
    return len(ids)


def _system_may_move(from_stage: str, to: str) -> bool:
    if not lifecycle.is_forward(from_stage, to):
        return False
    move = lifecycle.MOVES.get((Stage(from_stage), Stage(to)))
    # Only plain advances: an automatic move never accepts, recycles or assigns.
    return (
        move is not None and Actor.SYSTEM in move.actors and move.kind is lifecycle.MoveKind.ADVANCE
    )


# --- Leads from identify calls (events ingestion), set-based ------------------------------------


@dataclass(frozen=True)
class ConsentGiven:
    """Consent given as a lead is created (a form without double opt-in): its evidence, as
    `lead_consent_give` takes it."""

    wording: str
    source: str
    ip: str | None
    at: datetime


@transaction.atomic(savepoint=False)
def leads_create_identified(
    *,
    rows: list[dict[str, Any]],
    reason: str = "identified",
    consent_required: bool = False,
    consent: ConsentGiven | None = None,
) -> dict:
    """Create leads at IQL from identify calls, each with its "" -> IQL history row.

    One insert for the leads and one for their history rows. Returns email -> id of the leads
    created; an email (or external_id) another transaction took first is left out, and the
    caller treats that lead as an existing one. `consent_required`: the calls came through a
    source whose policy needs consent before any email (a browser source). An erased address
    (leads.privacy) is left out too, its lock held to the end of the transaction.

    `consent`: the leads are created with consent given and its evidence row (the state and
    its evidence as `lead_consent_give` leaves them, without updating each new row again).
    """
    if consent is not None:
        _wording_checked(consent.wording)
        _consent_checked(source=consent.source, ip=consent.ip, at=consent.at)
    now = timezone.now()
    emails = [row["email"].strip().lower() for row in rows if row.get("email")]
    privacy.emails_lock(emails)
    erased = privacy.emails_erased(emails)
    rows = [row for row in rows if row.get("email", "").strip().lower() not in erased]
    leads = [
        Lead(
            **_normalise(row),
            stage=Stage.IQL,
            stage_entered_at=now,
            consent_required=consent_required,
            **({"consent": ConsentState.GIVEN} if consent is not None else {}),
        )
        for row in rows
    ]
    # core.inserts, not bulk_create: a form submission's lead is one row of sixty columns,
    # which the ORM's compiler took 0.7-1 ms of CPU to build an INSERT for.
    try:
        with transaction.atomic():
            created = inserts.insert_all(leads)
    except IntegrityError:
        created = [lead for lead in leads if _create_one(lead)]
    # With its lead's created_at (which leads.journey's trigger copies to every history row):
    # the trigger then finds the row as it would leave it, and does not write it again.
    inserts.insert_all(
        [
            StageChange(
                lead=lead,
                from_stage="",
                to_stage=Stage.IQL,
                changed_at=now,
                reason=reason,
                lead_created_at=lead.created_at,
            )
            for lead in created
        ]
    )
    if consent is not None:
        inserts.insert_all(
            [
                Consent(
                    lead=lead,
                    state=ConsentState.GIVEN,
                    wording=consent.wording,
                    source=consent.source.strip(),
                    ip=consent.ip,
                    at=consent.at,
                )
                for lead in created
            ]
        )
    if created:
        _stage_entered([lead.pk for lead in created], created=True)
    return {lead.email: lead.pk for lead in created}


def _create_one(lead: Lead) -> bool:
    lead.pk = None
    try:
        with transaction.atomic():
            lead.save(force_insert=True)
    except IntegrityError:
        return False
    return True


_UNIQUE_FIELDS = ("email", "external_id")


@transaction.atomic(savepoint=False)
def leads_update_identified(*, changes: dict[int, dict[str, Any]]) -> set[int]:
    """Write the field values identify calls changed; `traits` are keys to merge in.

    The rows are not locked first: each lead gets one UPDATE, and traits are merged by the
    database, so concurrent identifies of one lead lose no keys. Returns the ids of leads
    updated. An email or external_id another lead holds is dropped rather than failing the
    batch the call came in.
    """
    now = timezone.now()
    changed = set()
    for lead_id, fields in changes.items():
        if not fields:
            continue
        values = {**fields, "updated_at": now}
        if "traits" in fields:
            values["traits"] = _traits_merged(fields["traits"])
        # Never an erased lead: an UPDATE that waited for the erasure's row lock checks this
        # again on the erased row, and skips it.
        row = Lead.objects.filter(pk=lead_id, erased_at__isnull=True)
        if not any(name in fields for name in _UNIQUE_FIELDS):
            row.update(**values)
            changed.add(lead_id)
            continue
        try:
            with transaction.atomic():
                row.update(**values)
        except IntegrityError:
            values = {k: v for k, v in values.items() if k not in _UNIQUE_FIELDS}
            row.update(**values)
        changed.add(lead_id)
    return changed


def _traits_merged(added: dict[str, Any]):
    """The lead's traits with `added` merged in (top-level keys), as an UPDATE value."""
    return RawSQL("COALESCE(traits, '{}'::jsonb) || %s::jsonb", [json.dumps(added)])


# --- Filling blanks: writers that may add to a lead but never correct it -----------------------

# What "fill blanks only" may set: contact, company and campaign fields (and traits, by key).
# Never the email, the external_id, the owner, the stage, the score, consent or do-not-contact:
# those are a person's, a rule's or the lead's own to change.
FILLABLE = (
    "first_name",
    "last_name",
    "title",
    "phone",
    "country",
    "company_name",
    "company_domain",
    "company_size",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
)


@transaction.atomic
def lead_fill_blanks(*, lead_id: int, fields: dict[str, Any]) -> list[str]:
    """Set the lead's blank fields (empty text, no company size) from `fields`, and add the
    `fields["traits"]` keys the lead lacks (or holds blank); a value the lead has is never
    overwritten. For writers trusted to add to a lead but not to correct it: a browser (public)
    write key's identify, a website form's submission.

    `fields` holds FILLABLE names and optionally `traits` (a dict); anything else is a
    ValueError (a caller's bug, refused before anything is read). Text is stripped; a blank
    value fills nothing; a value the field cannot hold (too long, negative) is Django's
    ValidationError. The row is locked first (FOR NO KEY UPDATE, which ingestion's foreign-key
    checks do not wait for), so an edit committed meanwhile is seen and kept. Returns the names
    filled, in FILLABLE order, then "traits" if a key was added; [] when the lead is gone or
    erased (leads.privacy).
    """
    unknown = sorted(set(fields) - set(FILLABLE) - {"traits"})
    if unknown:
        raise ValueError(f"lead_fill_blanks may not set: {', '.join(unknown)}")
    traits = fields.get("traits") or {}
    if not isinstance(traits, dict):
        raise ValueError("traits must be a dict")
    lead = Lead.objects.select_for_update(no_key=True).filter(pk=lead_id).first()
    if lead is None or lead.erased_at is not None:
        return []
    values: dict[str, Any] = {}
    for name in FILLABLE:
        value = fields.get(name)
        value = value.strip() if isinstance(value, str) else value
        if not _blank(value) and _blank(getattr(lead, name)):
            values[name] = _model_field(name).clean(value, lead)
    added = {k: v for k, v in traits.items() if not _blank(v) and _blank(lead.traits.get(k))}
    if added:
        values["traits"] = {**lead.traits, **added}
    if values:
        Lead.objects.filter(pk=lead_id).update(**values, updated_at=timezone.now())
    return list(values)


# --- Merging duplicates (the hand-off merges; it decides who may) ------------------------------

# Contact and company fields a merge copies from the merged lead where the kept lead has none.
_MERGE_FILLS = (
    "first_name",
    "last_name",
    "title",
    "phone",
    "country",
    "company_name",
    "company_domain",
    "company_size",
    "external_id",
)


# TEMPORARY (web-forms): the CONSENT helper owns consent; keep theirs at merge if they wrote one
def stage_changes_move_to_lead(*, from_lead_id: int, to_lead_id: int) -> int:
    """Give `from_lead_id`'s history rows to `to_lead_id`, each reason saying where it came from
    (the rows keep their times; the kept lead's own stage is unchanged). Returns how many."""
    prefix = Value(f"(merged from lead {from_lead_id}) ")
    rows = StageChange.objects.filter(lead_id=from_lead_id)
    return rows.update(lead_id=to_lead_id, reason=Concat(prefix, F("reason")))


@transaction.atomic
def lead_absorb(*, lead_id: int, other_id: int) -> list[str]:
    """The last step of merging `other_id` into `lead_id`: delete the other lead, and fill the
    kept lead's blank fields (and traits it lacks) from it; its consent evidence moves over
    (see _consent_absorbed). Returns the fields filled or changed.

    The caller has moved the other's rows first (anything left goes with it) and decided who
    may merge. The other is deleted before its values are written, so its external_id is free.
    """
    keep = Lead.objects.select_for_update().get(pk=lead_id)
    other = Lead.objects.select_for_update().get(pk=other_id)
    filled = [
        name
        for name in _MERGE_FILLS
        if _blank(getattr(keep, name)) and not _blank(getattr(other, name))
    ]
    values = {name: getattr(other, name) for name in filled}
    values.update(_consent_absorbed(keep, other))
    filled += [name for name in ("consent", "consent_required") if name in values]
    traits = {**other.traits, **keep.traits}
    other.delete()
    if traits != keep.traits:
        values["traits"] = traits
        filled.append("traits")
    if values:
        Lead.objects.filter(pk=lead_id).update(**values, updated_at=timezone.now())
    return filled


def _consent_absorbed(keep: Lead, other: Lead) -> dict[str, Any]:
    """The other lead's consent evidence moves to the kept lead (it is append-only: deleting
    the other must not erase it). The same person's latest act decides the state; either
    lead's source needing consent makes the kept lead need it. Returns the fields to change."""
    Consent.objects.filter(lead_id=other.pk).update(lead_id=keep.pk)
    values: dict[str, Any] = {}
    latest = Consent.objects.filter(lead_id=keep.pk).order_by("-at", "-id").first()
    if latest is not None and latest.state != keep.consent:
        values["consent"] = latest.state
    if other.consent_required and not keep.consent_required:
        values["consent_required"] = True
    return values


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _model_field(name: str) -> models.Field:
    field = Lead._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"Lead.{name} is not a column.")
    return field


# --- Imports: set-based writes for many leads at once -------------------------------------------

# Contact, company and campaign fields an import may set, with their SQL types.
_OVERWRITE_TYPES = {name: "integer" if name == "company_size" else "text" for name in FILLABLE}

_OVERWRITE = """
UPDATE leads_lead AS l SET {assignments},
    traits = COALESCE(l.traits, '{{}}'::jsonb) || COALESCE(t.traits, '{{}}'::jsonb),
    updated_at = %s
FROM jsonb_to_recordset(%s::jsonb) AS t(id bigint, {columns}, traits jsonb)
WHERE l.id = t.id
"""


def leads_overwrite(*, changes: dict[int, dict[str, Any]]) -> int:
    """Set the given fields of many leads in one statement (an import's "update existing"):
    `changes` maps a lead id to {field: value}, FILLABLE names and `traits` (keys merged in);
    a field not given keeps its value. Values are the caller's, already checked (lengths,
    types). Returns how many leads were updated."""
    unknown = sorted(
        {name for fields in changes.values() for name in fields} - {*FILLABLE, "traits"}
    )
    if unknown:
        raise ValueError(f"leads_overwrite may not set: {', '.join(unknown)}")
    if not changes:
        return 0
    names = list(_OVERWRITE_TYPES)
    sql = _OVERWRITE.format(
        assignments=", ".join(f"{n} = COALESCE(t.{n}, l.{n})" for n in names),
        columns=", ".join(f"{n} {_OVERWRITE_TYPES[n]}" for n in names),
    )
    rows = [{**fields, "id": lead_id} for lead_id, fields in changes.items()]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [timezone.now(), json.dumps(rows)])
        return cursor.rowcount


_CREATE_IMPORTED = """
WITH new AS (
    INSERT INTO leads_lead ({columns})
    SELECT {selects}
    FROM jsonb_to_recordset(%s::jsonb) AS t({types})
    ON CONFLICT DO NOTHING
    RETURNING id, email
), history AS (
    INSERT INTO leads_stagechange (lead_id, from_stage, to_stage, changed_at, rule, reason)
    SELECT id, '', %s, %s, '', %s FROM new
)
SELECT id, email FROM new
"""


def _imported_insert(now: datetime, fixed: dict[str, Any]) -> tuple[str, list[Any]]:
    """The INSERT of leads_create_imported: every column of Lead, from the rows (email and
    FILLABLE fields, traits) or `fixed`, or the field's own default."""
    columns, selects, params = [], [], []
    for field in Lead._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(str(field.column))
        if field.name == "email":
            selects.append("lower(t.email)")
        elif field.name in FILLABLE and field.name != "company_size":
            selects.append(f"COALESCE(t.{field.name}, '')")
        elif field.name in ("company_size", "traits"):
            empty = "NULL" if field.name == "company_size" else "'{}'::jsonb"
            selects.append(f"COALESCE(t.{field.name}, {empty})")
        else:
            value = fixed[field.name] if field.name in fixed else field.get_default()
            selects.append("%s")
            params.append(field.get_db_prep_save(value, connection))
    types = ", ".join(
        ["email text", *(f"{n} {_OVERWRITE_TYPES[n]}" for n in FILLABLE), "traits jsonb"]
    )
    sql = _CREATE_IMPORTED.format(
        columns=", ".join(columns), selects=", ".join(selects), types=types
    )
    return sql, params


@transaction.atomic(savepoint=False)
def leads_create_imported(
    *, rows: list[dict[str, Any]], source: str, reason: str, consent_required: bool
) -> dict[str, int]:
    """Create leads at IQL from an import, each with its "" -> IQL history row, in one
    statement whatever their number (the ORM's bulk_create spent more time building objects
    than PostgreSQL spent inserting them).

    `rows` hold `email` (checked, lower case), FILLABLE fields and `traits`; the caller has
    checked the values. Returns email -> id of the leads created; an email another lead has
    (a concurrent writer's) is left out, and the caller updates that lead instead.
    """
    if not rows:
        return {}
    now = timezone.now()
    fixed = {
        "source": source,
        "stage": Stage.IQL,
        "stage_entered_at": now,
        "created_at": now,
        "updated_at": now,
        "consent_required": consent_required,
    }
    sql, params = _imported_insert(now, fixed)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, json.dumps(rows), Stage.IQL, now, reason])
        created = {email: pk for pk, email in cursor.fetchall()}
    if created:
        _stage_entered(sorted(created.values()), created=True)
    return created


@transaction.atomic
def leads_consent_record(
    *, lead_ids: list[int], state: str, wording: str, source: str, at: datetime | None = None
) -> int:
    """Set-based `lead_consent_give` / `lead_consent_withdraw` for many leads (an import's
    declared consent): one evidence row per lead, the state changed where it differs. Locks
    the leads in id order first, as the one-lead writers do. Returns how many changed state."""
    if state not in (ConsentState.GIVEN, ConsentState.WITHDRAWN):
        raise ValueError(f"consent evidence records given or withdrawn, not {state!r}")
    if state == ConsentState.GIVEN:
        _wording_checked(wording)
    at = _consent_checked(source=source, ip=None, at=at)
    locked = list(
        Lead.objects.select_for_update()
        .filter(pk__in=sorted(set(lead_ids)))
        .order_by("pk")
        .values_list("pk", "consent")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO leads_consent (lead_id, state, wording, source, ip, at)"
            " SELECT id, %s, %s, %s, NULL, %s FROM unnest(%s::bigint[]) AS id",
            [state, wording, source.strip(), at, [pk for pk, _ in locked]],
        )
    changed = [pk for pk, consent in locked if consent != state]
    if changed:
        Lead.objects.filter(pk__in=changed).update(consent=state, updated_at=timezone.now())
    return len(changed)
