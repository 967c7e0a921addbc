from django.apps import AppConfig


class ImportsConfig(AppConfig):
    """CSV import of leads: upload, column mapping, preview, a Celery job with progress and a
    report of bad rows. It sits beside the hand-off and the website (imported leads are scored
    and may start nurture)."""

    name = "imports"
    default_auto_field = "django.db.models.BigAutoField"
