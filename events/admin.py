"""Events in the Django admin: read-only. Sources and their write keys are managed through
/api/v1/sources/ or `manage.py create_write_key` / `disable_write_key` (events.services); the
event log is append-only, and identities are the resolver's."""

from django.contrib import admin

from events.models import Event, Identity, Source


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "kind",
        "write_key_prefix",
        "is_active",
        "internal",
        "created_at",
        "disabled_at",
    )
    list_filter = ("kind", "is_active", "internal")
    # Keys are created with `manage.py create_write_key` (the digest cannot be typed in here).
    readonly_fields = ("write_key_digest", "write_key_prefix", "internal", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # enabling and disabling stamps disabled_at: the commands do it

    def has_delete_permission(self, request, obj=None):
        return False  # its events point at it


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("type", "name", "lead", "user_id", "anonymous_id", "occurred_at", "source")
    list_filter = ("type", "source")
    search_fields = ("name", "user_id", "anonymous_id", "message_id")
    raw_id_fields = ("lead",)

    def has_change_permission(self, request, obj=None):
        return False  # append-only

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("kind", "value", "lead", "browser_source", "created_at")
    list_filter = ("kind",)
    search_fields = ("value",)
    raw_id_fields = ("lead", "browser_source")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
