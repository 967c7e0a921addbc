from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Who changed what: the audit log, written in the same transaction as the change. It sits
    just above accounts so that every app's services can write to it."""

    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"
