from django.apps import AppConfig


class HandoffConfig(AppConfig):
    """The sales hand-off: routing MQL/PQL leads to reps, the rep's decisions, response SLAs,
    activities and tasks. It sits above scoring and nurturing (a merge moves their rows)."""

    name = "handoff"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import hooks
        from handoff import selectors
        from handoff.selectors.bulk import bulk_assign_action
        from handoff.selectors.duplicates import duplicates_section
        from handoff.selectors.inbox import handoff_lead_section
        from handoff.selectors.timeline import handoff_timeline_items
        from handoff.services.routing import stage_entered_hook

        # In pool mode a rep sees the unassigned pool besides their own leads.
        hooks.lead_rep_scope.register(selectors.rep_pool_scope)
        # Assignments, SLA breaches, activities, tasks, rejections and merges on the timeline.
        hooks.lead_timeline_items.register(handoff_timeline_items)
        # A lead that becomes MQL/PQL is routed: the task is queued after the move commits.
        hooks.lead_stage_entered.register(stage_entered_hook)
        # The lead's page: the rep's actions, discovery answers, activities and tasks.
        hooks.lead_page_sections.register(handoff_lead_section)
        # The lead list's bulk "Assign to", for sales managers and admins.
        hooks.lead_list_actions.register(bulk_assign_action)
        # The lead's page: its likely duplicates, with a merge for those allowed.
        hooks.lead_page_sections.register(duplicates_section)
        # A lead's GDPR export and erasure (leads.privacy): this app's part.
        from handoff import privacy

        hooks.lead_personal_data.register(privacy.lead_personal_data)
        hooks.lead_erase.register(privacy.lead_erase)
