"""Every write of events: ingestion (the one path every event takes) and sources' write keys."""

import hashlib
import secrets
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record, changes_between
from core import hooks
from core.errors import ApiError, Conflict, Forbidden
from events import browser, buffer, identity, jsonfast, origins, parsing, pending, selectors
from events import privacy as event_privacy
from events import traits as trait_map
from events.models import (
    ConsentPolicy,
    Event,
    EventType,
    Identity,
    IdentityKind,
    PendingEvent,
    Source,
    SourceKind,
)
from leads import privacy as lead_privacy
from leads.models import Lead

WRITE_KEY_PREFIX = "wk_"
_IDENTITY_TYPES = (EventType.IDENTIFY, EventType.ALIAS)
# What a browser key's lone call may leave to the buffer: nothing about a lead changes with it.
BUFFERED_TYPES = (EventType.PAGE, EventType.TRACK, EventType.SCREEN)


# A partly rejected batch's answer lists this many errors (the first ones), plus their total:
# the answer stays small whatever a batch holds.
MAX_ERRORS_LISTED = 100


@dataclass
class IngestResult:
    accepted: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)  # the first MAX_ERRORS_LISTED
    stored: int = 0  # accepted minus the message ids this source had sent before
    limited: tuple[int, int] | None = None  # refused by a rate limit (events_ingest's `limits`)

    def as_response(self) -> dict:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "errors": self.errors,
            "errors_total": self.rejected,
        }


def events_push_authorize(*, actor: User) -> None:
    """Who may push events as a signed-in user (the native API): marketers and admins. A write
    key is a source's own authority and needs no user."""
    if not actor.does_marketing:
        raise Forbidden("Only marketers and admins may push events.")


def events_ingest(
    *,
    source: Source,
    messages: list,
    received_at: datetime | None = None,
    text_checked: bool = False,
    limits: list[tuple[str, int]] | None = None,
) -> IngestResult:
    """Validate, store and link Segment-shaped messages; the one path for every event.

    Bad messages are rejected one by one (their index, `code` and `message` in `errors`); the
    valid ones are stored in one transaction with one set-based insert, and a message id this
    source sent before is acknowledged but not stored again. identify/alias calls create,
    update and link leads. Scoring is asked for after the commit and can never fail ingestion.

    `text_checked` says the JSON the messages came from had no NUL or lone-surrogate escape,
    so the per-string scan can be skipped; Python callers leave it alone.

    `limits`: the request's rate limits (core.ratelimit checks a minute), left by the caller to
    be counted here, with the push into the buffer in the same Redis command: a browser key's
    lone page view, track or screen call (events/buffer.py). When a limit refuses, nothing is
    stored and `result.limited` says which (hit_many's answer).
    """
    received_at = received_at or timezone.now()
    result = IngestResult()
    valid = _validate(messages, received_at, result, text_checked=text_checked)
    browser_key = source.kind == SourceKind.BROWSER
    # A single page view or track (what a browser sends: one call a request) is one statement
    # with nothing to keep consistent beside it: it commits on its own, sparing the round trips
    # of BEGIN and COMMIT. identify, alias and batches keep their transaction.
    alone = len(valid) == 1 and valid[0].type not in _IDENTITY_TYPES
    if limits is not None:
        # A browser's lone page view or track goes to the buffer, counted with its limits in
        # one Redis command; anything else (or what the buffer cannot take) is only counted.
        # (When Redis fails, nothing was counted: the limits fail open, as in hit_many.)
        buffered = browser_key and alone and valid[0].type in BUFFERED_TYPES
        outcome = buffer.accept(
            _rows(source, valid, received_at) if buffered else [], limits=limits
        )
        result.limited = outcome.refused
        if outcome.refused is not None:
            return result
        if outcome.buffered:
            result.stored = len(valid)  # stored by the buffer's drain
            return result
    if not valid:
        return result
    with nullcontext() if alone else transaction.atomic():
        valid = _without_erased_addresses(valid)
        new, unlinked, linked = _store(source=source, messages=valid, received_at=received_at)
        known: dict[str, tuple[int, int | None]] = {}  # links made here, by a browser key
        if browser_key:  # a public key: its own rules (events/browser.py)
            changed, users, known = browser.identities_apply(source=source, messages=new)
            anons = set(known)
        else:
            changed, users, anons = identity.identities_apply(
                messages=new, consent_required=source.consent_policy == ConsentPolicy.NEEDED
            )
        # Leads that gained an id (and its waiting events) count too.
        linked |= {lead_id for lead_id, _ in known.values()}
        unknown = anons - known.keys()
        if users or unknown:
            gained = Identity.objects.filter(value__in=users | unknown)
            linked |= set(gained.values_list("lead_id", flat=True))
        _erase_again_if_erased(linked | changed)
        # A concurrent identify may have committed its lead between our lookup and our commit;
        # looking again once both are committed closes that gap (see identity.link_orphans).
        # (A browser key's events never join through a userId: no point looking those up.)
        # Not for a browser's lone page view or track, the bulk of browser traffic: that look
        # was a query on every request for a race of a few milliseconds, and the scoring
        # sweep (every minute) links the waiting events of ids linked since its last run.
        if not browser_key:
            users |= {m.user_id for m in unlinked if m.user_id}
        if not (browser_key and alone):
            anons |= {m.anonymous_id for m in unlinked if m.anonymous_id}
        if users or anons:
            # (A link made here is not looked up again: its lead and maker are known.)
            transaction.on_commit(
                partial(_link_after_commit, user_ids=users, anonymous_ids=anons, known=known),
                robust=True,
            )
        # Scoring counts linked events only; an anonymous page view waits for its lead (and
        # _link_after_commit kicks if it finds one).
        if changed or len(unlinked) < len(new):
            hooks.events_recorded.call_on_commit(sorted(changed))
    result.stored = len(new)
    return result


