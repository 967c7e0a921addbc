"""Lead-capture forms and what visitors send through them."""

from django.conf import settings
from django.db import models

from leads.models import SourceChannel


class Form(models.Model):
    """A form marketers put on a website (hosted at /f/<slug>/, or embedded by a snippet).

    `fields`: a list of {"name", "label", "required", "kind", "trait"} in display order, where
    name is a lead field (email, first_name, last_name, company_name, title, phone, country) or,
    with `trait`, a custom field kept in the lead's traits. Email is always asked and required.
    """

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    title = models.CharField(max_length=200, help_text="The heading visitors see.")
    intro = models.TextField(blank=True)
    fields = models.JSONField(default=list)
    offer_title = models.CharField(max_length=200, blank=True, help_text="The ebook, the checklist")
    offer_url = models.URLField(max_length=500, blank=True, help_text="Where the content offer is.")
    source_channel = models.CharField(
        max_length=32, choices=SourceChannel.choices, default=SourceChannel.LEAD_MAGNET
    )
    consent_text = models.TextField(help_text="The exact consent wording shown beside the box.")
    double_opt_in = models.BooleanField(default=True)
    thank_you_message = models.TextField(blank=True)
    redirect_url = models.URLField(max_length=500, blank=True)
    sequence = models.ForeignKey(
        "nurturing.Sequence",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The nurture sequence a (confirmed) submission starts.",
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class SubmissionStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the email to be confirmed"
    CONFIRMED = "confirmed", "Confirmed (or no double opt-in)"
    EXPIRED = "expired", "Confirmation link expired"


class Submission(models.Model):
    """One sent form: what the visitor gave, where from, and its consent and opt-in state."""

    form = models.ForeignKey(Form, on_delete=models.PROTECT, related_name="submissions")
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.EmailField(max_length=254)
    data = models.JSONField(default=dict)
    utm = models.JSONField(default=dict, blank=True)
    referrer = models.CharField(max_length=500, blank=True)
    anonymous_id = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    status = models.CharField(
        max_length=10, choices=SubmissionStatus.choices, default=SubmissionStatus.PENDING
    )
    submitted_at = models.DateTimeField()
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    offer_sent_at = models.DateTimeField(null=True, blank=True)
    sequence_started_at = models.DateTimeField(
        null=True, blank=True, help_text="When the form's nurture sequence was started for it."
    )

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["form", "submitted_at"]),
            models.Index(fields=["ip", "submitted_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "confirmed", "expired"]),
                name="submission_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} via {self.form_id}"
