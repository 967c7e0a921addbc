"""nurturing.selectors: the review list is for marketers and admins."""

import pytest
from django.utils import timezone

from core.errors import Forbidden
from nurturing import selectors
from nurturing.models import Enrollment, Message, MessageStatus
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence

pytestmark = pytest.mark.django_db


def message(status: str, *, key: str, **lead_fields) -> Message:
    lead = LeadFactory(**lead_fields)
    sequence = make_sequence(key=key)
    now = timezone.now()
    enrollment = Enrollment.objects.create(
        lead=lead, sequence=sequence, trigger="manual", enrolled_at=now
    )
    return Message.objects.create(
        enrollment=enrollment,
        step=sequence.steps.get(),
        lead=lead,
        status=status,
        to_email=lead.email,
        due_at=now,
        created_at=now,
    )


def test_rep_may_not_list_emails_in_review_even_of_their_own_leads(rep):
    message(MessageStatus.UNKNOWN, key="own", owner=rep, stage="SAL")

    with pytest.raises(Forbidden) as caught:
        selectors.message_review_list(user=rep)

    assert (caught.value.status_code, caught.value.detail.code) == (403, "permission_denied")
    assert str(caught.value.detail) == "Only marketers and admins review emails."


@pytest.mark.parametrize("who", ["marketer", "admin_user"])
def test_marketers_and_admins_list_the_emails_in_review(request, who):
    unknown = message(MessageStatus.UNKNOWN, key="unknown")
    message(MessageStatus.SENT, key="sent")

    rows = selectors.message_review_list(user=request.getfixturevalue(who))

    assert [row.pk for row in rows] == [unknown.pk]
