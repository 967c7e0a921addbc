"""Merging duplicates: keep one lead, move everything of the other into it, delete the other.

Each app's rows move through that app's own `*_move_to_lead` service (the hand-off sits above
them all); the hand-off's own rows move here. Then the kept lead is re-scored from the events
it now has, and a Merge row records what moved.
"""

from datetime import datetime

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from core import hooks
from core.errors import ApiError, Forbidden
from events import services as event_services
from handoff.models import Activity, Assignment, AssignmentStatus, Discovery, Merge, Rejection, Task
from handoff.services.common import assignment_end, lead_may_see, open_assignment
from leads import services as lead_services
from leads.models import Lead
from nurturing import services as nurture_services
from scoring import services as scoring_services


class MergeForbidden(Forbidden):
    default_code = "merge_across_owners"
    default_detail = "A sales rep may merge only leads they own."


def merge_turn_take() -> None:
    """Take scoring's turn before locking any lead a merge touches: the merge re-scores the
    kept lead, and every scoring pass locks its settings before leads (no deadlock)."""
    scoring_services.scoring_turn_take()


@transaction.atomic
def lead_merge(*, lead_id: int, other_id: int, actor: User, now: datetime | None = None) -> Merge:
    """Merge lead `other_id` into lead `lead_id`: the kept lead gets the other's stage history,
    events, identities, scoring ledger (and queue), nurture enrollments and emails, activities,
    tasks, assignments, rejections, merges and (if it has none) discovery answers, and its
    blank fields; its score is recomputed; the other is deleted.

    Merging a lead into itself is a 400; a rep merges only two leads they own (403). The
    other's open assignment ends RELEASED first (the rep's capacity frees up).
    """
    if lead_id == other_id:
        raise ApiError("A lead cannot be merged into itself.", code="merge_into_itself")
    now = now or timezone.now()
    merge_turn_take()
    keep, other = _locked_pair(lead_id, other_id)
    _require_may_merge(keep, other, actor)
    if open_assignment(other.pk) is not None:
        assignment_end(lead_id=other.pk, status=AssignmentStatus.RELEASED, now=now)
    moved = _move_all(from_lead_id=other.pk, to_lead_id=keep.pk)
    filled = lead_services.lead_absorb(lead_id=keep.pk, other_id=other.pk)
    scoring_services.lead_rescore(lead_id=keep.pk, now=now)
    return Merge.objects.create(
        lead=keep,
        merged_lead_id=other.pk,
        merged_email=other.email,
        merged_by=actor,
        merged_at=now,
        moved={**moved, "fields_filled": filled},
    )


def _locked_pair(lead_id: int, other_id: int) -> tuple[Lead, Lead]:
    # In id order, so two merges of the same pair (either way round) cannot deadlock.
    rows = Lead.objects.select_for_update().filter(pk__in=[lead_id, other_id]).order_by("pk")
    leads = {lead.pk: lead for lead in rows}
    if lead_id not in leads or other_id not in leads:
        raise Http404("No such lead.")
    return leads[lead_id], leads[other_id]


def _require_may_merge(keep: Lead, other: Lead, actor: User) -> None:
    """Marketers, sales managers and admins merge any two leads; a rep two leads they own."""
    if actor.sees_all_leads:
        return
    if not (lead_may_see(keep.pk, actor) and lead_may_see(other.pk, actor)):
        raise Http404("No such lead.")
    if keep.owner_id != actor.pk or other.owner_id != actor.pk:
        raise MergeForbidden("A sales rep may merge only two leads they own.")


def _move_all(*, from_lead_id: int, to_lead_id: int) -> dict[str, int]:
    ids = {"from_lead_id": from_lead_id, "to_lead_id": to_lead_id}
    moved = {
        "stage_changes": lead_services.stage_changes_move_to_lead(**ids),
        "consents": lead_services.consents_move_to_lead(**ids),
        "events": event_services.events_move_to_lead(**ids),
        "identities": event_services.identities_move_to_lead(**ids),
        "ledger": scoring_services.ledger_move_to_lead(**ids),
        "enrollments": nurture_services.enrollments_move_to_lead(**ids),
        "messages": nurture_services.messages_move_to_lead(**ids),
        **handoff_rows_move_to_lead(**ids),
    }
    # Apps beside the hand-off or above it (web's form submissions) move theirs by the hook.
    for counts in hooks.lead_rows_move.call(from_lead_id, to_lead_id):
        moved.update(counts)
    return moved


def handoff_rows_move_to_lead(*, from_lead_id: int, to_lead_id: int) -> dict[str, int]:
    """The hand-off's own rows of one lead given to another (the other's open assignment has
    ended: a lead has one open assignment at most). Discovery answers move only to a lead
    without its own. Rejections naming the lead as the duplicate now name the kept lead."""
    Rejection.objects.filter(duplicate_of_id=from_lead_id).update(duplicate_of_id=to_lead_id)
    has_discovery = Discovery.objects.filter(lead_id=to_lead_id).exists()
    moved = {
        name: model.objects.filter(lead_id=from_lead_id).update(lead_id=to_lead_id)
        for name, model in (
            ("activities", Activity),
            ("tasks", Task),
            ("assignments", Assignment),
            ("rejections", Rejection),
            ("merges", Merge),
        )
    }
    discovery = Discovery.objects.filter(lead_id=from_lead_id)
    moved["discovery"] = 0 if has_discovery else discovery.update(lead_id=to_lead_id)
    return moved
