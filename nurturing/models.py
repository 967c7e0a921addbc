"""Nurture sequences, their steps, who is enrolled, and every email a step produced.

The delivery guarantee lives in these tables, not in Celery: a due time per enrollment
(`Enrollment.next_due_at`), and one `Message` row per (enrollment, step) whose status is moved
forward by conditional updates (see nurturing/services/sending.py for the state machine).
"""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from leads.models import Stage


class TriggerKind(models.TextChoices):
    STAGE = "stage", "Lead enters a stage"
    SCORE = "score", "Lead reaches a score"
    FILTER = "filter", "Lead matches a filter"
    MANUAL = "manual", "Enrolled by hand"


class StageEntry(models.TextChoices):
    """Which entries into the trigger stage count."""

    ANY = "any", "Any entry"
    NEW = "new", "Not by recycling"
    RECYCLED = "recycled", "Recycled back to nurture"


# "Is enrolled by sales": once sales has accepted a lead, marketing's sequences step aside.
SALES_STAGES = (Stage.SAL, Stage.SQL, Stage.CUSTOMER)


class Sequence(models.Model):
    key = models.SlugField(max_length=100, unique=True, help_text="Stable name, e.g. welcome-iql.")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    trigger_kind = models.CharField(
        max_length=16, choices=TriggerKind.choices, default=TriggerKind.MANUAL
    )
    trigger_stage = models.CharField(max_length=16, choices=Stage.choices, blank=True)
    trigger_stage_entry = models.CharField(
        max_length=16, choices=StageEntry.choices, default=StageEntry.ANY
    )
    trigger_score = models.IntegerField(null=True, blank=True)
    trigger_filter = models.JSONField(
        default=dict, blank=True, help_text="Lead list filter parameters, as in /api/v1/leads/."
    )

    exit_stages = models.JSONField(
        default=list, blank=True, help_text="Reaching any of these stages ends the enrollment."
    )
    exit_on_sales_accept = models.BooleanField(
        default=True, help_text="End the enrollment once sales accepts the lead (SAL or later)."
    )

    # Automatic triggers only look at stage entries after this moment, so that creating or
    # re-activating a stage-triggered sequence does not mail the whole history at once.
    activated_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(trigger_kind=TriggerKind.STAGE) | ~models.Q(trigger_stage=""),
                name="sequence_stage_trigger_has_stage",
            ),
            models.CheckConstraint(
                condition=~models.Q(trigger_kind=TriggerKind.SCORE)
                | models.Q(trigger_score__isnull=False),
                name="sequence_score_trigger_has_score",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def exits_at(self, stage: str) -> bool:
        if stage == Stage.DISQUALIFIED or stage in self.exit_stages:
            return True
        return self.exit_on_sales_accept and stage in SALES_STAGES


class Step(models.Model):
    """Wait `delay_minutes` after the previous step (or the enrollment), then send one email.

    Subject and bodies are Django templates over plain strings only: first_name (with a
    fallback), last_name, full_name, company, title, owner_name, email.
    """

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    delay_minutes = models.PositiveIntegerField(default=0)
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    send_if_score_below = models.IntegerField(
        null=True, blank=True, help_text="Send only while the lead's score is below this."
    )
    send_unless_event = models.CharField(
        max_length=255,
        blank=True,
        help_text="Send only if the lead has had no event of this name since enrolling.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sequence", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "position"], name="step_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.sequence_id}#{self.position}: {self.subject}"


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"


class Enrollment(models.Model):
    """A lead's way through a sequence. Paused (not a status) while a rep or partner owns it."""

    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="nurture_enrollments"
    )
    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="enrollments")
    status = models.CharField(
        max_length=16, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE
    )
    trigger = models.CharField(max_length=16, choices=TriggerKind.choices)
    last_position = models.PositiveIntegerField(
        default=0, help_text="Position of the last step dispatched (0: none yet)."
    )
    next_due_at = models.DateTimeField(null=True, blank=True)
    enrolled_at = models.DateTimeField()
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "sequence"],
                condition=models.Q(status="active"),
                name="enrollment_one_active_per_lead",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_due_at"],
                condition=models.Q(status="active"),
                name="enrollment_due",
            ),
            models.Index(fields=["lead", "enrolled_at"], name="enrollment_lead_time"),
            # A sequence's enrollments counted by status in an index-only scan (its figures).
            models.Index(fields=["sequence", "status"], name="enrollment_sequence_status"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} in {self.sequence_id} ({self.status})"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # waiting for a worker
    CLAIMED = "claimed", "Claimed"  # a worker has it; nothing final said to the server yet
    COMMITTING = "committing", "Committing"  # the end of the data is on its way to the server
    SENT = "sent", "Sent"
    UNKNOWN = "unknown", "Needs review"  # the worker died while committing: maybe sent
    SKIPPED = "skipped", "Skipped"  # the step's condition said no
    CANCELLED = "cancelled", "Cancelled"  # do-not-contact, unsubscribed or exited at send time
    BOUNCED = "bounced", "Bounced"  # permanent refusal
    FAILED = "failed", "Failed"  # could never be sent (an invalid address)


# Handed to the mail server: sent, in review (probably was) or bounced (refused afterwards).
SENT_STATUSES = (MessageStatus.SENT, MessageStatus.UNKNOWN, MessageStatus.BOUNCED)


class Message(models.Model):
    """One step's email to one lead. The unique (enrollment, step) row IS the send claim."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="messages")
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    to_email = models.EmailField(max_length=254)
    subject = models.CharField(max_length=255, blank=True)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField()
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id_header = models.CharField(max_length=255, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(
        null=True, blank=True, help_text="The recipient used this email's unsubscribe link."
    )
    detail = models.TextField(blank=True, help_text="Why skipped/cancelled, or the last error.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "step"], name="message_once_per_enrollment_step"
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "claimed_at"],
                condition=models.Q(status__in=["queued", "claimed", "committing"]),
                name="message_in_flight",
            ),
            models.Index(fields=["lead", "created_at"], name="message_lead_time"),
            # The per-minute rate limit counts the last minute's emails.
            models.Index(fields=["created_at"], name="message_created"),
            # A sequence's figures (nurturing.selectors.sequence_figures), read from indexes
            # alone: its steps' emails counted by status, opened, clicked, unsubscribed ...
            models.Index(
                fields=["step", "status"],
                include=["opened_at", "clicked_at", "unsubscribed_at"],
                name="message_step_figures",
            ),
            # ... and the sent ones in the lead's order, merged with its MQL and SQL entries.
            # (The table also has parallel_workers = 0, set by migration 0003: see there why.)
            models.Index(
                fields=["lead", "sent_at"],
                include=["step", "id"],
                condition=models.Q(status__in=SENT_STATUSES),
                name="message_sent_lead",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.to_email}: {self.subject} ({self.status})"


class SuppressionReason(models.TextChoices):
    BOUNCED = "bounced", "Bounced"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


class Suppression(models.Model):
    """An address nurture never mails again, whatever lead carries it."""

    email = models.EmailField(max_length=254)
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="suppression_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.reason})"
