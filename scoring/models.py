from django.conf import settings
from django.db import models

from scoring import rules


class RuleKind(models.TextChoices):
    EVENT = rules.RuleKind.EVENT.value, "Event (behaviour)"
    ATTRIBUTE = rules.RuleKind.ATTRIBUTE.value, "Attribute (fit)"


class ScoringRule(models.Model):
    """A rule's identity. Its definition lives in versions: an edit makes a new one."""

    name = models.CharField(max_length=200)
    key = models.CharField(
        max_length=100,
        null=True,
        blank=True,
        unique=True,
        help_text="Set on playbook rules, so that loading the playbook again finds them.",
    )
    is_active = models.BooleanField(default=True)
    current_version = models.ForeignKey(
        "RuleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def version(self) -> "RuleVersion":
        """The current version. Only rule_create leaves it unset, for a moment inside its
        transaction (a version needs the rule's id), so a rule read back always has one."""
        if self.current_version is None:
            raise RuleVersion.DoesNotExist(f"Rule {self.pk} has no current version.")
        return self.current_version


class RuleVersion(models.Model):
    """One immutable definition of a rule. Ledger rows point at the version that earned them."""

    rule = models.ForeignKey(ScoringRule, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    event_type = models.CharField(max_length=16, blank=True)
    event_name = models.CharField(max_length=255, blank=True)
    conditions = models.JSONField(default=list, blank=True)
    points = models.IntegerField()
    max_times = models.PositiveIntegerField(null=True, blank=True)
    expires_after_days = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rule_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "number"], name="ruleversion_rule_number"),
            models.CheckConstraint(
                condition=~models.Q(points=0), name="ruleversion_points_nonzero"
            ),
            models.CheckConstraint(
                condition=models.Q(kind=RuleKind.ATTRIBUTE)
                | (~models.Q(event_type="") & ~models.Q(event_name="")),
                name="ruleversion_event_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.number}"

    def as_def(self, *, name: str = "") -> rules.RuleDef:
        """The pure definition. Stored rows were validated on the way in, so this cannot fail."""
        data = {
            "kind": self.kind,
            "event_type": self.event_type,
            "event_name": self.event_name,
            "conditions": self.conditions,
            "points": self.points,
            "max_times": self.max_times,
            "expires_after_days": self.expires_after_days,
            "name": name,
        }
        return rules.rule_parse(data, rule_id=self.rule_id, version_id=self.pk)


class LedgerEntry(models.Model):
    """A point change: which rule (and version) gave a lead points, for which event, until when.

    `is_live` is switched off by the expiry job in the same transaction that lowers the lead's
    score, so that Lead.score equals the sum of the live rows at every commit.
    """

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="ledger")
    # No database-level foreign keys on rule, version and event: a re-score inserts hundreds of
    # thousands of rows, and PostgreSQL checks each key row by row at commit, taking a share
    # lock on (so writing to) every referenced event row; that cost more than the re-score's own
    # work. Django still applies on_delete (rules and versions are never deleted: PROTECT; events
    # go with their lead, whose key is enforced, or by retention), and a re-score rebuilds it.
    rule = models.ForeignKey(
        ScoringRule,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    version = models.ForeignKey(
        RuleVersion,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # Unindexed on its own: the (event, version) unique index starts with it. DO_NOTHING: the
    # retention job deletes old raw events and their points stay (the id then points nowhere).
    event = models.ForeignKey(
        "events.Event",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_index=False,
        db_constraint=False,
    )
    points = models.IntegerField()
    occurred_at = models.DateTimeField(help_text="When the points were earned.")
    expires_at = models.DateTimeField(null=True, blank=True)
    is_live = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            # An event earns a rule version's points once: scoring twice changes nothing.
            models.UniqueConstraint(
                fields=["event", "version"],
                condition=models.Q(event__isnull=False),
                name="ledger_event_version_unique",
            ),
            # A fit rule counts once per lead.
            models.UniqueConstraint(
                fields=["lead", "version"],
                condition=models.Q(event__isnull=True),
                name="ledger_fit_lead_version_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=models.Q(is_live=True, expires_at__isnull=False),
                name="ledger_live_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.points:+d} (rule {self.rule_id})"


class ScoringSettings(models.Model):
    """The one row of scoring settings. Locking it serialises every scoring write."""

    mql_threshold = models.IntegerField(default=50)
    warm_at = models.IntegerField(default=25, help_text="Scores from here up are warm.")
    hot_at = models.IntegerField(default=50, help_text="Scores from here up are hot.")
    pql_conditions = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"event_name": "Task Created", "min_count": 20, "within_days": 14}], all met.',
    )
    fit_checked_at = models.DateTimeField(
        null=True, blank=True, help_text="Leads changed since then get their fit rules checked."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "scoring settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="scoringsettings_singleton"),
            models.CheckConstraint(
                condition=models.Q(warm_at__lt=models.F("hot_at")), name="scoringsettings_bands"
            ),
        ]

    def __str__(self) -> str:
        return "Scoring settings"

    def thresholds(self) -> rules.Thresholds:
        return rules.Thresholds(
            mql_threshold=self.mql_threshold,
            warm_at=self.warm_at,
            hot_at=self.hot_at,
            pql_conditions=rules.pql_parse(self.pql_conditions),
        )


class RescoreStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    SUPERSEDED = "superseded", "Superseded by a newer re-score"
    FAILED = "failed", "Failed"


class RescoreJob(models.Model):
    """A full re-score from the event history, worked through in chunks of leads by id."""

    status = models.CharField(
        max_length=16, choices=RescoreStatus.choices, default=RescoreStatus.PENDING
    )
    reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    total_leads = models.PositiveIntegerField(default=0)
    processed_leads = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0, help_text="Leads with ids up to here are done.")
    promoted = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="rescorejob_status")]

    def __str__(self) -> str:
        return f"Re-score {self.pk} ({self.status})"

    @property
    def progress(self) -> float:
        if self.status == RescoreStatus.DONE:
            return 1.0
        if not self.total_leads:
            return 0.0
        return min(1.0, self.processed_leads / self.total_leads)

    @property
    def is_open(self) -> bool:
        return self.status in (RescoreStatus.PENDING, RescoreStatus.RUNNING)


class SimulationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class SimulationJob(models.Model):
    """What a draft rule set and thresholds would do to every lead, worked out by a Celery
    task chunk by chunk (it reads the whole event history, too long for a web request).
    Changes nothing but this row."""

    status = models.CharField(
        max_length=16, choices=SimulationStatus.choices, default=SimulationStatus.PENDING
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    draft = models.JSONField(
        help_text="The request: draft rules (null for the active ones), thresholds, limit."
    )
    total_leads = models.PositiveIntegerField(default=0)
    processed_leads = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="When the draft's change was applied (from the page)."
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Simulation {self.pk} ({self.status})"

    @property
    def progress(self) -> float:
        if self.status == SimulationStatus.DONE:
            return 1.0
        if not self.total_leads:
            return 0.0
        return min(1.0, self.processed_leads / self.total_leads)

    @property
    def is_open(self) -> bool:
        return self.status in (SimulationStatus.PENDING, SimulationStatus.RUNNING)
