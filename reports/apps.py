from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The marketer's dashboard reports: the cohort funnel and source attribution, read from
    the stage history. It sits above the hand-off (rejections and recycles are its figures)."""

    name = "reports"
    default_auto_field = "django.db.models.BigAutoField"
