from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User


@admin.register(User)
class LeadcrmUserAdmin(UserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "role", "is_superuser")
    list_filter = ("role", "is_superuser", "is_active")
    # UserAdmin sets fieldsets; the stubs type them as ModelAdmin's (None by default).
    fieldsets = (*(UserAdmin.fieldsets or ()), ("leadcrm", {"fields": ("role",)}))
    add_fieldsets = (*UserAdmin.add_fieldsets, ("leadcrm", {"fields": ("role",)}))
