from django.contrib import admin

from leads.models import Lead, StageChange


class StageChangeInline(admin.TabularInline):
    model = StageChange
    extra = 0
    can_delete = False
    readonly_fields = ("from_stage", "to_stage", "changed_at", "changed_by", "rule", "reason")

    def has_add_permission(self, request, obj=None):
        return False  # stage changes go through leads.services so the history stays whole


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = (
        "email",
        "first_name",
        "last_name",
        "company_name",
        "stage",
        "score",
        "temperature",
        "owner",
        "created_at",
    )
    list_filter = ("stage", "temperature", "source", "direction", "do_not_contact")
    search_fields = ("email", "first_name", "last_name", "company_name")
    raw_id_fields = ("owner",)
    # Stage and score only change through services (history rows, ledger), never by hand here.
    readonly_fields = (
        "stage",
        "stage_entered_at",
        "score",
        "recycle_count",
        "created_at",
        "updated_at",
    )
    inlines = [StageChangeInline]


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    list_display = ("lead", "from_stage", "to_stage", "changed_at", "changed_by", "rule")
    list_filter = ("to_stage",)
    raw_id_fields = ("lead", "changed_by")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
