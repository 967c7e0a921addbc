from django.apps import AppConfig


class WebConfig(AppConfig):
    """The website front door: lead-capture forms (hosted pages, the embed snippet), consent
    with double opt-in. It sits above scoring and nurturing (a form starts a sequence)."""

    name = "web"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import hooks
        from web.selectors import consent_missing_q
        from web.services import submissions_move_to_lead

        # A merge gives the merged lead's form submissions to the kept lead.
        hooks.lead_rows_move.register(submissions_move_to_lead)

        # TEMPORARY (web-forms): replaced by the CONSENT helper's nurture gate at merge. A lead
        # that needs consent (a form made it) is not mailed by nurture until it has it: with
        # double opt-in, until its address is confirmed.
        hooks.nurture_pause_conditions.register(consent_missing_q)
