from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Lower, Upper


class Stage(models.TextChoices):
    IQL = "IQL", "Information qualified"
    MQL = "MQL", "Marketing qualified"
    PQL = "PQL", "Product qualified"
    SAL = "SAL", "Sales accepted"
    SQL = "SQL", "Sales qualified"
    CUSTOMER = "CUSTOMER", "Customer"
    DISQUALIFIED = "DISQUALIFIED", "Disqualified"


class Temperature(models.TextChoices):
    COLD = "cold", "Cold"
    WARM = "warm", "Warm"
    HOT = "hot", "Hot"


class SourceChannel(models.TextChoices):
    ORGANIC_SEARCH = "organic_search", "Organic search"
    PAID_SEARCH = "paid_search", "Paid search"
    SOCIAL = "social", "Social"
    REFERRAL = "referral", "Referral"
    GUEST_BLOG = "guest_blog", "Guest blog"
    LEAD_MAGNET = "lead_magnet", "Lead magnet"
    DIRECT_OUTREACH = "direct_outreach", "Direct outreach"
    PARTNER = "partner", "Partner"
    EVENT = "event", "Event"
    IMPORT = "import", "Import"
    OTHER = "other", "Other"


class ConsentState(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    GIVEN = "given", "Given"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class LeadQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(stage__in=[Stage.CUSTOMER, Stage.DISQUALIFIED])


class Lead(models.Model):
    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    title = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    country = models.CharField(max_length=100, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    company_domain = models.CharField(max_length=253, blank=True)
    company_size = models.PositiveIntegerField(null=True, blank=True)

    source = models.CharField(
        max_length=32, choices=SourceChannel.choices, default=SourceChannel.OTHER
    )
    direction = models.CharField(
        max_length=16, choices=Direction.choices, default=Direction.INBOUND
    )
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    external_id = models.CharField(
        max_length=255, null=True, blank=True, help_text="The userId a product sends events with."
    )
    traits = models.JSONField(default=dict, blank=True)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
    )
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.IQL)
    stage_entered_at = models.DateTimeField()
    recycle_count = models.PositiveIntegerField(default=0)
    score = models.IntegerField(default=0)
    temperature = models.CharField(
        max_length=8, choices=Temperature.choices, default=Temperature.COLD
    )
    do_not_contact = models.BooleanField(default=False)
    do_not_contact_reason = models.CharField(max_length=200, blank=True)
    consent = models.CharField(
        max_length=10, choices=ConsentState.choices, default=ConsentState.UNKNOWN
    )
    consent_required = models.BooleanField(
        default=False,
        help_text="It came through a source or form whose policy needs consent before email.",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    erased_at = models.DateTimeField(
        null=True, blank=True, help_text="Its personal data was erased (GDPR): an anonymous row."
    )

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="lead_email_ci_unique"),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=models.Q(external_id__isnull=False),
                name="lead_external_id_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(stage__in=Stage.values), name="lead_stage_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(do_not_contact=False) | ~models.Q(do_not_contact_reason=""),
                name="lead_dnc_has_reason",
            ),
            models.CheckConstraint(
                condition=models.Q(consent__in=["unknown", "given", "withdrawn"]),
                name="lead_consent_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["stage", "-created_at"]),
            models.Index(fields=["owner", "stage"]),
            models.Index(fields=["-score"]),
            # The lead list's sorts: each a (column, id) index, read in either direction, so
            # a keyset page starts where its cursor points (leads.listing).
            models.Index(fields=["created_at", "id"], name="lead_list_created"),
            models.Index(fields=["stage_entered_at", "id"], name="lead_list_stage_entered"),
            models.Index(fields=["score", "id"], name="lead_list_score"),
            models.Index(fields=["last_name", "id"], name="lead_list_name"),
            models.Index(fields=["company_name", "id"], name="lead_list_company"),
            # The board's totals per stage (count, sum of scores) from the index alone.
            models.Index(fields=["stage", "score"], name="lead_stage_score_idx"),
            # The lead list's search (leads.filters: `icontains`, UPPER(column) LIKE '%word%'):
            # trigram indexes on the very expressions, or every search reads every lead.
            *(
                GinIndex(OpClass(Upper(column), name="gin_trgm_ops"), name=f"lead_search_{column}")
                for column in ("email", "first_name", "last_name", "company_name")
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class StageChange(models.Model):
    """Audit row: one per stage change, written in the same transaction as the change."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=16, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=16, choices=Stage.choices)
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.CharField(
        max_length=200, blank=True, help_text="The rule or system job that made an automatic move."
    )
    reason = models.TextField(blank=True)
    left_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the stay this row starts ended: the lead's next row (leads.journey).",
    )
    lead_created_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="The lead's created_at, copied (leads.journey): a cohort's stays without a join.",
    )
    # The stay's length, once it ended (computed by PostgreSQL as `left_at` is set): the
    # funnel's percentiles read it from the index below, already in order.
    stay_seconds = models.GeneratedField(
        expression=models.Func(
            models.F("left_at") - models.F("changed_at"),
            template="date_part('epoch', %(expressions)s)",
            output_field=models.FloatField(),
        ),
        output_field=models.FloatField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [
            # A lead's history in order; covering, so the funnel report walks the history of
            # a cohort in an index-only scan, already sorted for its window function.
            models.Index(
                fields=["lead", "changed_at", "id"],
                include=["from_stage", "to_stage"],
                name="stagechange_lead_history",
            ),
            # "Reached stage S" (leads.filters): one probe per lead, no row read.
            models.Index(fields=["lead", "to_stage"], name="stagechange_reached"),
            # The entries into MQL and SQL (a quarter of the history), by lead and time: what
            # an email led to (nurturing's sequence figures) is a merge join with these alone.
            models.Index(
                fields=["lead", "changed_at"],
                include=["to_stage"],
                condition=models.Q(to_stage__in=["MQL", "SQL"]),
                name="stagechange_mql_sql",
            ),
            # The stays that ended, each stage's in order of length, with the lead (and its
            # created_at) to pick a cohort's: the funnel's median and p90 read them in an
            # index-only scan, and their sorts get the rows already sorted (PostgreSQL's sort
            # checks for that first): half the time of sorting 80,000 stays from the table.
            models.Index(
                fields=["to_stage", "stay_seconds"],
                include=["lead_created_at", "lead"],
                condition=models.Q(left_at__isnull=False),
                name="stagechange_stays",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage or '-'} -> {self.to_stage}"


class Journey(models.Model):
    """One narrow row a lead: what its stage history adds up to (the stages it reached, as
    a bit mask, and when it first entered the stages the reports time), beside the lead's
    cohort keys (created, source, campaign, owner). Kept by PostgreSQL triggers
    (`leads.journey`) in the statement that writes the lead or its history, whoever writes
    it, so the reports read one row a lead instead of folding every history row each time.
    Never written from Python."""

    lead = models.OneToOneField(
        Lead, primary_key=True, on_delete=models.CASCADE, related_name="journey"
    )
    created_at = models.DateTimeField()
    source = models.CharField(max_length=32)
    utm_campaign = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,  # a copy of the lead's, which the triggers keep
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    reached = models.IntegerField(default=0, help_text="leads.journey.BIT of every stage entered.")
    last_stage = models.CharField(
        max_length=16, blank=True, help_text="The stage of its last history row: where it is now."
    )
    iql_at = models.DateTimeField(null=True)
    sql_at = models.DateTimeField(null=True)
    customer_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], name="journey_created"),
            # The leads that got to SQL or to customer (a tenth): the funnel's velocity reads
            # a cohort's in an index-only scan instead of every journey of the period.
            models.Index(
                fields=["created_at"],
                include=["iql_at", "sql_at", "customer_at"],
                condition=models.Q(sql_at__isnull=False) | models.Q(customer_at__isnull=False),
                name="journey_converted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.reached:b}"


class Consent(models.Model):
    """Evidence of a lead's consent to email, or of its withdrawal: append-only, one row a
    change, written in the same transaction as the lead's `consent` state."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="consents")
    state = models.CharField(max_length=10, choices=ConsentState.choices)
    wording = models.TextField(blank=True, help_text="The exact text the person agreed to.")
    source = models.CharField(
        max_length=200, help_text="Where: the form (its slug), the source, 'unsubscribe', ..."
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["lead", "at"])]

    def __str__(self) -> str:
        return f"lead {self.lead_id}: {self.state}"


class SavedView(models.Model):
    """A user's named lead list: the list's query string (filters and sort). Private: only its
    user sees, applies or deletes it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_lead_views"
    )
    name = models.CharField(max_length=80)
    query = models.TextField(blank=True, help_text="The list's query string, e.g. stage=MQL.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_view_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"


class ErasedAddress(models.Model):
    """An email address erased at its owner's request, kept only as a keyed hash (HMAC-SHA256
    of the normalised address with a server pepper: leads.privacy.email_digest), so that the
    address is never mailed nor added again, without the address being kept."""

    digest = models.CharField(max_length=64, unique=True)
    erased_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"erased address {self.digest[:12]}…"
