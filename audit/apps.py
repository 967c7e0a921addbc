from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Who changed what: the audit log, written in the same transaction as the change. It sits
    just above accounts so that every app's services can write to it."""

    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit import receivers
        from core import hooks

        hooks.account_changed.register(receivers.account_changed)
