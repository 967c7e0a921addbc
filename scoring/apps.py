from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from leads.selectors import TIMELINE_SOURCES
        from scoring.selectors import lead_score_timeline_items

        if lead_score_timeline_items not in TIMELINE_SOURCES:
            TIMELINE_SOURCES.append(lead_score_timeline_items)
