from django.apps import AppConfig


class NurturingConfig(AppConfig):
    name = "nurturing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from leads import selectors as lead_selectors
        from leads import services as lead_services
        from nurturing import selectors, tasks

        # Enrollments and emails on the lead's timeline.
        if selectors.nurture_timeline_items not in lead_selectors.TIMELINE_SOURCES:
            lead_selectors.TIMELINE_SOURCES.append(selectors.nurture_timeline_items)
        # Stage-triggered sequences start right after the lead's stage change commits.
        if tasks.stage_entered_hook not in lead_services.STAGE_ENTERED_HOOKS:
            lead_services.STAGE_ENTERED_HOOKS.append(tasks.stage_entered_hook)
