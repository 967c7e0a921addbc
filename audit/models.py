from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """Who changed what, when: one row per change, written in the change's own transaction.

    `changes` maps a field to `[old, new]` (JSON values); `actor` is null for the system (a
    job, ingestion, a management command). `actor_name` keeps the username the actor had, so
    the row still reads after the user is deleted. Append-only: nothing updates a row except
    a lead's erasure, which blanks the personal values it holds.
    """

    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, help_text="What happened: `lead.update`, ...")
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_label = models.CharField(max_length=255, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_at"),
            models.Index(fields=["object_type", "object_id", "at"], name="audit_object"),
            models.Index(fields=["actor", "at"], name="audit_actor"),
            models.Index(fields=["action", "at"], name="audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or 'system'} {self.action}"
