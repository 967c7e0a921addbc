from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import hooks
        from leads.privacy_views import privacy_section

        # The admins' GDPR actions (export, erase) on the lead's page.
        hooks.lead_page_sections.register(privacy_section)
