from django.apps import AppConfig


class PlaybookConfig(AppConfig):
    """Demo data and the default playbook (scoring rules, nurture sequences). It drives every
    app, so it sits on top of them all and nothing imports it."""

    name = "playbook"
    default_auto_field = "django.db.models.BigAutoField"
