from django.apps import AppConfig


class NurturingConfig(AppConfig):
    name = "nurturing"
    default_auto_field = "django.db.models.BigAutoField"
