"""Reads of leads, scoped by who asks."""

from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Lower
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from audit import selectors as audit_selectors
from core import hooks
from leads import lifecycle
from leads.models import Consent, ConsentState, Lead, Stage, StageChange

HANDOFF_STAGES = (Stage.MQL, Stage.PQL)


def lead_locked_by_email(email: str) -> Lead | None:
    """The lead of this email (any case), its row locked FOR UPDATE (inside the caller's
    transaction), or None. The lock is taken by a raw statement through the case-insensitive
    unique index, and only a lead found is read whole: a form submission asks this every time,
    and four times in five no lead has the address (building the lead's 60-column SELECT
    through the ORM cost 0.4-0.7 ms of CPU; the raw lookup about 35 us)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {Lead._meta.db_table} WHERE LOWER(email) = LOWER(%s) FOR UPDATE",
            [email],
        )
        row = cursor.fetchone()
    return None if row is None else Lead.objects.get(pk=row[0])


def leads_with_email(email: str, leads: QuerySet[Lead] | None = None) -> QuerySet[Lead]:
    """The leads (of `leads`, else all) whose email is `email` in any case: LOWER(email) =
    LOWER(%s), which the case-insensitive unique index answers. (`email__iexact` compares
    UPPER(email), which no index answers: it reads every lead.)"""
    leads = Lead.objects.all() if leads is None else leads
    return leads.alias(email_lower=Lower("email")).filter(email_lower=Lower(Value(email)))


def lead_visible_q(user: User) -> Q:
    """Marketers, managers and admins see every lead; a rep sees their own, and what the
    `lead_rep_scope` hook adds (the hand-off's unassigned pool, in pool mode)."""
    if user.sees_all_leads:
        return Q()
    visible = Q(owner=user)
    for extra in hooks.lead_rep_scope.call(user):
        visible |= extra
    return visible


def lead_returned_to_nurture_q() -> Q:
    """Leads sales handed back to nurture (rejected or recycled into MQL), still where they were
    put: the history row of their current stage entry is a recycle. One EXISTS, no query."""
    recycle_froms = [stage for stage in Stage.values if lifecycle.recycle_move(stage)]
    entry = StageChange.objects.filter(
        lead_id=OuterRef("pk"),
        changed_at__gte=OuterRef("stage_entered_at"),
        to_stage=Stage.MQL,
        from_stage__in=recycle_froms,
    )
    return Q(Exists(entry), stage=Stage.MQL)


# --- Consent ----------------------------------------------------------------------------------


def lead_consent_awaited_q() -> Q:
    """Leads whose source or form needs consent before any email, and who have not given it
    yet: nurture holds their enrollments until they do."""
    return Q(consent_required=True, consent=ConsentState.UNKNOWN)


def lead_consent_blocker(lead: Lead) -> str:
    """Why consent forbids mailing this lead now, or "" when it does not. A withdrawal forbids
    it whatever the lead's policy; a lead that needs consent needs it given."""
    if lead.consent == ConsentState.WITHDRAWN:
        return "consent withdrawn"
    if lead.consent_required and lead.consent != ConsentState.GIVEN:
        return "consent needed: not given yet"
    return ""


def lead_consent_latest(*, lead: Lead) -> Consent | None:
    """The lead's latest consent evidence (what it agreed to or withdrew, when, where)."""
    rows = _consents(lead)
    return rows[-1] if rows else None


def _consents(lead: Lead) -> list[Consent]:
    """The lead's consent evidence, oldest first. Read once for a loaded lead object (the
    lead's page shows the latest and the timeline lists them all): a lead read again (the
    next request) reads them again."""
    rows = lead.__dict__.get("_consents_read")
    if rows is None:
        rows = lead.__dict__["_consents_read"] = list(lead.consents.order_by("at", "id"))
    return rows


def lead_list(*, user: User) -> QuerySet[Lead]:
    return Lead.objects.filter(lead_visible_q(user)).select_related("owner")


def lead_get(*, user: User, lead_id: int) -> Lead:
    """The lead, or Http404 when it does not exist or the user may not see it."""
    try:
        return lead_list(user=user).get(pk=lead_id)
    except (Lead.DoesNotExist, ValueError, TypeError):
        raise Http404("No such lead.") from None


def lead_stage_history(*, lead: Lead) -> QuerySet[StageChange]:
    return lead.stage_changes.select_related("changed_by").order_by("changed_at", "id")


def _stage_rows(lead: Lead) -> list[StageChange]:
    """`lead_stage_history`, read once for a loaded lead object (the page's timeline and its
    stage durations both show it), as `_consents`."""
    rows = lead.__dict__.get("_stage_rows_read")
    if rows is None:
        rows = lead.__dict__["_stage_rows_read"] = list(lead_stage_history(lead=lead))
    return rows


def lead_stage_entry(*, lead: Lead) -> StageChange | None:
    """The history row of the lead's latest entry into its current stage (who or which rule
    moved it there), or None."""
    rows = lead.stage_changes.filter(to_stage=lead.stage).select_related("changed_by")
    return rows.order_by("-changed_at", "-id").first()


def leads_last_stage_change(*, lead_ids) -> dict[int, tuple[str, str]]:
    """(from stage, to stage) of each lead's latest history row, in one query."""
    last: dict[int, tuple[str, str]] = {}
    rows = StageChange.objects.filter(lead_id__in=list(lead_ids)).order_by(
        "lead_id", "changed_at", "id"
    )
    for lead_id, from_stage, to_stage in rows.values_list("lead_id", "from_stage", "to_stage"):
        last[lead_id] = (from_stage, to_stage)
    return last


def lead_stage_durations(*, lead: Lead, now: datetime | None = None) -> list[dict[str, Any]]:
    """Time spent in each stage visit, derived from the history rows."""
    now = now or timezone.now()
    rows = _stage_rows(lead)
    visits = []
    for row, nxt in zip(rows, [*rows[1:], None], strict=True):
        left = nxt.changed_at if nxt else None
        visits.append(
            {
                "stage": row.to_stage,
                "entered_at": row.changed_at,
                "left_at": left,
                "seconds": int(((left or now) - row.changed_at).total_seconds()),
            }
        )
    return visits


def _stage_items(lead: Lead) -> list[dict[str, Any]]:
    return [
        {
            "kind": "stage_change",
            "at": row.changed_at,
            "title": f"{row.from_stage or 'new'} → {row.to_stage}",
            "detail": {
                "from": row.from_stage or None,
                "to": row.to_stage,
                "by": row.changed_by.get_username() if row.changed_by else None,
                "rule": row.rule or None,
                "reason": row.reason,
            },
        }
        for row in _stage_rows(lead)
    ]


# Keyed by the state as stored (a plain str on a loaded row).
_CONSENT_TITLES: dict[str, str] = {
    ConsentState.GIVEN: "Consent given",
    ConsentState.WITHDRAWN: "Consent withdrawn",
}


def _consent_items(lead: Lead) -> list[dict[str, Any]]:
    return [
        {
            "kind": "consent",
            "at": row.at,
            "title": _CONSENT_TITLES.get(row.state, f"Consent {row.state}"),
            "detail": {
                "state": row.state,
                "wording": row.wording,
                "source": row.source,
                "ip": row.ip,
            },
        }
        for row in _consents(lead)
    ]


# The timeline's filters: every item's `kind` (its app's word) falls in one of these groups.
TIMELINE_GROUPS: dict[str, str] = {
    "stage": "Stage changes",
    "event": "Events",
    "email": "Emails and sequences",
    "activity": "Calls, meetings, notes",
    "task": "Tasks",
    "score": "Score",
    "handoff": "Hand-off",
    "consent": "Consent",
    "edit": "Field edits",
}
_HANDOFF_KINDS = frozenset({"assigned", "sla_breach", "reassigned", "rejected", "merged"})
# Most items the lead's page shows (the newest); events and score changes are capped by their
# apps too.
TIMELINE_SHOWN = 300


def timeline_group(kind: str) -> str:
    """The filter group of a timeline item's kind ("other" for a kind no group names)."""
    if kind == "stage_change":
        return "stage"
    if kind.startswith("nurture_"):
        return "email"
    if kind.startswith("activity_"):
        return "activity"
    if kind in _HANDOFF_KINDS:
        return "handoff"
    if kind == "field_change":
        return "edit"
    return kind if kind in TIMELINE_GROUPS else "other"


def lead_timeline(*, lead: Lead, group: str = "", limit: int | None = None) -> list[dict[str, Any]]:
    """Everything that happened to a lead, newest first (the newest `limit` items); with `group`
    (a TIMELINE_GROUPS key) only that kind of item. Stage changes, consent and field edits (the
    audit's) are read here: filtered to those, the other apps are not asked."""
    items = []
    if group in ("", "stage"):
        items += _stage_items(lead)
    if group in ("", "consent"):
        items += _consent_items(lead)
    if group in ("", "edit"):
        items += audit_selectors.lead_field_changes(lead.pk)
    if group not in ("stage", "consent", "edit"):
        items += [i for items in hooks.lead_timeline_items.call(lead) for i in items]
    for item in items:
        item["group"] = timeline_group(item["kind"])
    if group:
        items = [item for item in items if item["group"] == group]
    return sorted(items, key=lambda item: item["at"], reverse=True)[:limit]


def lead_page_sections(*, lead: Lead, user: User) -> list[dict[str, Any]]:
    """The sections higher apps add to the lead's page (the `lead_page_sections` hook), for a
    user who may see the lead: each a `template` and its `context`."""
    return [section for section in hooks.lead_page_sections.call(lead, user) if section]