def _validate(messages, received_at, result, *, text_checked) -> list:
    valid = []
    for index, raw in enumerate(messages):
        try:
            if not text_checked:
                parsing.check_values(raw)
            if parsing.message_size(raw) > parsing.MAX_MESSAGE_BYTES:
                raise parsing.Invalid(
                    "message_too_large",
                    f"A message may be at most {parsing.MAX_MESSAGE_BYTES // 1024} KB.",
                )
            valid.append(parsing.parse_message(raw, index=index, received_at=received_at))
        except parsing.Invalid as exc:
            result.rejected += 1
            if len(result.errors) < MAX_ERRORS_LISTED:
                result.errors.append({"index": index, "code": exc.code, "message": exc.message})
    result.accepted = len(valid)
    return valid


def _without_erased_addresses(messages: list) -> list:
    """Identify calls for an erased address (leads.privacy) are dropped whole, unstored: the
    address is not added again, nor what came with it. Their addresses stay locked (shared)
    to the end of the transaction, so an erasure in progress is waited for."""
    emails = {
        email
        for m in messages
        if m.type == EventType.IDENTIFY and (email := trait_map.email_of(m.traits))
    }
    if not emails:
        return messages
    lead_privacy.emails_lock(emails)
    erased = lead_privacy.emails_erased(emails)
    if not erased:
        return messages
    # The batch's other messages with the same ids go too (the events an SDK sends with its
    # identify). Acknowledged like a message id sent before (accepted, not stored): the answer
    # does not tell whoever holds a write key which addresses were erased.
    dropped = [m for m in messages if trait_map.email_of(m.traits) in erased]
    ids = {i for m in dropped for i in (m.user_id, m.anonymous_id) if i}
    return [m for m in messages if m not in dropped and not ({m.user_id, m.anonymous_id} & ids)]


def _erase_again_if_erased(lead_ids: set[int]) -> None:
    """An erasure that ran while this batch was being written has not seen it: the leads are
    read again under a lock that waits for an erasure in progress, and what this batch wrote
    to an erased one (events, identities) is erased again. Lead fields are safe already (the
    updates skip erased leads)."""
    for lead_id in lead_privacy.leads_erased_locked(lead_ids):
        event_privacy.lead_events_erase(lead_id=lead_id)


