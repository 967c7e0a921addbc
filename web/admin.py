"""Forms in the Django admin, saved and deleted through web.services (the API's checks: who may,
what a valid form is), with the hosted page's address and the embed snippet to copy.
Submissions are read-only: they change through the visitor (the form, the confirmation link)."""

from django.contrib import admin
from django.utils.html import format_html

from core.admin import ServiceModelAdmin, adopt, form_changes, form_values
from web import rendering, services
from web.models import Form, Submission


@admin.register(Form)
class FormAdmin(ServiceModelAdmin):
    list_display = ("name", "slug", "is_active", "double_opt_in", "source_channel", "sequence")
    list_filter = ("is_active", "double_opt_in", "source_channel")
    search_fields = ("name", "slug", "title")
    readonly_fields = ("hosted_page", "embed_snippet", "created_by", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "is_active", "hosted_page")}),
        ("What visitors see", {"fields": ("title", "intro", "fields", "consent_text")}),
        (
            "What they get",
            {
                "fields": (
                    "offer_title",
                    "offer_url",
                    "double_opt_in",
                    "thank_you_message",
                    "redirect_url",
                    "sequence",
                    "source_channel",
                )
            },
        ),
        ("On your website", {"fields": ("embed_snippet",)}),
        (None, {"fields": ("created_by", "created_at", "updated_at")}),
    )

    @admin.display(description="Hosted page")
    def hosted_page(self, form: Form) -> str:
        if form._state.adding:
            return "Shown once the form is saved."
        url = rendering.hosted_url(form)
        return format_html('<a href="{}">{}</a>', url, url)

    @admin.display(description="Embed snippet (paste it into any page)")
    def embed_snippet(self, form: Form) -> str:
        if form._state.adding:
            return "Shown once the form is saved."
        snippet = rendering.form_snippet(form)
        return format_html('<textarea readonly rows="14" cols="100">{}</textarea>', snippet)

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.form_update(form=obj, actor=request.user, **form_changes(form))
        else:
            saved = services.form_create(actor=request.user, **form_values(form))
        adopt(obj, saved)

    def delete_model(self, request, obj):
        services.form_delete(form=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for form in queryset:
            services.form_delete(form=form, actor=request.user)


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("email", "form", "status", "submitted_at", "confirmed_at", "lead")
    list_filter = ("status", "form")
    search_fields = ("email",)
    list_select_related = ("form", "lead")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
