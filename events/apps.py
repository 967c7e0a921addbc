from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from events.selectors import event_timeline_items
        from leads.selectors import TIMELINE_SOURCES

        if event_timeline_items not in TIMELINE_SOURCES:
            TIMELINE_SOURCES.append(event_timeline_items)
