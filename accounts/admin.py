"""Users in the Django admin. Saves and deletes go through accounts.services, so the admin runs
the API's checks (admins manage everyone, managers only reps; password validators; unique
usernames); the list shows only the users the selectors let the asker see."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied

from accounts import selectors, services
from accounts.models import User
from core.admin import ServiceModelAdmin, adopt, form_changes, form_values
from core.errors import ApiError

# The fields the services take; the form's others (password1/2, dates) are handled below.
_SERVICE_FIELDS = services.FIELDS | services.ADMIN_ONLY
_ROUTING = ("capacity", "is_away", "away_until")
_TERRITORY = ("territory_countries", "territory_size_min", "territory_size_max")


@admin.register(User)
# The stubs type UserAdmin.get_form and ModelAdmin.get_form differently; at run time the MRO
# calls ServiceModelAdmin.get_form, which wraps UserAdmin's through super().
class LeadcrmUserAdmin(UserAdmin, ServiceModelAdmin):  # type: ignore[misc]
    list_display = ("username", "email", "role", "is_active", "capacity", "is_away", "away_until")
    list_filter = ("role", "is_active", "is_away", "is_superuser")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("leadcrm", {"fields": ("role", "is_active", *_ROUTING, *_TERRITORY)}),
        ("Admin site", {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "password1", "password2")}),
        ("leadcrm", {"fields": ("role", "email", "first_name", "last_name", *_ROUTING)}),
    )
    readonly_fields = ("last_login", "date_joined")

    def get_queryset(self, request):
        return selectors.user_list(actor=request.user)

    def save_model(self, request, obj, form, change):
        if change:
            changes = {k: v for k, v in form_changes(form).items() if k in _SERVICE_FIELDS}
            changes.pop("password", None)  # the hash widget: passwords change on their own page
            saved = services.user_update(actor=request.user, user_id=obj.pk, **changes)
        else:
            values = {k: v for k, v in form_values(form).items() if k in _SERVICE_FIELDS}
            values["password"] = form.cleaned_data.get("password1") or None
            saved = services.user_create(actor=request.user, **values)
        adopt(obj, saved)

    def save_related(self, request, form, formsets, change):
        if {"groups", "user_permissions"} & set(form.changed_data):
            services.user_access_authorize(actor=request.user)
        super().save_related(request, form, formsets, change)

    def delete_model(self, request, obj):
        services.user_delete(actor=request.user, user_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            services.user_delete(actor=request.user, user_id=user.pk)

    def user_change_password(self, request, id, form_url=""):
        # Who may set whose password is the services' decision (a manager: a rep's only).
        user = self.get_object(request, unquote(id))
        if user is not None:
            try:
                services.user_update_authorize(actor=request.user, user=user, changed={"password"})
            except ApiError as exc:
                raise PermissionDenied(str(exc.detail)) from exc
        return super().user_change_password(request, id, form_url)
