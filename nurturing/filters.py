"""List filters of enrollments and emails.

`lead`, `enrollment` and `step` are plain numbers over the caller's own (already scoped)
queryset, never choices checked against the whole table: an id that does not exist and one the
caller may not see give the same empty list, so a rep cannot learn which leads exist.
"""

import django_filters

from core.filters import IdFilter, RestFilterSet
from nurturing.models import (
    Enrollment,
    EnrollmentStatus,
    Message,
    MessageStatus,
    Step,
    TriggerKind,
)


class StepFilter(RestFilterSet):
    sequence = IdFilter(field_name="sequence_id")

    class Meta:
        model = Step
        fields: list[str] = []


class EnrollmentFilter(RestFilterSet):
    lead = IdFilter(field_name="lead_id")
    sequence = IdFilter(field_name="sequence_id")
    status = django_filters.ChoiceFilter(choices=EnrollmentStatus.choices)
    trigger = django_filters.ChoiceFilter(choices=TriggerKind.choices)

    class Meta:
        model = Enrollment
        fields: list[str] = []


class MessageFilter(RestFilterSet):
    lead = IdFilter(field_name="lead_id")
    enrollment = IdFilter(field_name="enrollment_id")
    step = IdFilter(field_name="step_id")
    status = django_filters.ChoiceFilter(choices=MessageStatus.choices)

    class Meta:
        model = Message
        fields: list[str] = []
