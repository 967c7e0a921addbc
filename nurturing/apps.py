from django.apps import AppConfig


class NurturingConfig(AppConfig):
    name = "nurturing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import hooks
        from nurturing import selectors, tasks
        from nurturing.views_bulk import bulk_enroll_action

        # Enrollments and emails on the lead's timeline.
        hooks.lead_timeline_items.register(selectors.nurture_timeline_items)
        # Stage-triggered sequences start right after the lead's stage change commits.
        hooks.lead_stage_entered.register(tasks.stage_entered_hook)
        # The lead list's bulk "Enroll in a sequence", for marketers and admins.
        hooks.lead_list_actions.register(bulk_enroll_action)
        # A lead's GDPR export and erasure (leads.privacy): this app's part.
        from nurturing import privacy

        hooks.lead_personal_data.register(privacy.lead_personal_data)
        hooks.lead_erase.register(privacy.lead_erase)
