from django.apps import AppConfig


class WebConfig(AppConfig):
    """The website front door: lead-capture forms (hosted pages, the embed snippet), consent
    with double opt-in. It sits above scoring and nurturing (a form starts a sequence)."""

    name = "web"
    default_auto_field = "django.db.models.BigAutoField"
