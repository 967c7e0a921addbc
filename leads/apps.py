from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from core import hooks
        from leads import journey
        from leads.privacy_views import privacy_section

        # The admins' GDPR actions (export, erase) on the lead's page.
        hooks.lead_page_sections.register(privacy_section)

        # The journey triggers, as this code writes them, after every migrate (test databases
        # built without migrations included).
        post_migrate.connect(journey.on_post_migrate, sender=self)
