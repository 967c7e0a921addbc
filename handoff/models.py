"""The sales hand-off's records: settings, routing rules, assignments with their SLA clocks,
rejections, the discovery checklist, activities, tasks and merges."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from leads.models import Lead, SourceChannel, Stage


class Mode(models.TextChoices):
    ASSIGN = "assign", "Assign: routing rules and round robin"
    POOL = "pool", "Pool: any rep claims from the shared pool"


class HandoffSettings(models.Model):
    """One row (pk=1): how leads reach reps and how fast reps must answer.

    Deadlines count business time only when `business_hours` is set:
    {"time_zone": "Europe/Berlin", "days": [0, 1, 2, 3, 4] (Monday = 0), "start": "09:00",
    "end": "17:00", "holidays": "DE" (a country code of the `holidays` package, or null)}.
    """

    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.ASSIGN)
    accept_within_minutes = models.PositiveIntegerField(default=60)
    first_touch_within_minutes = models.PositiveIntegerField(default=240)
    reassign_after_minutes = models.PositiveIntegerField(
        default=120,
        help_text="After a missed accept deadline, this long until the lead is routed again.",
    )
    business_hours = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "hand-off settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="handoff_settings_singleton"),
            models.CheckConstraint(
                condition=models.Q(mode__in=[m.value for m in Mode]), name="handoff_mode_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(accept_within_minutes__gt=0)
                & models.Q(first_touch_within_minutes__gt=0)
                & models.Q(reassign_after_minutes__gt=0),
                name="handoff_deadlines_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"hand-off settings ({self.mode})"


class RoutingRule(models.Model):
    """Ordered: the first active rule whose every condition holds routes the lead to its reps;
    the default rule (exactly one may be) catches the rest. Empty conditions match anything."""

    position = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    countries = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    size_min = models.PositiveIntegerField(null=True, blank=True)
    size_max = models.PositiveIntegerField(null=True, blank=True)
    sources = ArrayField(
        models.CharField(max_length=32, choices=SourceChannel.choices), default=list, blank=True
    )
    stages = ArrayField(
        models.CharField(max_length=16, choices=Stage.choices), default=list, blank=True
    )
    score_min = models.IntegerField(null=True, blank=True)
    score_max = models.IntegerField(null=True, blank=True)
    reps = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="routing_rules")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="routing_one_default_rule",
            ),
            models.CheckConstraint(
                condition=models.Q(size_min__isnull=True)
                | models.Q(size_max__isnull=True)
                | models.Q(size_min__lte=models.F("size_max")),
                name="routing_size_range",
            ),
            models.CheckConstraint(
                condition=models.Q(score_min__isnull=True)
                | models.Q(score_max__isnull=True)
                | models.Q(score_min__lte=models.F("score_max")),
                name="routing_score_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class AssignmentStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the rep"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    REASSIGNED = "reassigned", "Taken back (missed deadline, or a manager)"
    RELEASED = "released", "Ended (the lead moved on: closed, disqualified, merged)"


class Assignment(models.Model):
    """A lead handed to a rep, with its SLA clocks. One open (pending or accepted) row a lead.

    Deadlines are fixed when the clock starts (business time already counted in). The SLA job
    marks a breach once (`*_breached_at` set by a conditional update) and takes the lead back
    after `reassign_due_at`.
    """

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="assignments")
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments"
    )
    status = models.CharField(
        max_length=12, choices=AssignmentStatus.choices, default=AssignmentStatus.PENDING
    )
    rule = models.ForeignKey(
        RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty: routing assigned it (or the rep claimed it from the pool).",
    )
    assigned_at = models.DateTimeField()
    accept_due_at = models.DateTimeField()
    reassign_due_at = models.DateTimeField()
    notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the rep was emailed about it (once)."
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    first_touch_due_at = models.DateTimeField(null=True, blank=True)
    first_touched_at = models.DateTimeField(null=True, blank=True)
    accept_breached_at = models.DateTimeField(null=True, blank=True)
    touch_breached_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-assigned_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead"],
                condition=models.Q(status__in=["pending", "accepted"]),
                name="assignment_one_open_per_lead",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in AssignmentStatus]),
                name="assignment_status_valid",
            ),
        ]
        indexes = [
            # The SLA job: open rows by their next deadline.
            models.Index(
                fields=["accept_due_at"],
                name="assignment_pending_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["first_touch_due_at"],
                name="assignment_touch_due",
                condition=models.Q(status="accepted", first_touched_at__isnull=True),
            ),
            models.Index(fields=["rep", "status"], name="assignment_rep_status"),
        ]

    def __str__(self) -> str:
        return f"lead {self.lead_id} -> rep {self.rep_id} ({self.status})"


class RejectReason(models.TextChoices):
    BAD_TIMING = "bad_timing", "Bad timing"
    NO_BUDGET = "no_budget", "No budget"
    NO_RESPONSE = "no_response", "No response"
    NOT_A_FIT = "not_a_fit", "Not a fit"
    COMPETITOR = "competitor", "Went with a competitor"
    DUPLICATE = "duplicate", "Duplicate of another lead"
    OTHER = "other", "Other (note required)"


class Rejection(models.Model):
    """A rep's rejection of a handed-off lead, and what made the lead MQL/PQL (for marketing)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="rejections")
    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=16, choices=RejectReason.choices)
    note = models.TextField(blank=True)
    duplicate_of = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=32, choices=SourceChannel.choices)
    stage = models.CharField(max_length=16, choices=Stage.choices, help_text="MQL or PQL.")
    qualified_by = models.CharField(
        max_length=200, blank=True, help_text="The rule or PQL condition that made it MQL/PQL."
    )
    rejected_at = models.DateTimeField()

    class Meta:
        ordering = ["-rejected_at", "-id"]
        indexes = [models.Index(fields=["rejected_at"])]

    def __str__(self) -> str:
        return f"lead {self.lead_id}: {self.reason}"


