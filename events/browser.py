"""What a browser (public) write key may do to leads.

A browser key sits in page source: anyone can copy it and send whatever they like with it, so
its identify and alias calls come here instead of events/identity.py (the trusted path a server
key's calls take). Private to events.services, which owns the transaction.

- Its events join a lead only through an anonymousId whose link is trusted (made by a server
  key or the app) or was made by this same key (`identity.lead_of_browser_ids_sql`). A userId
  or a lead's external_id never reaches a lead: a page may send any, and they are often
  guessable ("42", an email address).
- identify with an email no lead has creates that lead, at IQL, and links the call's
  anonymousId to it as this key's link (when no lead holds that id yet).
- identify reaching a lead through this key's own link (so: the lead it created through that
  anonymousId), with no email or with that lead's email, fills the lead's blank fields and adds
  the traits it lacks (`leads.services.lead_fill_blanks`).
- Nothing else changes a lead. The email is never changed, a value never overwritten, a userId
  never linked nor made an external_id, owner, stage and score never touched. identify with the
  email of a lead this key did not create through the same anonymousId (a victim's address, or
  the visitor's own from another browser) links nothing and changes nothing; a different email
  from an anonymousId this key linked leaves that lead alone (a new address may still create
  its own lead). alias calls link nothing. Every call is still stored as an event.
"""

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from events import traits as trait_map
from events.identity import link_orphans
from events.models import ConsentPolicy, EventType, Identity, IdentityKind, Source
from events.parsing import Message
from leads import services as lead_services
from leads.models import Lead

ANONYMOUS = IdentityKind.ANONYMOUS


@dataclass
class _NewLead:
    """A lead an identify call will create, gathered over the batch before one insert."""

    email: str
    fields: dict = field(default_factory=dict)
    traits: dict = field(default_factory=dict)
    pk: int | None = None


@dataclass
class _Batch:
    """In-batch state, so a later call in the batch sees what earlier calls did."""

    own: dict[str, Lead | _NewLead]  # anonymousId -> the lead this key linked it to
    taken: set[str]  # anonymousIds some lead already holds (by anyone's link)
    emails: dict[str, Lead | _NewLead]  # lower-case email -> its lead, existing or new
    fills: dict[int, dict] = field(default_factory=dict)  # lead id -> blanks to fill
    links: list[tuple[str, _NewLead]] = field(default_factory=list)


def identities_apply(
    *, source: Source, messages: list[Message]
) -> tuple[set[int], set[str], dict[str, tuple[int, int | None]]]:
    """Apply a browser key's newly stored identify calls, in order (its alias calls do nothing).

    Returns (ids of leads created or filled, userIds linked: always none, the anonymousIds it
    linked, each to its lead and this source: `identity.link_orphans`'s `known`).
    """
    identifies = [m for m in messages if m.type == EventType.IDENTIFY]
    if not identifies:
        return set(), set(), {}
    batch = _load(source, identifies)
    for message in identifies:
        _identify(batch, message)
    created = _create_new_leads(
        batch, consent_required=source.consent_policy == ConsentPolicy.NEEDED
    )
    filled = _fill_blanks(batch)
    known: dict[str, tuple[int, int | None]] = {
        value: (lead_id, source.pk) for value, lead_id in _register_links(batch, source).items()
    }
    if known:
        # The links were just made, by this key: no need to look them up again.
        link_orphans(user_ids=(), anonymous_ids=(), known=known)
    return created | filled, set(), known


