"""Who is who: identify and alias link userIds / anonymousIds to leads.

This is the trusted path, a server (secret) key's; a browser (public) key's identify and alias
calls go through events/browser.py instead, and its events join leads by their own rule
(`lead_of_browser_ids_sql`). Private to events.services (which owns the transaction); the lead
rows themselves are written through leads.services. Everything here is set-based per batch: a
handful of queries whatever the number of identify calls, plus one UPDATE per lead that gains
ids.
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q, Value
from django.db.models.functions import Lower

from events import traits as trait_map
from events.models import (
    Event,
    EventType,
    Identity,
    IdentityKind,
    PendingEvent,
    Source,
    SourceKind,
)
from events.parsing import Message
from leads import services as lead_services
from leads.models import Lead

USER, ANONYMOUS = IdentityKind.USER, IdentityKind.ANONYMOUS
# How far a chain of alias calls is followed in one go; a longer one continues on its next link.
_MAX_ALIAS_HOPS = 20


def _in(column: str, values: list) -> str:
    return f"{column} IN ({', '.join(['%s'] * len(values))})"


def identity_rows(*, user_ids, anonymous_ids) -> list[tuple[str, str, int]]:
    """(kind, value, lead id) of the known ids. Raw SQL: it runs on every ingest request, and
    building the ORM query for a hundred values costs more than running it."""
    users, anons = list(user_ids), list(anonymous_ids)
    parts, params = [], []
    if users:
        parts.append(f"(kind = %s AND {_in('value', users)})")
        params += [USER, *users]
    if anons:
        parts.append(f"(kind = %s AND {_in('value', anons)})")
        params += [ANONYMOUS, *anons]
    if not parts:
        return []
    # Both kinds named, so the (kind, value) unique index answers it.
    sql = f"SELECT kind, value, lead_id FROM {Identity._meta.db_table} WHERE {' OR '.join(parts)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def lead_of_ids_sql(user_id: str, anonymous_id: str) -> tuple[str, list[str]]:
    """THE rule for which lead an event's ids belong to, as a SQL expression over two text
    expressions (an empty or NULL id matches nothing), and its parameters:

    1. the userId's link (an Identity of kind user: written by identify, or by an alias);
    2. else a lead created with that external_id (the REST API writes no Identity row);
    3. else the anonymousId's link (an Identity of kind anonymous).

    Alias chains are already followed when their links are written, so one lookup each is
    enough. Ingestion's set-based insert and `leads_for_ids` (linking waiting events, following
    aliases) both use this expression, for a server key's events; a browser key's events
    follow `lead_of_browser_ids_sql`. Scalar subqueries, so that each is an index lookup per
    row whatever the planner thinks of a batch's size; COALESCE stops at the first hit.
    """
    identities, leads = Identity._meta.db_table, Lead._meta.db_table
    sql = (
        f"COALESCE((SELECT lead_id FROM {identities} WHERE kind = %s "
        f"AND value = NULLIF({user_id}, '')), "
        f"(SELECT id FROM {leads} WHERE external_id = NULLIF({user_id}, '')), "
        f"(SELECT lead_id FROM {identities} WHERE kind = %s "
        f"AND value = NULLIF({anonymous_id}, '')))"
    )
    return sql, [USER, ANONYMOUS]


def lead_of_browser_ids_sql(anonymous_id: str, source_id: str) -> tuple[str, list[str]]:
    """The rule for a browser (public) key's event, as `lead_of_ids_sql` is for the others: the
    lead of its anonymousId's link when that link is trusted (made by a server key or the app:
    `browser_source` null) or was made by this same key. Never a userId or an external_id:
    those are often guessable ("42", an email), and a page can send any it likes."""
    identities = Identity._meta.db_table
    sql = (
        f"(SELECT lead_id FROM {identities} WHERE kind = %s "
        f"AND value = NULLIF({anonymous_id}, '') "
        f"AND (browser_source_id IS NULL OR browser_source_id = {source_id}))"
    )
    return sql, [ANONYMOUS]


def _browser_sources_sql() -> str:
    return f"SELECT id FROM {Source._meta.db_table} WHERE kind = '{SourceKind.BROWSER.value}'"


def anonymous_link_owners(*, values) -> dict[str, int | None]:
    """anonymousId -> the browser source that linked it (None: a trusted link), for linked ids."""
    found = Identity.objects.filter(kind=ANONYMOUS, value__in=list(values))
    return dict(found.values_list("value", "browser_source_id"))


def leads_for_ids(*, user_ids, anonymous_ids) -> tuple[dict[str, int], dict[str, int]]:
    """(userId -> lead id, anonymousId -> lead id) for the ids that are known, by the rule of
    `lead_of_ids_sql` applied to each id alone."""
    as_user, user_params = lead_of_ids_sql("u.v", "NULL")
    as_anon, anon_params = lead_of_ids_sql("NULL", "a.v")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 'u', u.v, {as_user} FROM unnest(%s::text[]) AS u(v) "
            f"UNION ALL SELECT 'a', a.v, {as_anon} FROM unnest(%s::text[]) AS a(v)",
            [*user_params, sorted(user_ids), *anon_params, sorted(anonymous_ids)],
        )
        rows = cursor.fetchall()
    by_user = {value: lead for kind, value, lead in rows if kind == "u" and lead is not None}
    by_anon = {value: lead for kind, value, lead in rows if kind == "a" and lead is not None}
    return by_user, by_anon


def link_orphans(
    *, user_ids, anonymous_ids, known: Mapping[str, tuple[int, int | None]] | None = None
) -> int:
    """Join not-yet-linked events carrying these ids to their leads, to be scored afresh.

    By the rule of the event's own source: a server key's event by `lead_of_ids_sql`, a
    browser key's by `lead_of_browser_ids_sql` (a trusted anonymousId link or its own).
    `known`: anonymousId -> (its lead, the browser source that linked it) for links the
    caller has just made, which are not looked up again.
    """
    known = known or {}
    unknown = set(anonymous_ids) - set(known)
    by_user, by_anon = (
        leads_for_ids(user_ids=set(user_ids), anonymous_ids=unknown)
        if user_ids or unknown
        else ({}, {})
    )
    owners = anonymous_link_owners(values=by_anon) if by_anon else {}
    for value, (lead_id, owner) in known.items():
        by_anon[value], owners[value] = lead_id, owner
    per_lead: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
    for value, lead_id in by_user.items():
        per_lead[lead_id][0].append(value)
    for value, lead_id in by_anon.items():
        per_lead[lead_id][1].append(value)
    linked = 0
    for lead_id, (users, anons) in sorted(per_lead.items()):
        linked += _link_lead(lead_id, *_orphans_match(users, anons, owners))
    return linked


def _link_lead(lead_id: int, match: str, params: list) -> int:
    """Join the waiting events that `match` picks to the lead, and put them in scoring's queue:
    one statement (so atomic on its own, with no transaction to open and commit around it, or
    savepoint inside one). How many were linked."""
    events, pending = Event._meta.db_table, PendingEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH linked AS (UPDATE {events} SET lead_id = %s "
            f"WHERE lead_id IS NULL AND ({match}) RETURNING id), "
            f"queued AS (INSERT INTO {pending} (event_id) SELECT id FROM linked ORDER BY id "
            "ON CONFLICT (event_id) DO NOTHING) "
            "SELECT count(*) FROM linked",
            [lead_id, *params],
        )
        return cursor.fetchone()[0]


def _orphans_match(users: list, anons: list, owners: dict) -> tuple[str, list]:
    """The WHERE clause picking one lead's waiting events: any event with a trusted
    anonymousId; a server key's event with one of its userIds or browser-made anonymousIds; a
    browser key's event with an anonymousId that key linked itself."""
    trusted = [a for a in anons if owners.get(a) is None]
    own = [(a, owners[a]) for a in anons if owners.get(a) is not None]
    clauses, params = [], []
    plain, plain_params = [], []
    if users:
        plain.append(_in("user_id", users))
        plain_params += users
    if own:
        plain.append(_in("anonymous_id", [a for a, _ in own]))
        plain_params += [a for a, _ in own]
    if plain:
        clauses.append(f"(({' OR '.join(plain)}) AND source_id NOT IN ({_browser_sources_sql()}))")
        params += plain_params
    if trusted:
        clauses.append(_in("anonymous_id", trusted))
        params += trusted
    for value, source_id in own:
        clauses.append("(anonymous_id = %s AND source_id = %s)")
        params += [value, source_id]
    return " OR ".join(clauses), params


