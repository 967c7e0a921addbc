from django.apps import AppConfig


class WebConfig(AppConfig):
    """The website front door: lead-capture forms (hosted pages, the embed snippet), consent
    with double opt-in. It sits above scoring and nurturing (a form starts a sequence)."""

    name = "web"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import hooks
        from web.merge import submissions_move_to_lead

        # A merge of two leads gives the merged one's form submissions to the kept one.
        hooks.lead_rows_merged.register(submissions_move_to_lead)
        # A lead's GDPR export and erasure (leads.privacy): this app's part.
        from web import privacy

        hooks.lead_personal_data.register(privacy.lead_personal_data)
        hooks.lead_erase.register(privacy.lead_erase)