def _store(*, source: Source, messages: list, received_at: datetime) -> tuple[list, list, set[int]]:
    """Insert the messages, skipping known message ids. Returns (new messages, new unlinked,
    the leads the new ones were linked to)."""
    inserted = _insert(source, messages, received_at) if messages else {}
    linked = {lead_id for lead_id in inserted.values() if lead_id is not None}
    new, unlinked = [], []
    for message in messages:
        # pop: a message id repeated within the batch is stored (and applied) once.
        lead_id = inserted.pop(message.message_id, _SEEN)
        if lead_id is _SEEN:
            continue
        new.append(message)
        if lead_id is None:
            unlinked.append(message)
    return new, unlinked, linked


_SEEN = object()  # not inserted now: a message id this source sent before


_COLUMNS = (
    "source_id",
    "message_id",
    "type",
    "name",
    "lead_id",
    "user_id",
    "anonymous_id",
    "previous_id",
    "group_id",
    "properties",
    "traits",
    "context",
    "occurred_at",
    "received_at",
)


_PG_TYPES = {
    "source_id": "bigint",
    "message_id": "varchar",
    "type": "varchar",
    "name": "varchar",
    "lead_id": "bigint",
    "user_id": "varchar",
    "anonymous_id": "varchar",
    "previous_id": "varchar",
    "group_id": "varchar",
    "properties": "jsonb",
    "traits": "jsonb",
    "context": "jsonb",
    "occurred_at": "timestamptz",
    "received_at": "timestamptz",
}


def _rows(source, messages, received_at) -> list[dict[str, Any]]:
    """The messages as `_insert`'s rows (what the buffer keeps, too)."""
    return [
        {
            "seq": seq,
            "source_id": source.pk,
            "message_id": m.message_id,
            "type": m.type,
            "name": m.name,
            "user_id": m.user_id,
            "anonymous_id": m.anonymous_id,
            "previous_id": m.previous_id,
            "group_id": m.group_id,
            "properties": m.properties,
            "traits": m.traits,
            "context": m.context,
            "occurred_at": m.occurred_at,
            "received_at": received_at,
        }
        for seq, m in enumerate(messages)
    ]


def _insert(source, messages, received_at) -> dict[str, int | None]:
    """One statement: resolve each event's lead, insert, queue the linked ones for scoring.

    The batch goes in as one JSON parameter, unpacked by jsonb_to_recordset: a VALUES list
    would send 14 literals a row for the server to parse and plan, which cost more than the
    insert itself. The lead is looked up in the same statement (a userId's link, else a lead
    created with that external_id, else the anonymousId's link), which saves a round trip and
    a hundred parameters a request. INSERT ... ON CONFLICT DO NOTHING RETURNING says which
    rows are new (bulk_create cannot), and only new rows go on to identity handling and
    scoring. Returns message id -> lead id (None: not linked yet) of the new rows.
    """
    rows = _rows(source, messages, received_at)
    return _insert_rows(rows, browser=source.kind == SourceKind.BROWSER)


def events_buffer_drain() -> int:
    """Store what waits in the buffer (events/buffer.py), in batches; the rows new to the
    database. A worker task (kicked by the first row, swept by beat)."""
    return buffer.drain(events_store_buffered)


def _insert_rows(rows: list[dict[str, Any]], *, browser: bool) -> dict[str, int | None]:
    sql, lead_params = _insert_statement(browser=browser)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*lead_params, jsonfast.dumps(rows)])
        return dict(cursor.fetchall())


def events_store_buffered(rows: list[dict[str, Any]]) -> int:
    """Store rows the buffer accepted (browser keys' page views and tracks, each with its own
    source and received_at; events/buffer.py), in one transaction, as `events_ingest` would
    have stored each: a message id its source sent before is skipped, an event whose visitor
    is linked joins the lead and scoring's queue. Returns how many were new."""
    for seq, row in enumerate(rows):
        row["seq"] = seq  # the buffer's order (a row's own seq was its request's)
    with transaction.atomic():
        inserted = _insert_rows(rows, browser=True)
        linked = {lead_id for lead_id in inserted.values() if lead_id is not None}
        _erase_again_if_erased(linked)
        if linked:
            hooks.events_recorded.call_on_commit([])
        # An identify linking one of these visitors may commit while this transaction runs:
        # our insert did not see its link, and its own look for waiting events (after its
        # commit) did not see our rows. Looking again once ours commits closes that gap, as
        # for a batch (identity.link_orphans: one query when nothing waits).
        waiting = {
            row["anonymous_id"]
            for row in rows
            if row["anonymous_id"] and inserted.get(row["message_id"], 0) is None
        }
        if waiting:
            transaction.on_commit(
                partial(_link_after_commit, user_ids=set(), anonymous_ids=waiting), robust=True
            )
    return len(inserted)