def orphans_relink(*, since, chunk: int = 1000) -> int:
    """Link waiting events whose ids became known at or after `since`: the periodic catch-up
    for a link that was lost between an ingest's commit and its after-commit step (a crash,
    a killed worker), when an identify committed concurrently with the events' request."""
    users: set[str] = set()
    anons: set[str] = set()
    recent = Identity.objects.filter(created_at__gte=since).values_list("kind", "value")
    for kind, value in recent.iterator(chunk_size=chunk):
        (users if kind == USER else anons).add(value)
    # Leads created through the REST API with an external_id have no Identity row.
    external_ids = Lead.objects.filter(
        created_at__gte=since, external_id__isnull=False
    ).values_list("external_id", flat=True)
    users |= {value for value in external_ids if value is not None}  # none is, by the filter
    linked = 0
    users_list, anons_list = sorted(users), sorted(anons)
    for start in range(0, max(len(users_list), len(anons_list)), chunk):
        linked += link_orphans(
            user_ids=users_list[start : start + chunk],
            anonymous_ids=anons_list[start : start + chunk],
        )
    return linked


@dataclass
class _NewLead:
    """A lead an identify call will create, gathered over the batch before one insert."""

    email: str
    fields: dict = field(default_factory=dict)
    traits: dict = field(default_factory=dict)
    pk: int | None = None