def _load(source: Source, identifies: list[Message]) -> _Batch:
    anons = {m.anonymous_id for m in identifies if m.anonymous_id}
    emails = {e for m in identifies if (e := trait_map.email_of(m.traits))}
    links = list(
        Identity.objects.filter(kind=ANONYMOUS, value__in=anons).values_list(
            "value", "lead_id", "browser_source_id"
        )
        if anons
        else []
    )
    own = {value: lead_id for value, lead_id, by in links if by == source.pk}
    wanted = Q(pk__in=set(own.values()))
    if emails:
        wanted |= Q(email_lower__in=emails)
    # Read without a lock, as the trusted path does: most identify calls change nothing, and
    # those that fill blanks lock the row in lead_fill_blanks, which reads it again.
    leads = (
        {lead.pk: lead for lead in Lead.objects.alias(email_lower=Lower("email")).filter(wanted)}
        if own or emails
        else {}
    )
    return _Batch(
        own={value: leads[pk] for value, pk in own.items() if pk in leads},
        taken={value for value, _, _ in links},
        emails={lead.email.lower(): lead for lead in leads.values()},
    )


def _identify(batch: _Batch, message: Message) -> None:
    fields, extra = trait_map.split_traits(message.traits)
    email = fields.pop("email", None)
    fields = {k: v for k, v in fields.items() if k in lead_services.FILLABLE}
    target = batch.own.get(message.anonymous_id) if message.anonymous_id else None
    if target is not None and email in (None, target.email.lower()):
        _gather_blanks(batch, target, fields, extra)
        return
    if email is None or email in batch.emails:
        return  # nothing to create from, or a lead this key may not touch: the event is kept
    new = _NewLead(
        email=email, fields={**trait_map.utm_fields(message.context), **fields}, traits=extra
    )
    batch.emails[email] = new
    anonymous_id = message.anonymous_id
    if anonymous_id and anonymous_id not in batch.taken:
        batch.taken.add(anonymous_id)
        batch.own[anonymous_id] = new
        batch.links.append((anonymous_id, new))


def _blank(value) -> bool:
    return value is None or value == ""


def _gather_blanks(batch: _Batch, target: Lead | _NewLead, fields: dict, extra: dict) -> None:
    """Remember the values for the target's blanks; the first call in the batch wins each."""
    if isinstance(target, _NewLead):
        for name, value in fields.items():
            if _blank(target.fields.get(name)):
                target.fields[name] = value
        for key, value in extra.items():
            target.traits.setdefault(key, value)
        return
    pending = batch.fills.setdefault(target.pk, {"traits": {}})
    for name, value in fields.items():
        if name not in pending and not _blank(value) and _blank(getattr(target, name)):
            pending[name] = value
    traits = pending["traits"]
    for key, value in extra.items():
        if key not in traits and not _blank(value) and _blank(target.traits.get(key)):
            traits[key] = value


def _create_new_leads(batch: _Batch, *, consent_required: bool) -> set[int]:
    new = [t for t in batch.emails.values() if isinstance(t, _NewLead)]
    if not new:
        return set()
    rows = [{**t.fields, "email": t.email, "traits": t.traits} for t in new]
    created = lead_services.leads_create_identified(
        rows=rows, reason="identified", consent_required=consent_required
    )
    for target in new:
        # None: another transaction created this email's lead first. It is not this key's
        # lead, so nothing is applied to it and the anonymousId is not linked.
        target.pk = created.get(target.email)
    return set(created.values())


def _fill_blanks(batch: _Batch) -> set[int]:
    filled = set()
    for lead_id, fields in sorted(batch.fills.items()):  # lead id order, as scoring locks
        if not fields["traits"]:
            del fields["traits"]
        if fields and lead_services.lead_fill_blanks(lead_id=lead_id, fields=fields):
            filled.add(lead_id)
    return filled


def _register_links(batch: _Batch, source: Source) -> dict[str, int]:
    """Link the batch's anonymousIds to the leads it created; the links made, anonymousId ->
    lead. The first link of an id wins: an id someone else linked first keeps its link (and
    is left out)."""
    rows = [(value, target.pk) for value, target in batch.links if target.pk is not None]
    if not rows:
        return {}
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Identity._meta.db_table} "
            "(kind, value, lead_id, browser_source_id, created_at) VALUES "
            + ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))
            + " ON CONFLICT DO NOTHING RETURNING value, lead_id",
            [p for value, lead_id in rows for p in (ANONYMOUS, value, lead_id, source.pk, now)],
        )
        return dict(cursor.fetchall())