@cache
def _insert_statement(*, browser: bool) -> tuple[str, tuple[str, ...]]:
    """`_insert`'s statement and its leading parameters for a kind of key, built once (it runs
    on every ingest request)."""
    table = Event._meta.db_table
    given = [c for c in _COLUMNS if c != "lead_id"]
    record = ", ".join(["seq integer", *(f"{c} {_PG_TYPES[c]}" for c in given)])
    # Which lead each event belongs to: the one rule of its kind of key, looked up inside this
    # statement (a browser key's events: a trusted anonymousId link or one it made itself).
    if browser:
        lead, lead_params = identity.lead_of_browser_ids_sql("x.anonymous_id", "x.source_id")
    else:
        lead, lead_params = identity.lead_of_ids_sql("x.user_id", "x.anonymous_id")
    select = ", ".join(f"r.{c}" for c in _COLUMNS)
    sql = (
        f"WITH new AS (INSERT INTO {table} ({', '.join(_COLUMNS)}) SELECT {select} FROM "
        f"(SELECT x.*, {lead} AS lead_id FROM jsonb_to_recordset(%s::jsonb) "
        f"AS x({record}) OFFSET 0) r "
        # The foreign-key checks at commit lock each referenced lead (FOR KEY SHARE) in
        # row order; in lead id order, as scoring locks leads, the two cannot deadlock.
        # (Then batch order: of a message id repeated in the batch, the first is stored.)
        "ORDER BY r.lead_id NULLS FIRST, r.seq "
        "ON CONFLICT (source_id, message_id) DO NOTHING RETURNING message_id, id, lead_id), "
        # The new linked events join scoring's queue in the same statement.
        f"queued AS (INSERT INTO {PendingEvent._meta.db_table} (event_id) "
        "SELECT id FROM new WHERE lead_id IS NOT NULL) SELECT message_id, lead_id FROM new"
    )
    return sql, tuple(lead_params)


def orphans_relink(*, since: datetime) -> int:
    """Link events still waiting for ids that became known since `since`; see identity."""
    return identity.orphans_relink(since=since)


def _link_after_commit(*, user_ids, anonymous_ids, known=None) -> None:
    # No transaction: usually a single SELECT finding nothing, else one UPDATE per lead.
    extra = {"known": known} if known else {}
    if identity.link_orphans(user_ids=user_ids, anonymous_ids=anonymous_ids, **extra):
        hooks.events_recorded.call_on_commit([])  # events joined leads: scoring has work


# --- Sources and write keys ---------------------------------------------------------------------

# What a source's manager (the API, the command) may set besides its kind.
SOURCE_FIELDS = frozenset(
    {"name", "allowed_origins", "is_active", "rate_limit_per_minute", "consent_policy"}
)
MAX_ORIGINS = 50
RATE_LIMIT_MAX = 1_000_000  # requests a minute; null is the kind's default
_NAME_MAX = 100
# The policy a new source gets unless told: a backend collected consent (today's behaviour),
# a web page did not.
DEFAULT_CONSENT = {
    SourceKind.SERVER: ConsentPolicy.COLLECTED,
    SourceKind.BROWSER: ConsentPolicy.NEEDED,
}


class SourceError(ApiError):
    """A source change refused (400 `invalid`), naming the field it concerns."""

    default_code = "invalid"
    default_detail = "That source change is not valid."

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message, fields={field: [message]} if field else None)


class DuplicateSourceName(Conflict):
    default_code = "duplicate_name"
    default_detail = "A source with this name already exists."


def _digest(write_key: str) -> str:
    return hashlib.sha256(write_key.encode("utf-8")).hexdigest()


