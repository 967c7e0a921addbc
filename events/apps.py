from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import hooks
        from events.selectors import event_timeline_items

        hooks.lead_timeline_items.register(event_timeline_items)
