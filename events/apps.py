from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import hooks
        from events.selectors import event_timeline_items

        hooks.lead_timeline_items.register(event_timeline_items)
        # A lead's GDPR export and erasure (leads.privacy): this app's part.
        from events import privacy

        hooks.lead_personal_data.register(privacy.lead_personal_data)
        hooks.lead_erase.register(privacy.lead_erase)