class Discovery(models.Model):
    """The discovery checklist a rep answers to qualify a lead (SAL -> SQL)."""

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, related_name="discovery")
    product_fit = models.BooleanField()
    decision_makers = models.TextField()
    decision_process = models.TextField()
    timeframe = models.TextField()
    current_solution = models.TextField()
    budget = models.TextField()
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"discovery of lead {self.lead_id}"


class ActivityKind(models.TextChoices):
    NOTE = "note", "Note"
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    MEETING = "meeting", "Meeting"


# The kinds that count as touching the lead for the first-touch SLA.
TOUCHES = (ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING)


class Activity(models.Model):
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=ActivityKind.choices)
    body = models.TextField(blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["lead", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.kind} on lead {self.lead_id}"


class Task(models.Model):
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="tasks")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="handoff_tasks"
    )
    title = models.CharField(max_length=200)
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(
                fields=["assignee", "due_at"],
                condition=models.Q(done_at__isnull=True),
                name="task_open_due",
            )
        ]

    def __str__(self) -> str:
        return self.title


class Merge(models.Model):
    """A duplicate merged into a kept lead: what was moved, by whom."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="merges")
    merged_lead_id = models.BigIntegerField()
    merged_email = models.EmailField(max_length=254)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField()
    moved = models.JSONField(default=dict, help_text="Rows moved, per kind.")

    def __str__(self) -> str:
        return f"{self.merged_email} into lead {self.lead_id}"


class SlaNoticeKind(models.TextChoices):
    ACCEPT = "accept", "Accept deadline missed"
    TOUCH = "touch", "First-touch deadline missed"
    REASSIGNED = "reassigned", "Taken back after the reassign deadline"


class SlaNotice(models.Model):
    """One escalation email about an assignment (to its rep and the sales managers).

    The SLA job writes it in the same transaction as the breach mark it announces (unique per
    assignment and kind: one email a breach, however often the job runs). A task sends it;
    `sent_at` is claimed by a conditional update just before the SMTP server is asked to accept
    the message, so two deliveries of the task send it once. `error` says why it was given up
    (a refusal, nobody to send to, an answer lost after the claim).
    """

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="sla_notices")
    kind = models.CharField(max_length=12, choices=SlaNoticeKind.choices)
    created_at = models.DateTimeField()
    queued_at = models.DateTimeField(help_text="Last handed to the email task.")
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "kind"], name="sla_notice_once"),
            models.CheckConstraint(
                condition=models.Q(kind__in=[k.value for k in SlaNoticeKind]),
                name="sla_notice_kind_valid",
            ),
        ]
        indexes = [
            # The SLA job re-queues notices whose task was lost: unsent ones, by last queueing.
            models.Index(
                fields=["queued_at"],
                name="sla_notice_unsent",
                condition=models.Q(sent_at__isnull=True, error=""),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} notice for assignment {self.assignment_id}"