@dataclass
class _Batch:
    """In-batch state, so a later call in the batch sees the leads earlier calls resolved."""

    leads: dict[int, Lead]
    by_user: dict[str, Lead | _NewLead]
    by_anon: dict[str, Lead | _NewLead]
    by_email: dict[str, Lead | _NewLead]
    known: set[tuple[str, str]] = field(default_factory=set)  # Identity rows that exist
    changes: dict[int, dict] = field(default_factory=dict)
    links: list[tuple[str, str, Lead | _NewLead]] = field(default_factory=list)


def identities_apply(
    *, messages: list[Message], consent_required: bool = False
) -> tuple[set[int], set[str], set[str]]:
    """Apply newly stored identify and alias calls, in order. Leads they create need consent
    before any email when `consent_required` (their source's policy says so).

    Returns (ids of leads created or changed, userIds linked, anonymousIds linked).
    """
    identifies = [m for m in messages if m.type == EventType.IDENTIFY]
    aliases = [m for m in messages if m.type == EventType.ALIAS]
    if not identifies and not aliases:
        return set(), set(), set()
    batch = _load(identifies, aliases)
    for message in identifies:
        _identify(batch, message)
    created = _create_new_leads(batch, consent_required=consent_required)
    for message in aliases:
        _alias(batch, message)
    changes = {pk: fields for pk, fields in batch.changes.items() if fields}
    changed = lead_services.leads_update_identified(changes=changes) if changes else set()
    users, anons = _register_links(batch)
    users, anons = _follow_aliases(users, anons)
    link_orphans(user_ids=users, anonymous_ids=anons)
    return created | changed, users, anons


