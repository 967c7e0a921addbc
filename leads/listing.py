"""Reads of the lead list: its filters and sorts, keyset pages, a capped count, the leads of a
bulk action in batches, and the rows of the CSV export. Always scoped by who asks
(`selectors.lead_visible_q`).

Nothing here counts or loads the whole table: a page is the next `PAGE_SIZE` rows after a cursor
on (sort value, id), which an index range scan finds at any depth; the count stops at
`COUNT_CAP`; a bulk action walks its leads by id, `BATCH` at a time; the export streams from a
server-side cursor.
"""

import base64
import binascii
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Case, CharField, F, Func, Q, QuerySet, Value, When
from django.db.models.functions import Concat
from django.http import QueryDict
from django.utils.dateparse import parse_datetime

from accounts.models import Role, User
from core.errors import ApiError
from leads.filters import LeadFilter
from leads.models import Lead
from leads.selectors import lead_visible_q

PAGE_SIZE = 50
# The list says "1,000+" beyond this: counting every match of a filter over 100,000 leads
# would cost more than the page itself.
COUNT_CAP = 1000
# Leads per transaction of a bulk action over a whole filter.
BATCH = 500

# The page's `sort` keys (a leading "-": descending) and the column each sorts on; ties are
# broken by id in the same direction, so every row has one place.
SORTS: dict[str, str] = {
    "created": "created_at",
    "score": "score",
    "stage_entered": "stage_entered_at",
    "name": "last_name",
    "company": "company_name",
}
SORT_LABELS: list[tuple[str, str]] = [
    ("-created", "Newest first"),
    ("created", "Oldest first"),
    ("-score", "Highest score"),
    ("score", "Lowest score"),
    ("-stage_entered", "Latest stage change"),
    ("stage_entered", "Longest in stage"),
    ("name", "Name A-Z"),
    ("-name", "Name Z-A"),
    ("company", "Company A-Z"),
    ("-company", "Company Z-A"),
]
DEFAULT_SORT = "-created"
_DATETIME_FIELDS = {"created_at", "stage_entered_at"}
# Query parameters that are not filters: kept by saved views (sort) or dropped (the rest).
LIST_PARAMS = {"sort"}


@dataclass(frozen=True)
class Sort:
    key: str
    field: str
    descending: bool

    @property
    def order_by(self) -> tuple[str, str]:
        sign = "-" if self.descending else ""
        return (f"{sign}{self.field}", f"{sign}id")

    @property
    def param(self) -> str:
        return f"{'-' if self.descending else ''}{self.key}"


def sort_parse(value: str | None) -> Sort:
    """The sort a `sort` parameter names; an unknown one is the default (newest first)."""
    value = (value or "").strip()
    key = value.removeprefix("-")
    if key not in SORTS:
        return sort_parse(DEFAULT_SORT)
    return Sort(key=key, field=SORTS[key], descending=value.startswith("-"))


