from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.db import models


class SourceKind(models.TextChoices):
    SERVER = "server", "Server (secret key: a backend, imports; trusted)"
    BROWSER = "browser", "Browser (public key: in page source; allowed origins only)"


class ConsentPolicy(models.TextChoices):
    COLLECTED = "collected", "The sending system collected consent"
    NEEDED = "needed", "Consent needed before any email"


class Source(models.Model):
    """Where events come from (a website, the product, an import), with its write key.

    Only a SHA-256 digest of the key is stored; the key itself is shown once, at creation.
    Internal sources (events the app produces itself, such as email opens) have a digest of a
    random secret nobody was ever shown, and are refused by write-key authentication anyway.
    """

    name = models.CharField(max_length=100, unique=True)
    write_key_digest = models.CharField(max_length=64, unique=True)
    write_key_prefix = models.CharField(
        max_length=12, help_text="First characters, to tell keys apart."
    )
    is_active = models.BooleanField(default=True)
    internal = models.BooleanField(
        default=False, help_text="Events the app produces itself; no usable write key."
    )
    kind = models.CharField(max_length=8, choices=SourceKind.choices, default=SourceKind.SERVER)
    allowed_origins = ArrayField(
        models.CharField(max_length=200),
        default=list,
        blank=True,
        help_text="Browser sources: the origins (scheme://host[:port]) pages may send from.",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests a minute; empty: the default of its kind."
    )
    consent_policy = models.CharField(
        max_length=10, choices=ConsentPolicy.choices, default=ConsentPolicy.COLLECTED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["server", "browser"]), name="source_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(consent_policy__in=["collected", "needed"]),
                name="source_consent_policy_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EventType(models.TextChoices):
    IDENTIFY = "identify"
    TRACK = "track"
    PAGE = "page"
    SCREEN = "screen"
    GROUP = "group"
    ALIAS = "alias"


class Event(models.Model):
    """Append-only log of what leads did. Never updated except to link it to its lead."""

    # No single-column indexes on the two foreign keys: (source, message_id) and (lead,
    # occurred_at) lead with them, and every index costs each insert on the hot path.
    # No database constraint on the source either: its check would take a share lock on the
    # one source row for every event of every concurrent request. Sources are never deleted
    # (PROTECT, and they are disabled instead), so nothing can leave an event without one.
    source = models.ForeignKey(
        Source,
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    message_id = models.CharField(max_length=255)
    type = models.CharField(max_length=16, choices=EventType.choices)
    name = models.CharField(
        max_length=255, blank=True, help_text="Event name, or page/screen name."
    )
    lead = models.ForeignKey(
        "leads.Lead",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
    )
    user_id = models.CharField(max_length=255, blank=True)
    anonymous_id = models.CharField(max_length=255, blank=True)
    previous_id = models.CharField(max_length=255, blank=True, help_text="alias: the old id.")
    group_id = models.CharField(max_length=255, blank=True, help_text="group: the account id.")
    properties = models.JSONField(default=dict, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "message_id"], name="event_source_message_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["lead", "occurred_at"], name="event_lead_time"),
            # The retention job's range (events received before a cutoff): a BRIN index, a few
            # pages for millions of rows that arrive in time order, almost free on insert.
            # Summarised as each block range fills (autosummarize), not only by a later
            # VACUUM: an unsummarised range matches every query, so the sources page's last 30
            # days read the whole table until autovacuum came by.
            BrinIndex(fields=["received_at"], name="event_received_brin", autosummarize=True),
            # A lead's events of a type and name in a time range: scoring's capped rules and
            # PQL windows, and nurturing's "has not happened" checks. Scoring reads only these
            # columns for PQL, so its scans can be answered from the index alone.
            models.Index(
                fields=["lead", "type", "name", "occurred_at"], name="event_lead_type_name_time"
            ),
            # Ids are looked up only to join events that arrived before their lead was known
            # (and alias calls, to follow them later): indexing only those rows spares most
            # inserts two index updates.
            models.Index(
                fields=["user_id"],
                name="event_unlinked_user_id",
                condition=models.Q(lead__isnull=True),
            ),
            models.Index(
                fields=["anonymous_id"],
                name="event_unlinked_anonymous_id",
                condition=models.Q(lead__isnull=True),
            ),
            models.Index(
                fields=["user_id"], name="event_alias_user_id", condition=models.Q(type="alias")
            ),
            models.Index(
                fields=["previous_id"],
                name="event_alias_previous_id",
                condition=models.Q(type="alias"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name or ''} ({self.message_id})"


class PendingEvent(models.Model):
    """Scoring's queue: an event linked to a lead whose points are not counted yet.

    The row is written in the transaction that stores the event (or links it to its lead) and
    deleted in the scoring pass that counts it, so the event table itself stays append-only:
    marking millions of wide event rows "scored" would rewrite each one and every index on it.
    Never-linked anonymous events stay out, so they cannot pile up in front of the work.
    """

    # No database constraint: the row is written in the statement that inserts its event, and
    # the check would cost each event a share lock on its own row at commit. Scoring skips a
    # queued id whose event is gone; deleting events through the ORM deletes their rows here.
    event = models.OneToOneField(
        Event,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="pending",
        db_constraint=False,
    )

    def __str__(self) -> str:
        return f"event {self.event_id} awaiting scoring"


class IdentityKind(models.TextChoices):
    USER = "user", "userId"
    ANONYMOUS = "anonymous", "anonymousId"


class Identity(models.Model):
    """An id a source sends events with (a userId or an anonymousId), linked to its lead.

    Written by `identify` and `alias`; events carrying a known id are linked on arrival, and
    events that arrived before the link are joined to the lead when the link is made.
    """

    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    value = models.CharField(max_length=255)
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="identities")
    # Which browser (public) key made the link; null: a trusted writer (a server key, the app,
    # a merge). A browser key's events join a lead only through a trusted link or one of its
    # own, and its identify calls change only leads it created through its own link
    # (events/browser.py). No database constraint or index, as for Event.source: sources are
    # never deleted, and nothing looks links up by it.
    browser_source = models.ForeignKey(
        Source,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="identity_kind_value_unique"),
        ]
        indexes = [
            models.Index(fields=["lead"], name="identity_lead"),
            # The sweep's catch-up looks at the ids linked since its last run.
            models.Index(fields=["created_at"], name="identity_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value} -> lead {self.lead_id}"
