"""Every write of nurturing. One module per concern; import from here."""

from nurturing.services.dispatch import due_dispatch, in_flight_recover, message_review_resolve
from nurturing.services.enrollments import (
    EnrollmentRefused,
    enrollment_create,
    enrollment_exit,
    enrollments_move_to_lead,
    lead_enrollments_exit,
    leads_stage_entered,
    messages_move_to_lead,
    triggers_match,
)
from nurturing.services.sending import messages_send, suppression_add
from nurturing.services.sequences import (
    InvalidSequence,
    require_marketing,
    sequence_create,
    sequence_delete,
    sequence_update,
    step_create,
    step_delete,
    step_update,
)
from nurturing.services.tracking import click_record, open_record, unsubscribe

__all__ = [
    "EnrollmentRefused",
    "InvalidSequence",
    "click_record",
    "due_dispatch",
    "enrollment_create",
    "enrollment_exit",
    "enrollments_move_to_lead",
    "in_flight_recover",
    "lead_enrollments_exit",
    "leads_stage_entered",
    "message_review_resolve",
    "messages_move_to_lead",
    "messages_send",
    "open_record",
    "require_marketing",
    "sequence_create",
    "sequence_delete",
    "sequence_update",
    "step_create",
    "step_delete",
    "step_update",
    "suppression_add",
    "triggers_match",
    "unsubscribe",
]
