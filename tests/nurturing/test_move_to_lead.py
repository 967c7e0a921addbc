"""Merging duplicates: nurture enrollments and emails given to the kept lead."""

import pytest
from django.utils import timezone

from nurturing import services
from nurturing.models import Enrollment, EnrollmentStatus, Message
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence

pytestmark = pytest.mark.django_db


def _enroll(lead, sequence, status=EnrollmentStatus.ACTIVE) -> Enrollment:
    return Enrollment.objects.create(
        lead=lead, sequence=sequence, trigger="manual", enrolled_at=timezone.now(), status=status
    )


def test_enrollments_move_and_a_clashing_active_one_ends_first():
    keep, other = LeadFactory(), LeadFactory()
    both, only_other = make_sequence(key="both"), make_sequence(key="only-other")
    kept = _enroll(keep, both)
    clashing = _enroll(other, both)
    moving = _enroll(other, only_other)
    finished = _enroll(other, both, status=EnrollmentStatus.COMPLETED)

    moved = services.enrollments_move_to_lead(from_lead_id=other.pk, to_lead_id=keep.pk)

    assert moved == 3
    rows = {row.pk: row for row in Enrollment.objects.filter(lead=keep)}
    assert set(rows) == {kept.pk, clashing.pk, moving.pk, finished.pk}
    assert rows[clashing.pk].status == EnrollmentStatus.EXITED
    assert rows[clashing.pk].exit_reason == f"merged into lead {keep.pk}"
    assert (rows[kept.pk].status, rows[moving.pk].status) == ("active", "active")


def test_messages_move_with_their_enrollments():
    keep, other = LeadFactory(), LeadFactory()
    sequence = make_sequence(key="s")
    enrollment = _enroll(other, sequence)
    now = timezone.now()
    Message.objects.create(
        enrollment=enrollment,
        step=sequence.steps.first(),
        lead=other,
        to_email=other.email,
        due_at=now,
        created_at=now,
    )

    assert services.messages_move_to_lead(from_lead_id=other.pk, to_lead_id=keep.pk) == 1
    assert Message.objects.get().lead_id == keep.pk