# --- Cursors ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A position between two rows: after (or, `backwards`, before) the row (value, id)."""

    value: Any
    id: int
    backwards: bool = False

    def encode(self, sort: Sort) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        raw = json.dumps([sort.param, value, self.id, self.backwards], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_parse(token: str | None, sort: Sort) -> Cursor | None:
    """The cursor a `cursor` parameter carries, or None (the first page) when there is none, it
    is damaged, or it was made for another sort."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        param, value, lead_id, backwards = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        return None
    if param != sort.param or not isinstance(lead_id, int) or not isinstance(backwards, bool):
        return None
    value = _cursor_value(sort, value)
    return None if value is None else Cursor(value=value, id=lead_id, backwards=backwards)


def _cursor_value(sort: Sort, value: Any) -> Any:
    if sort.field in _DATETIME_FIELDS:
        parsed = parse_datetime(value) if isinstance(value, str) else None
        return parsed if parsed is not None and parsed.tzinfo is not None else None
    if sort.field == "score":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return value if isinstance(value, str) else None


def _after(sort: Sort, cursor: Cursor) -> Q:
    """Rows that come after the cursor in the direction of reading. The first, redundant term
    (value <= / >= the cursor's) is what lets PostgreSQL start an index scan at the cursor
    instead of filtering every row before it."""
    down = sort.descending != cursor.backwards
    op = "lt" if down else "gt"
    column = sort.field
    return Q(**{f"{column}__{op}e": cursor.value}) & (
        Q(**{f"{column}__{op}": cursor.value}) | Q(**{column: cursor.value, f"id__{op}": cursor.id})
    )


# --- The list ---------------------------------------------------------------------------------


def lead_filter(*, user: User, params: QueryDict) -> LeadFilter:
    """The list's filter over the leads `user` may see (call `.is_valid()`, then `.qs`)."""
    visible = Lead.objects.filter(lead_visible_q(user))
    return LeadFilter(data=params, queryset=visible)


@dataclass
class LeadPage:
    leads: list[Lead]
    sort: Sort
    next: str | None
    previous: str | None
    count: int
    count_capped: bool

    @property
    def count_label(self) -> str:
        return f"{self.count:,}+" if self.count_capped else f"{self.count:,}"


def lead_page(*, leads: QuerySet[Lead], sort: Sort, cursor: Cursor | None, size: int) -> LeadPage:
    """One page of `leads` (already filtered and scoped) in `sort` order, after `cursor`: two
    queries (the rows with their owners, a count capped at COUNT_CAP), whatever the depth."""
    rows = leads.select_related("owner")
    if cursor is not None:
        rows = rows.filter(_after(sort, cursor))
    reading = Sort(sort.key, sort.field, sort.descending != bool(cursor and cursor.backwards))
    found = list(rows.order_by(*reading.order_by)[: size + 1])
    more = len(found) > size
    found = found[:size]
    if cursor is not None and cursor.backwards:
        found.reverse()
    count = leads.order_by()[: COUNT_CAP + 1].count()
    return LeadPage(
        leads=found,
        sort=sort,
        next=_link(sort, found[-1], backwards=False) if found and (more or _back(cursor)) else None,
        previous=_link(sort, found[0], backwards=True)
        if found and cursor is not None and (more or not cursor.backwards)
        else None,
        count=min(count, COUNT_CAP),
        count_capped=count > COUNT_CAP,
    )


def _back(cursor: Cursor | None) -> bool:
    return cursor is not None and cursor.backwards


def _link(sort: Sort, lead: Lead, *, backwards: bool) -> str:
    return Cursor(getattr(lead, sort.field), lead.pk, backwards).encode(sort)


@dataclass
class LeadList:
    """What the list page shows: the bound filter (its form, its errors), the page (None while
    the filters are invalid), and the query of the filters (`filters`) and with the sort."""

    filter: LeadFilter
    page: LeadPage | None
    sort: Sort
    filters: QueryDict
    query: QueryDict

    @property
    def selected(self) -> dict[str, list[str]]:
        """Each filter's values (the page's checkboxes)."""
        return dict(self.filters.lists())

    @property
    def export_query(self) -> str:
        """The CSV export's query of these filters, in this sort (the API names it `ordering`)."""
        query = self.filters.copy()
        query["ordering"] = ",".join(self.sort.order_by)
        return query.urlencode()

    @property
    def active_more(self) -> int:
        """How many filters beyond search, stage and owner are set (the "More filters" part)."""
        main = {"q", "stage", "owner", "unowned"}
        return len([name for name in self.filters if name not in main])


def list_query(params: QueryDict, *, sort: bool = True, ids: bool = False) -> QueryDict:
    """The filters of `params` (and its sort): its known, non-empty parameters, in a stable
    order, without the cursor. What a saved view stores and every link of the list carries."""
    names = [name for name in LeadFilter.base_filters if ids or name != "id"]
    names += sorted(LIST_PARAMS) if sort else []
    query = QueryDict(mutable=True)
    for name in names:
        values = [value.strip() for value in params.getlist(name) if value.strip()]
        if name == "sort" and values == [DEFAULT_SORT]:
            continue  # the default needs no saying
        if values:
            query.setlist(name, values)
    return query


def lead_list(*, user: User, params: QueryDict, size: int | None = None) -> LeadList:
    """The list page's data for `user`: filters, sort and cursor from `params`."""
    filterset = lead_filter(user=user, params=list_query(params, ids=True))
    sort = sort_parse(params.get("sort"))
    page = None
    if filterset.is_valid():
        cursor = cursor_parse(params.get("cursor"), sort)
        page = lead_page(leads=filterset.qs, sort=sort, cursor=cursor, size=size or PAGE_SIZE)
    return LeadList(
        filter=filterset,
        page=page,
        sort=sort,
        filters=list_query(params, sort=False),
        query=list_query(params),
    )


def owner_choices() -> list[tuple[int, str]]:
    """Who may own a lead (active reps and admins), for the owner filter: (id, name)."""
    users = User.objects.filter(is_active=True).filter(
        Q(role__in=[Role.REP, Role.ADMIN]) | Q(is_superuser=True)
    )
    return [
        (user.pk, user.get_full_name() or user.get_username())
        for user in users.order_by("username").only("pk", "username", "first_name", "last_name")
    ]


# --- Bulk actions and the export ----------------------------------------------------------------


SCOPE_SELECTED = "selected"
SCOPE_FILTER = "filter"


@dataclass
class BulkTarget:
    """The leads a bulk action acts on, and the query that names them again (for a task that
    runs later, with the actor's visibility at that time)."""

    scope: str
    leads: QuerySet[Lead]
    query: str

    @property
    def selected(self) -> bool:
        return self.scope == SCOPE_SELECTED


def bulk_target(*, user: User, data: QueryDict) -> BulkTarget:
    """The leads of a bulk action's form: `scope=selected` (the default) the checked `id`s, or
    `scope=filter` every lead the filters match (the ids are ignored); only leads `user` may
    see, either way. 400 (`invalid`) on bad filters, `nothing_selected` on an empty selection."""
    scope = data.get("scope") or SCOPE_SELECTED
    if scope not in (SCOPE_SELECTED, SCOPE_FILTER):
        raise ApiError("Choose the selected leads or the whole filter.", code="invalid")
    query = list_query(data, sort=False, ids=scope == SCOPE_SELECTED)
    if scope == SCOPE_SELECTED and not query.getlist("id"):
        raise ApiError(
            "Select some leads first, or choose every lead matching the filter.",
            code="nothing_selected",
        )
    return BulkTarget(
        scope=scope, leads=bulk_leads(user=user, query=query), query=query.urlencode()
    )


def bulk_leads(*, user: User, query: QueryDict | str) -> QuerySet[Lead]:
    """The leads `query` (the list's filters, `id`s included) names among those `user` may
    see; 400 (`invalid`, with the fields) when a filter is not valid."""
    params = QueryDict(query) if isinstance(query, str) else query
    filterset = lead_filter(user=user, params=params)
    if not filterset.is_valid():
        fields = {name: [str(e) for e in errors] for name, errors in filterset.errors.items()}
        raise ApiError(_first_error(fields), code="invalid", fields=fields)
    return filterset.qs


def _first_error(fields: dict[str, list[str]]) -> str:
    name, errors = next(iter(fields.items()))
    return f"{name}: {errors[0]}"


def bulk_return_url(data: QueryDict) -> str:
    """The list with the filters and sort a bulk form carried: where its action lands."""
    query = list_query(data).urlencode()
    return f"/leads/?{query}" if query else "/leads/"


@dataclass
class BulkOutcome:
    """What a bulk action did: how many leads it changed, how many it left and why (a reason
    each), and the reason it stopped early, if it did."""

    done: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    stopped: str = ""

    def add(self, other: "BulkOutcome") -> None:
        self.done += other.done
        self.skipped.update(other.skipped)
        self.stopped = self.stopped or other.stopped

    def summary(self, done: str) -> str:
        """E.g. "Assigned 3 leads; skipped 2 (not in the hand-off: 2)."."""
        text = f"{done} {self.done} lead{'' if self.done == 1 else 's'}"
        if self.skipped:
            reasons = ", ".join(f"{why}: {n}" for why, n in sorted(self.skipped.items()))
            text += f"; skipped {self.skipped.total()} ({reasons})"
        if self.stopped:
            text += f"; stopped: {self.stopped.rstrip('.')}"
        return text + "."

    def as_dict(self) -> dict[str, Any]:
        return {"done": self.done, "skipped": dict(self.skipped), "stopped": self.stopped}


def lead_ids_batches(leads: QuerySet[Lead], *, size: int = BATCH) -> Iterator[list[int]]:
    """The ids of `leads`, `size` at a time in id order: one short query a batch, constant
    memory, and leads added behind the walk are not missed nor seen twice."""
    last = 0
    while True:
        batch = list(leads.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
        if not batch:
            return
        yield batch
        last = batch[-1]


# The export's columns: (header, field, kind). The database formats every cell (see
# `_export_cell`), so the CSV writer gets plain values and writes them in C.
EXPORT_COLUMNS: list[tuple[str, str, str]] = [
    ("id", "id", "int"),
    ("email", "email", "text"),
    ("first_name", "first_name", "text"),
    ("last_name", "last_name", "text"),
    ("title", "title", "text"),
    ("phone", "phone", "text"),
    ("country", "country", "text"),
    ("company_name", "company_name", "text"),
    ("company_domain", "company_domain", "text"),
    ("company_size", "company_size", "int"),
    ("source", "source", "text"),
    ("utm_source", "utm_source", "text"),
    ("utm_medium", "utm_medium", "text"),
    ("utm_campaign", "utm_campaign", "text"),
    ("stage", "stage", "text"),
    ("stage_entered_at", "stage_entered_at", "datetime"),
    ("score", "score", "int"),
    ("temperature", "temperature", "text"),
    ("owner", "owner__username", "text"),
    ("do_not_contact", "do_not_contact", "bool"),
    ("consent", "consent", "text"),
    ("created_at", "created_at", "datetime"),
]
# Rows fetched from the server-side cursor at a time.
EXPORT_CHUNK = 2000
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such a
# text cell is written with a leading apostrophe, which spreadsheets show as text.
_FORMULA_START = r"^[-=+@\t\r]"
# ISO 8601 with microseconds and the offset (the connection's time zone is UTC).
_ISO_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'


def _export_cell(field: str, kind: str):
    if kind == "datetime":
        return Func(F(field), Value(_ISO_FORMAT), function="to_char", output_field=CharField())
    if kind == "bool":
        return Case(When(**{field: True}, then=Value("true")), default=Value("false"))
    if kind == "text":
        return Case(
            When(**{f"{field}__regex": _FORMULA_START}, then=Concat(Value("'"), F(field))),
            default=F(field),
            output_field=CharField(),
        )
    return F(field)


def lead_export_rows(leads: QuerySet[Lead]) -> Iterator[tuple]:
    """The export's rows of `leads` (filtered, scoped, ordered), as tuples in EXPORT_COLUMNS'
    order with every cell formatted by the database, streamed from a server-side cursor: no
    model instances, constant memory."""
    cells = {f"cell_{n}": _export_cell(f, kind) for n, (_, f, kind) in enumerate(EXPORT_COLUMNS)}
    return leads.annotate(**cells).values_list(*cells).iterator(chunk_size=EXPORT_CHUNK)
