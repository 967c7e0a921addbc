from django.conf import settings
from django.db import models


class ImportStatus(models.TextChoices):
    DRAFT = "draft", "Uploaded, not started"
    PENDING = "pending", "Waiting to start"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (ImportStatus.DRAFT, ImportStatus.PENDING, ImportStatus.RUNNING)


class ImportMode(models.TextChoices):
    CREATE_AND_UPDATE = "create_and_update", "Create new leads and update existing ones"
    CREATE_ONLY = "create_only", "Create new leads only (skip existing emails)"
    UPDATE_ONLY = "update_only", "Update existing leads only (skip unknown emails)"


class ImportConsent(models.TextChoices):
    """What the uploader declares about the people in the file."""

    UNKNOWN = "unknown", "No consent on record: do not email them until they give it"
    GIVEN = "given", "They agreed to receive our email (give the wording they agreed to)"
    WITHDRAWN = "withdrawn", "They opted out: never email them"


class ImportJob(models.Model):
    """One uploaded CSV and its run: what was declared on upload, and the progress counters.

    The file itself is an `ImportFile` (kept apart so polling a job never loads its bytes);
    it is deleted when the job ends. `cursor` is the number of data rows done: every batch
    moves it in the same transaction as its leads, so a task that runs again goes on from it.
    """

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_jobs"
    )
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    encoding = models.CharField(max_length=20)
    delimiter = models.CharField(max_length=1)
    headers = models.JSONField(default=list, help_text="The file's header row.")
    mapping = models.JSONField(
        default=list, help_text="One target per column: a Lead field, 'trait' or '' (ignored)."
    )
    mode = models.CharField(
        max_length=20, choices=ImportMode.choices, default=ImportMode.CREATE_AND_UPDATE
    )
    consent = models.CharField(
        max_length=10, choices=ImportConsent.choices, default=ImportConsent.UNKNOWN
    )
    consent_wording = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.DRAFT
    )
    total = models.PositiveIntegerField(default=0, help_text="Data rows in the file.")
    cursor = models.PositiveIntegerField(default=0, help_text="Data rows done (in file order).")
    processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True, help_text="Why the job failed, when it did.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "-created_at"], name="importjob_user")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ImportStatus.values), name="importjob_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(mode__in=ImportMode.values), name="importjob_mode_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(consent__in=ImportConsent.values),
                name="importjob_consent_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.filename} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_active(self) -> bool:
        return self.status in (ImportStatus.PENDING, ImportStatus.RUNNING)

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.total:
            return 0
        return min(100, self.processed * 100 // self.total)


class ImportFile(models.Model):
    """The uploaded bytes, in the database so that any worker can read them (no shared disk)."""

    job = models.OneToOneField(ImportJob, on_delete=models.CASCADE, related_name="file")
    content = models.BinaryField()

    def __str__(self) -> str:
        return f"File of import {self.job_id}"


class ImportRowError(models.Model):
    """A row the import could not use: its spreadsheet row number (the header is row 1), why,
    and the values as they were in the file."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    values = models.JSONField(default=list)

    class Meta:
        ordering = ["job", "row", "id"]
        indexes = [models.Index(fields=["job", "row"], name="importrowerror_job_row")]

    def __str__(self) -> str:
        return f"Import {self.job_id} row {self.row}: {self.reason}"
