"""Admin for nurturing: the review list and its actions, sequences with their steps."""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from nurturing.models import Enrollment, Message, MessageStatus, Sequence
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence

pytestmark = pytest.mark.django_db


@pytest.fixture
def root_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-for-tests"))
    return client


def in_review(email: str) -> Message:
    lead = LeadFactory(email=email)
    sequence = make_sequence(key=email.split("@")[0])
    now = timezone.now()
    enrollment = Enrollment.objects.create(
        lead=lead, sequence=sequence, trigger="manual", enrolled_at=now
    )
    return Message.objects.create(
        enrollment=enrollment,
        step=sequence.steps.get(),
        lead=lead,
        status=MessageStatus.UNKNOWN,
        to_email=email,
        due_at=now,
        created_at=now,
    )


def test_review_list_shows_emails_with_unknown_outcome(root_client):
    message = in_review("maybe@example.com")
    in_review("other@example.com")
    Message.objects.exclude(pk=message.pk).update(status=MessageStatus.SENT)

    response = root_client.get(
        reverse("admin:nurturing_message_changelist"), {"status__exact": "unknown"}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "maybe@example.com" in html
    assert "other@example.com" not in html


@pytest.mark.parametrize(
    ("action", "status"),
    [("review_delivered", MessageStatus.SENT), ("review_not_delivered", MessageStatus.QUEUED)],
)
def test_review_actions_settle_the_email(root_client, action, status):
    message = in_review("settle@example.com")

    response = root_client.post(
        reverse("admin:nurturing_message_changelist"),
        {"action": action, "_selected_action": [message.pk]},
    )

    assert response.status_code == 302
    message.refresh_from_db()
    assert message.status == status


def test_review_action_leaves_emails_not_in_review_alone(root_client):
    message = in_review("sent@example.com")
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENT)

    root_client.post(
        reverse("admin:nurturing_message_changelist"),
        {"action": "review_not_delivered", "_selected_action": [message.pk]},
    )

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_sequence_added_in_the_admin_is_active_from_now(root_client):
    response = root_client.post(
        reverse("admin:nurturing_sequence_add"),
        {
            "key": "admin-made",
            "name": "Admin made",
            "is_active": "on",
            "trigger_kind": "manual",
            "trigger_stage_entry": "any",
            "trigger_filter": "{}",
            "exit_stages": "[]",
            "exit_on_sales_accept": "on",
            "steps-TOTAL_FORMS": "1",
            "steps-INITIAL_FORMS": "0",
            "steps-0-position": "1",
            "steps-0-delay_minutes": "0",
            "steps-0-subject": "Hi {{ first_name }}",
            "steps-0-body_text": "Hello",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    sequence = Sequence.objects.get(key="admin-made")
    assert sequence.activated_at is not None
    assert sequence.created_by.username == "root"
    assert sequence.steps.count() == 1


def test_step_with_a_broken_template_is_refused_in_the_admin(root_client):
    response = root_client.post(
        reverse("admin:nurturing_sequence_add"),
        {
            "key": "broken",
            "name": "Broken",
            "trigger_kind": "manual",
            "trigger_stage_entry": "any",
            "trigger_filter": "{}",
            "exit_stages": "[]",
            "steps-TOTAL_FORMS": "1",
            "steps-INITIAL_FORMS": "0",
            "steps-0-position": "1",
            "steps-0-delay_minutes": "0",
            "steps-0-subject": "{% if %}",
            "steps-0-body_text": "Hello",
        },
    )

    assert response.status_code == 200
    assert "Template error" in response.content.decode()
    assert Sequence.objects.count() == 0
