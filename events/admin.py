from django.contrib import admin

from events.models import Event, Source


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "write_key_prefix", "is_active", "created_at", "disabled_at")
    readonly_fields = ("write_key_digest", "write_key_prefix", "created_at")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("type", "name", "lead", "user_id", "anonymous_id", "occurred_at", "source")
    list_filter = ("type", "source")
    search_fields = ("name", "user_id", "anonymous_id", "message_id")
    raw_id_fields = ("lead",)

    def has_change_permission(self, request, obj=None):
        return False  # append-only