def _load(identifies: list[Message], aliases: list[Message]) -> _Batch:
    user_ids = {m.user_id for m in identifies + aliases if m.user_id}
    user_ids |= {m.previous_id for m in aliases}
    anon_ids = {m.anonymous_id for m in identifies if m.anonymous_id}
    anon_ids |= {m.previous_id for m in aliases}
    emails = {e for m in identifies if (e := trait_map.email_of(m.traits))}
    rows = identity_rows(user_ids=user_ids, anonymous_ids=anon_ids)
    user_map = {value: pk for kind, value, pk in rows if kind == USER}
    anon_map = {value: pk for kind, value, pk in rows if kind == ANONYMOUS}
    missing = [value for value in user_ids if value not in user_map]
    if missing:
        found = Lead.objects.filter(external_id__in=missing).values_list("external_id", "pk")
        user_map.update((value, pk) for value, pk in found if value is not None)  # all, by `in`
    wanted = Q(pk__in=set(user_map.values()) | set(anon_map.values()))
    if emails:
        wanted |= Q(email_lower__in=emails)
    # Read without a lock: scoring holds leads locked for a whole pass, and an identify that
    # changes nothing (SDKs repeat identify on every visit) must not wait for it. The few
    # changes there are go out as UPDATEs; traits are merged in SQL, not read-modify-written.
    leads: dict[int, Lead] = {
        lead.pk: lead
        for lead in Lead.objects.alias(email_lower=Lower("email")).filter(wanted).order_by("pk")
    }
    return _Batch(
        leads=leads,
        by_user={value: leads[pk] for value, pk in user_map.items() if pk in leads},
        by_anon={value: leads[pk] for value, pk in anon_map.items() if pk in leads},
        by_email={lead.email.lower(): lead for lead in leads.values()},
        known={(kind, value) for kind, value, _ in rows},
    )


def _identify(batch: _Batch, message: Message) -> None:
    fields, extra = trait_map.split_traits(message.traits)
    email = fields.get("email")
    target = (
        batch.by_user.get(message.user_id)
        or (batch.by_email.get(email) if email else None)
        or batch.by_anon.get(message.anonymous_id)
    )
    if target is None:
        if not email:
            return  # nothing to create a lead from; the event waits for a later identify
        target = _NewLead(email=email, fields=trait_map.utm_fields(message.context))
        batch.by_email[email] = target
    _apply_traits(batch, target, fields, extra)
    if message.user_id:
        _claim_user_id(batch, target, message.user_id)
        batch.links.append((USER, message.user_id, target))
    if message.anonymous_id:
        batch.by_anon.setdefault(message.anonymous_id, target)
        batch.links.append((ANONYMOUS, message.anonymous_id, target))


def _apply_traits(batch: _Batch, target, fields: dict, extra: dict) -> None:
    email = fields.get("email")
    if email and batch.by_email.get(email, target) is not target:
        fields = {k: v for k, v in fields.items() if k != "email"}  # another lead's address
    if isinstance(target, _NewLead):
        target.fields.update({k: v for k, v in fields.items() if k != "email"})
        target.traits.update(extra)
        return
    pending = batch.changes.setdefault(target.pk, {})
    for name, value in fields.items():
        if getattr(target, name) != value:
            setattr(target, name, value)
            pending[name] = value
    if email and email != target.email.lower():
        batch.by_email[email] = target
    added = {k: v for k, v in extra.items() if k not in target.traits or target.traits[k] != v}
    if added:
        target.traits = {**target.traits, **added}
        pending["traits"] = {**pending.get("traits", {}), **added}


def _claim_user_id(batch: _Batch, target, user_id: str) -> None:
    """Make `user_id` the lead's external_id when it has none and no other lead holds it."""
    holder = batch.by_user.setdefault(user_id, target)
    if holder is not target:
        return
    if isinstance(target, _NewLead):
        target.fields.setdefault("external_id", user_id)
    elif target.external_id is None:
        target.external_id = user_id
        batch.changes.setdefault(target.pk, {})["external_id"] = user_id


def _create_new_leads(batch: _Batch, *, consent_required: bool) -> set[int]:
    new = {id(t): t for t in batch.by_email.values() if isinstance(t, _NewLead)}.values()
    if not new:
        return set()
    rows = [{**t.fields, "email": t.email, "traits": t.traits} for t in new]
    created = lead_services.leads_create_identified(
        rows=rows, reason="identified", consent_required=consent_required
    )
    for target in new:
        target.pk = created.get(target.email)
        if target.pk is None:
            _lost_race(batch, target)
    return set(created.values())


