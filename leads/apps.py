from typing import Any

from django.apps import AppConfig


def _extensions(*, using: str = "default", **_: Any) -> None:
    """`pre_migrate` receiver: the extensions the leads' indexes use exist before any table."""
    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")


class LeadsConfig(AppConfig):
    name = "leads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate, pre_migrate

        from core import hooks
        from leads import journey
        from leads.privacy_views import privacy_section

        # The admins' GDPR actions (export, erase) on the lead's page.
        hooks.lead_page_sections.register(privacy_section)

        # The journey triggers, as this code writes them, after every migrate (test databases
        # built without migrations included).
        post_migrate.connect(journey.on_post_migrate, sender=self)
        # pg_trgm before any table is made: the search's trigram indexes need it, in test
        # databases built without migrations too (migration 0010 creates it as well).
        pre_migrate.connect(_extensions, sender=self)
