"""Leads in the Django admin. Every save and delete goes through leads.services, so the admin
runs the API's checks (who may create, edit or delete; owners; duplicates) and writes the
history row of a new lead (core/admin.py turns a refusal into the form's error)."""

from django.contrib import admin

from core.admin import ServiceModelAdmin, adopt, form_changes, form_values
from leads import services
from leads.models import Lead, StageChange


class StageChangeInline(admin.TabularInline):
    model = StageChange
    extra = 0
    can_delete = False
    readonly_fields = ("from_stage", "to_stage", "changed_at", "changed_by", "rule", "reason")

    def has_add_permission(self, request, obj=None):
        return False  # stage changes go through leads.services so the history stays whole


@admin.register(Lead)
class LeadAdmin(ServiceModelAdmin):
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
    # Stage, score and consent only change through services (history rows, ledger, consent
    # evidence), never by hand here.
    readonly_fields = (
        "consent",
        "consent_required",
        "stage",
        "stage_entered_at",
        "score",
        "temperature",
        "recycle_count",
        "created_at",
        "updated_at",
    )
    inlines = [StageChangeInline]

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.lead_update(lead=obj, actor=request.user, **form_changes(form))
        else:
            saved = services.lead_create(actor=request.user, **form_values(form))
        adopt(obj, saved)

    def save_formset(self, request, form, formset, change):
        # The only inline is the read-only history: nothing of it is saved from here.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request, obj):
        services.lead_delete(lead=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for lead in queryset:
            services.lead_delete(lead=lead, actor=request.user)


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    list_display = ("lead", "from_stage", "to_stage", "changed_at", "changed_by", "rule")
    list_filter = ("to_stage",)
    raw_id_fields = ("lead", "changed_by")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
