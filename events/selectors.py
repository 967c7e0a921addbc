"""Reads of events and sources."""

import hashlib
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Count, Max, QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from core.errors import Forbidden
from events import cors
from events.models import Event, EventType, Source, SourceKind
from leads.models import Lead

TIMELINE_LIMIT = 200


def source_for_write_key(*, write_key: str) -> Source | None:
    """The active, non-internal source this write key belongs to, or None.

    Kept in this process for INGEST_SOURCE_CACHE_SECONDS (a browser sends one event a request,
    and the lookup was a round trip of its own on each): a change made through
    events.services (disable, rotate, origins, limits) empties this process's cache when it
    commits, and reaches the other processes within that many seconds. Only keys that match
    are kept, so wrong keys cannot fill the cache; the returned Source is shared: read it,
    never change it.
    """
    if not write_key:
        return None
    digest = hashlib.sha256(write_key.encode("utf-8")).hexdigest()
    now = _clock()
    cached = _by_digest.get(digest)
    if cached is not None and cached[0] > now:
        return cached[1]
    # A plain cursor: the ORM's query building, or even a raw queryset's, costs more than the
    # lookup itself.
    with connection.cursor() as cursor:
        cursor.execute(_SOURCE_BY_DIGEST, [digest])
        row = cursor.fetchone()
    if row is None:
        _by_digest.pop(digest, None)
        return None
    source = Source.from_db(DEFAULT_DB_ALIAS, _SOURCE_COLUMNS, row)
    seconds = settings.INGEST_SOURCE_CACHE_SECONDS
    if seconds > 0:
        if len(_by_digest) >= _CACHE_MAX:
            _by_digest.clear()
        _by_digest[digest] = (now + seconds, source)
    return source


def source_cache_clear() -> None:
    """Forget this process's cached sources (events.services calls it when one changes)."""
    _by_digest.clear()
    _internal.clear()


def internal_source_cached(name: str) -> Source | None:
    """The app's internal source `name` (events.services.source_internal), once remembered."""
    return _internal.get(name)


def internal_source_remember(name: str, source: Source) -> None:
    """Keep an internal source (committed: events.services calls this after the commit); an
    internal source is never changed nor deleted, so it is kept for the life of the process."""
    _internal[name] = source


_clock = time.monotonic  # tests replace it
# write key digest -> (expiry on _clock, source); a plain dict: only whole-item operations.
_by_digest: dict[str, tuple[float, Source]] = {}
_CACHE_MAX = 1000
_internal: dict[str, Source] = {}  # name -> the app's internal source of that name


_SOURCE_COLUMNS = [field.attname for field in Source._meta.concrete_fields]
_SOURCE_BY_DIGEST = (
    f"SELECT {', '.join(_SOURCE_COLUMNS)} FROM {Source._meta.db_table} "
    "WHERE write_key_digest = %s AND is_active AND NOT internal"
)


def origin_allowed_by_any_browser_source(*, origin: str | None) -> bool:
    """Whether some active browser source lists this origin: the preflight's question, asked
    before any write key can be seen (see events.cors). One query over the browser sources;
    the origins are compared normalized, in Python, as they are few."""
    if not origin or cors.origin_normalize(origin) is None:
        return False
    lists = Source.objects.filter(
        kind=SourceKind.BROWSER, is_active=True, internal=False
    ).values_list("allowed_origins", flat=True)
    return cors.origin_allowed(origin=origin, allowed=[o for origins in lists for o in origins])


def lead_events(*, lead: Lead, limit: int = TIMELINE_LIMIT) -> QuerySet[Event]:
    """A lead's latest events, newest first."""
    return lead.events.select_related("source").order_by("-occurred_at", "-id")[:limit]


def _title(event: Event) -> str:
    if event.type == EventType.TRACK:
        return event.name
    if event.type in (EventType.PAGE, EventType.SCREEN):
        return f"Viewed {event.type} {event.name}".rstrip()
    titles: dict[str, str] = {
        EventType.IDENTIFY: "Identified",
        EventType.GROUP: f"Joined group {event.group_id}",
        EventType.ALIAS: f"Alias {event.previous_id} → {event.user_id}",
    }
    return titles[event.type]


def event_timeline_items(lead: Lead) -> list[dict[str, Any]]:
    """The lead's events as timeline items (a `core.hooks.lead_timeline_items` receiver)."""
    return [
        {
            "kind": "event",
            "at": event.occurred_at,
            "title": _title(event),
            "detail": {
                "type": event.type,
                "name": event.name,
                "source": event.source.name,
                "properties": event.properties,
                "traits": event.traits,
                "message_id": event.message_id,
            },
        }
        for event in lead_events(lead=lead)
    ]


# --- Sources (the API's; ingestion finds its source by key above) -------------------------------


def source_manage_authorize(*, actor: User) -> None:
    """Sources and their keys: marketers and admins see and change them; nobody else."""
    if not actor.does_marketing:
        raise Forbidden("Only marketers and admins see and manage sources and their keys.")


def source_list(*, actor: User) -> QuerySet[Source]:
    """The sources with a write key, by name; the app's internal sources are not listed."""
    source_manage_authorize(actor=actor)
    return Source.objects.filter(internal=False).order_by("name", "pk")


def source_get(*, actor: User, source_id: int) -> Source:
    """A source with a write key; 404 for an internal one, as for one that does not exist."""
    try:
        return source_list(actor=actor).get(pk=source_id)
    except Source.DoesNotExist:
        raise Http404("No such source.") from None


# --- The sources page: what each key brought in lately -------------------------------------

SOURCE_DAYS = 30


def source_activity(*, source_ids: list[int], days: int = SOURCE_DAYS) -> dict[int, dict[str, Any]]:
    """Per source: events received on each of the last `days` days (oldest first, today last,
    in the site's zone) and the last event received in that time. One query over the events'
    `received_at` range (a BRIN index), grouped by source and day."""
    first = timezone.localdate() - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    rows = (
        Event.objects.filter(source_id__in=source_ids, received_at__gte=since)
        .annotate(day=TruncDate("received_at", tzinfo=timezone.get_current_timezone()))
        .values("source_id", "day")
        .annotate(n=Count("id"), last=Max("received_at"))
    )
    counts: dict[int, list[int]] = {source_id: [0] * days for source_id in source_ids}
    last: dict[int, datetime | None] = dict.fromkeys(source_ids)
    for row in rows:
        source_id = row["source_id"]
        counts[source_id][(row["day"] - first).days] = row["n"]
        seen = last[source_id]
        if seen is None or row["last"] > seen:
            last[source_id] = row["last"]
    activity: dict[int, dict[str, Any]] = {}
    for source_id in source_ids:
        per_day = [(first + timedelta(days=i), n) for i, n in enumerate(counts[source_id])]
        total = sum(counts[source_id])
        activity[source_id] = {"days": per_day, "last": last[source_id], "total": total}
    return activity