def _new_key() -> str:
    return WRITE_KEY_PREFIX + secrets.token_urlsafe(24)


def _authorize(actor: User | None) -> None:
    if actor is not None:  # None: the system (management commands, demo data)
        selectors.source_manage_authorize(actor=actor)


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields given, checked and normalised (origins in the form browsers send them)."""
    data = dict(fields)
    if "name" in data:
        data["name"] = (data["name"] or "").strip()
        if not data["name"]:
            raise SourceError("A source needs a name.", field="name")
        if len(data["name"]) > _NAME_MAX:
            raise SourceError(f"A name may be at most {_NAME_MAX} characters.", field="name")
    if "allowed_origins" in data:
        data["allowed_origins"] = _origins(list(data["allowed_origins"] or []))
    limit = data.get("rate_limit_per_minute")
    if limit is not None and not (isinstance(limit, int) and 1 <= limit <= RATE_LIMIT_MAX):
        raise SourceError(
            f"rate_limit_per_minute is 1 to {RATE_LIMIT_MAX:,}, or null for the kind's default.",
            field="rate_limit_per_minute",
        )
    if "consent_policy" in data and data["consent_policy"] not in ConsentPolicy.values:
        raise SourceError("consent_policy is collected or needed.", field="consent_policy")
    return data


def _origins(values: list[str]) -> list[str]:
    try:
        found = origins.origins_normalise(values)
    except origins.InvalidOrigin as exc:
        raise SourceError(str(exc), field="allowed_origins") from None
    if len(found) > MAX_ORIGINS:
        raise SourceError(f"At most {MAX_ORIGINS} origins a source.", field="allowed_origins")
    return found


def _check_origins(kind: str, allowed: list[str]) -> None:
    if kind == SourceKind.BROWSER and not allowed:
        raise SourceError(
            "A browser source needs at least one allowed origin (https://www.example.com).",
            field="allowed_origins",
        )
    if kind == SourceKind.SERVER and allowed:
        raise SourceError(
            "Only browser sources have allowed origins: a server key never sits in a page.",
            field="allowed_origins",
        )


def _check_name_free(name: str, *, exclude_id: int | None = None) -> None:
    others = Source.objects.exclude(pk=exclude_id) if exclude_id else Source.objects.all()
    if others.filter(name=name).exists():
        raise DuplicateSourceName(
            f"A source named {name!r} already exists.",
            fields={"name": ["A source with this name already exists."]},
        )


def _save(source: Source, **kwargs: Any) -> None:
    """Save, a lost race on the unique name answered as the check above would have."""
    try:
        with transaction.atomic():
            source.save(**kwargs)
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "") or ""
        if "name" in constraint:
            _check_name_free(source.name, exclude_id=source.pk)
        raise


@transaction.atomic
def source_create(
    *,
    name: str,
    kind: str = SourceKind.SERVER,
    allowed_origins: list[str] | tuple[str, ...] = (),
    is_active: bool = True,
    rate_limit_per_minute: int | None = None,
    consent_policy: str | None = None,
    actor: User | None = None,
) -> tuple[Source, str]:
    """A new source and its write key. The key is returned once; only its digest is kept.

    A browser source needs at least one allowed origin (normalised to what browsers send in
    `Origin`); a server source has none. The consent policy defaults by kind: server
    "collected", browser "needed". `actor=None` is the system (the command).
    """
    _authorize(actor)
    if kind not in SourceKind.values:
        raise SourceError("kind is server or browser.", field="kind")
    data = _clean(
        {
            "name": name,
            "allowed_origins": allowed_origins,
            "rate_limit_per_minute": rate_limit_per_minute,
            "consent_policy": consent_policy or DEFAULT_CONSENT[SourceKind(kind)],
        }
    )
    _check_origins(kind, data["allowed_origins"])
    _check_name_free(data["name"])
    key = _new_key()
    source = Source(
        **data,
        kind=kind,
        is_active=is_active,
        disabled_at=None if is_active else timezone.now(),
        write_key_digest=_digest(key),
        write_key_prefix=key[:12],
    )
    _save(source, force_insert=True)
    _audit(actor, "source.create", source, {}, {**data, "kind": kind, "is_active": is_active})
    return source, key


def _audit(actor: User | None, action: str, source: Source, before: dict, after: dict) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="source",
        object_id=source.pk,
        object_label=source.name,
        changes=changes_between(before, after),
    )


def _locked_external(source: Source) -> Source:
    locked = Source.objects.select_for_update().get(pk=source.pk)
    if locked.internal:
        raise SourceError(f"{locked.name!r} is internal and has no write key.")
    return locked


@transaction.atomic
def source_update(*, source: Source, actor: User | None = None, **fields: Any) -> Source:
    """Change a source's name, allowed origins, active flag, rate limit or consent policy.

    `kind` may be sent back unchanged but never changed: a browser key's events and links were
    stored under its rules. A browser source keeps at least one origin. Internal sources are
    the app's own and are refused. Returns the source as saved.
    """
    _authorize(actor)
    unknown = sorted(set(fields) - SOURCE_FIELDS - {"kind"})
    if unknown:
        raise ValueError(f"source_update does not set: {', '.join(unknown)}")
    locked = _locked_external(source)
    kind = fields.pop("kind", locked.kind)
    if kind != locked.kind:
        raise SourceError(
            "A source's kind is set when it is created: make a new source instead.", field="kind"
        )
    data = _clean(fields)
    _check_origins(locked.kind, data.get("allowed_origins", locked.allowed_origins))
    changed = {name: value for name, value in data.items() if getattr(locked, name) != value}
    if "name" in changed:
        _check_name_free(changed["name"], exclude_id=locked.pk)
    if "is_active" in changed:
        changed["disabled_at"] = None if changed["is_active"] else timezone.now()
    before = {name: getattr(locked, name) for name in changed}
    for name, value in changed.items():
        setattr(locked, name, value)
    if changed:
        _save(locked, update_fields=list(changed))
        # Ingestion's cached copy (events.selectors.source_for_write_key) goes once committed.
        transaction.on_commit(selectors.source_cache_clear)
        _audit(actor, "source.update", locked, before, changed)
    return locked


@transaction.atomic
def source_rotate_key(*, source: Source, actor: User | None = None) -> str:
    """Replace a source's write key (the old one stops working at once) and enable it."""
    _authorize(actor)
    locked = _locked_external(source)
    key = _new_key()
    Source.objects.filter(pk=locked.pk).update(
        write_key_digest=_digest(key), write_key_prefix=key[:12], is_active=True, disabled_at=None
    )
    transaction.on_commit(selectors.source_cache_clear)  # the old key stops here at once
    _audit(actor, "source.rotate_key", locked, {}, {})
    return key