def _lost_race(batch: _Batch, target: _NewLead) -> None:
    """Another transaction created this lead first: apply our traits to it as an update."""
    # LOWER(email): the case-insensitive unique index answers it (email__iexact would not).
    wanted = Q(email_lower=Lower(Value(target.email)))
    if target.fields.get("external_id"):
        wanted |= Q(external_id=target.fields["external_id"])
    lead = Lead.objects.alias(email_lower=Lower("email")).filter(wanted).order_by("pk").first()
    if lead is None:
        return
    target.pk = lead.pk
    changes = {
        k: v for k, v in target.fields.items() if k not in ("email", "external_id") and v != ""
    }
    if target.traits:
        changes["traits"] = dict(target.traits)
    if changes:
        batch.changes.setdefault(lead.pk, {}).update(changes)


def _alias(batch: _Batch, message: Message) -> None:
    target = batch.by_user.get(message.user_id) or batch.by_user.get(message.previous_id)
    target = target or batch.by_anon.get(message.previous_id)
    if target is None:
        return  # linked later, when an identify names one of the two ids
    # previousId may be an earlier userId or an anonymousId: Segment does not say which.
    batch.links += [
        (USER, message.user_id, target),
        (USER, message.previous_id, target),
        (ANONYMOUS, message.previous_id, target),
    ]


def _register_links(batch: _Batch) -> tuple[set[str], set[str]]:
    # Only links made now: an id linked earlier had its waiting events joined back then.
    rows = [
        Identity(kind=kind, value=value, lead_id=target.pk)
        for kind, value, target in batch.links
        if target.pk is not None and (kind, value) not in batch.known
    ]
    if not rows:
        return set(), set()
    # The first link of an id wins; a later claim on it by another lead is ignored.
    Identity.objects.bulk_create(rows, ignore_conflicts=True)
    users = {row.value for row in rows if row.kind == USER}
    anons = {row.value for row in rows if row.kind == ANONYMOUS}
    return users, anons


def _follow_aliases(users: set[str], anons: set[str]) -> tuple[set[str], set[str]]:
    """Alias calls that came before their ids were known: link their other ids now, and so on
    along a chain (device -> old user id -> new user id), until no alias adds an id."""
    all_users, all_anons = set(users), set(anons)
    new_users, new_anons = set(users), set(anons)
    for _ in range(_MAX_ALIAS_HOPS):
        if not new_users and not new_anons:
            break
        values = new_users | new_anons
        # A browser key's alias calls link nothing (events/browser.py): a page may name any id.
        pairs = list(
            Event.objects.filter(type=EventType.ALIAS)
            .filter(Q(user_id__in=values) | Q(previous_id__in=values))
            .exclude(source__in=Source.objects.filter(kind=SourceKind.BROWSER).values("pk"))
            .values_list("user_id", "previous_id")
        )
        ids = {v for pair in pairs for v in pair if v}
        by_user, by_anon = leads_for_ids(user_ids=ids, anonymous_ids=ids)
        known = {**by_anon, **by_user}
        rows = []
        for user_id, previous_id in pairs:
            lead_id = known.get(user_id) or known.get(previous_id)
            if lead_id is None:
                continue
            rows += [
                Identity(kind=USER, value=user_id, lead_id=lead_id),
                Identity(kind=USER, value=previous_id, lead_id=lead_id),
                Identity(kind=ANONYMOUS, value=previous_id, lead_id=lead_id),
            ]
        if rows:
            # The first link of an id wins, as in _register_links.
            Identity.objects.bulk_create(rows, ignore_conflicts=True)
        new_users = {r.value for r in rows if r.kind == USER} - all_users
        new_anons = {r.value for r in rows if r.kind == ANONYMOUS} - all_anons
        all_users |= new_users
        all_anons |= new_anons
    return all_users, all_anons
