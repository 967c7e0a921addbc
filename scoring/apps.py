from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import hooks
        from scoring.selectors import lead_score_section, lead_score_timeline_items
        from scoring.services import scoring_kick

        hooks.lead_timeline_items.register(lead_score_timeline_items)
        # The lead's page: the score, its breakdown by rule, and what expires soon.
        hooks.lead_page_sections.register(lead_score_section)
        # Ingestion asks for a scoring pass after each commit that linked events to leads.
        hooks.events_recorded.register(scoring_kick)
        # A lead's GDPR export and erasure (leads.privacy): this app's part.
        from scoring import privacy

        hooks.lead_personal_data.register(privacy.lead_personal_data)