@transaction.atomic
def source_set_active(*, source: Source, active: bool, actor: User | None = None) -> Source:
    """Enable or disable a source's key (a disabled key gets 401); disabling stamps when."""
    return source_update(source=source, actor=actor, is_active=active)


def source_internal(name: str) -> Source:
    """Get or create the internal source `name` for events the app produces (e.g. "email").

    Should a write-key source already be called `name`, the internal one is "`name` (internal)":
    a source created by hand must never break the app's own events. Kept in this process once
    committed (an internal source never changes), so the app's own events look it up once.
    """
    cached = selectors.internal_source_cached(name)
    if cached is not None:
        return cached
    source = _source_internal(name)
    transaction.on_commit(partial(selectors.internal_source_remember, name, source))
    return source


def _source_internal(name: str) -> Source:
    for candidate in (name, f"{name} (internal)"):
        source = Source.objects.filter(name=candidate).first()
        if source is None:
            with transaction.atomic():
                source, _ = Source.objects.get_or_create(
                    name=candidate,
                    defaults={
                        "internal": True,
                        # A digest of a secret nobody is shown: no key can ever match it.
                        "write_key_digest": _digest(secrets.token_hex(32)),
                        "write_key_prefix": "internal",
                    },
                )
        if source.internal:
            return source
    raise SourceError(f"{name!r} and {name!r} (internal) are both write-key sources.")


# --- Events the app records itself, for a lead it already knows ----------------------------------


@transaction.atomic(savepoint=False)
def lead_event_record(
    *,
    lead: Lead,
    source: Source,
    name: str,
    message_id: str,
    properties: dict,
    occurred_at: datetime | None = None,
) -> bool:
    """Record a track event of `lead` (an email opened, a link clicked), queued for scoring.

    The app already knows the lead, so nothing is resolved from ids: the event is stored linked
    to it. `message_id` is the idempotency key within `source`: a second call with the same key
    stores nothing and returns False. Scoring is asked for after the commit, as for ingestion.

    One statement (a form submission's hot path): the insert skips a known message id (ON
    CONFLICT DO NOTHING, so a concurrent duplicate fails nothing, not even the caller's
    transaction) and queues the new row for scoring in the same statement.
    """
    now = timezone.now()
    events, queue = Event._meta.db_table, PendingEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH new AS (INSERT INTO {events} (source_id, message_id, type, name, lead_id, "
            "user_id, anonymous_id, previous_id, group_id, properties, traits, context, "
            "occurred_at, received_at) VALUES "
            "(%s, %s, %s, %s, %s, %s, '', '', '', %s::jsonb, '{}', '{}', %s, %s) "
            "ON CONFLICT (source_id, message_id) DO NOTHING RETURNING id), "
            f"queued AS (INSERT INTO {queue} (event_id) SELECT id FROM new) "
            "SELECT count(*) FROM new",
            [
                source.pk,
                message_id,
                EventType.TRACK,
                name,
                lead.pk,
                lead.external_id or "",
                jsonfast.dumps(properties),
                occurred_at or now,
                now,
            ],
        )
        (inserted,) = cursor.fetchone()
    if not inserted:
        return False
    hooks.events_recorded.call_on_commit([lead.pk])
    return True


# --- Merging duplicates (the hand-off merges; it decides who may) --------------------------------


def events_move_to_lead(*, from_lead_id: int, to_lead_id: int) -> int:
    """Give one lead's events to another; their scoring queue rows (keyed by event) follow.
    The caller re-scores the kept lead. Returns how many events moved."""
    return Event.objects.filter(lead_id=from_lead_id).update(lead_id=to_lead_id)


def identities_move_to_lead(*, from_lead_id: int, to_lead_id: int) -> int:
    """Give one lead's userIds and anonymousIds to another, so later events join the kept lead."""
    return Identity.objects.filter(lead_id=from_lead_id).update(lead_id=to_lead_id)


# --- Linking an anonymous id the app learnt itself (a form carried it) ---------------------------


@transaction.atomic(savepoint=False)
def lead_anonymous_id_link(*, lead_id: int, anonymous_id: str) -> bool:
    """Link an analytics anonymousId to a lead the app already knows (a form submission carried
    it), so the page views made under that id join the lead and are scored.

    The first link of an id wins: an id already linked to another lead stays that lead's (False
    is returned, nothing changes). The events waiting for it are linked in this transaction.
    True when the id is this lead's. Two statements in the usual case (a form submission's hot
    path).
    """
    anonymous_id = anonymous_id.strip()
    if not anonymous_id:
        return False
    identities, events = Identity._meta.db_table, Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {identities} (kind, value, lead_id, created_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (kind, value) DO NOTHING RETURNING lead_id",
            [IdentityKind.ANONYMOUS, anonymous_id, lead_id, timezone.now()],
        )
        if cursor.fetchone() is None:
            owner = Identity.objects.filter(kind=IdentityKind.ANONYMOUS, value=anonymous_id)
            if owner.values_list("lead_id", flat=True).first() != lead_id:
                return False
        # Only this lead's id: the lead is known, so no lookup through the identity rule.
        cursor.execute(
            f"UPDATE {events} SET lead_id = %s WHERE lead_id IS NULL AND anonymous_id = %s "
            "RETURNING id",
            [lead_id, anonymous_id],
        )
        linked = [row[0] for row in cursor.fetchall()]
    # An event of this id that a concurrent ingest commits after the UPDATE above waits for
    # the scoring sweep, which links the waiting events of ids linked since its last run.
    if linked:
        pending.events_queue_for_scoring(event_ids=linked)
        hooks.events_recorded.call_on_commit([lead_id])
    return True
