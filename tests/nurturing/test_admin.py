"""Admin for nurturing: the review list and its actions, sequences with their steps."""

import json
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.models import Role, User
from nurturing import emails
from nurturing.models import Enrollment, Message, MessageStatus, Sequence, Step, Suppression
from tests.factories import LeadFactory, StaffFactory
from tests.nurturing.conftest import make_sequence

pytestmark = pytest.mark.django_db


@pytest.fixture
def root_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-for-tests"))
    return client


SEQUENCE_PERMS = [
    f"nurturing.{verb}_{model}"
    for verb in ("view", "add", "change", "delete")
    for model in ("sequence", "step")
]


@pytest.fixture
def staff_rep_client(client):
    """A sales rep with every admin permission on sequences and emails: the services refuse."""
    rep = StaffFactory(
        username="staff-rep",
        role=Role.REP,
        perms=[*SEQUENCE_PERMS, "nurturing.view_message", "nurturing.change_message"],
    )
    client.force_login(rep)
    return client


SEQUENCE_FIELDS = (
    "key",
    "name",
    "description",
    "is_active",
    "trigger_kind",
    "trigger_stage",
    "trigger_stage_entry",
    "trigger_score",
    "trigger_filter",
    "exit_stages",
    "exit_on_sales_accept",
)
NEW_SEQUENCE = {
    "key": "admin-made",
    "name": "Admin made",
    "description": "",
    "is_active": True,
    "trigger_kind": "manual",
    "trigger_stage": "",
    "trigger_stage_entry": "any",
    "trigger_score": None,
    "trigger_filter": {},
    "exit_stages": [],
    "exit_on_sales_accept": True,
}
STEP_FIELDS = (
    "position",
    "delay_minutes",
    "subject",
    "body_text",
    "body_html",
    "send_if_score_below",
    "send_unless_event",
)


def _form_value(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else value


def step_values(step: Step) -> dict:
    return {"id": step.pk, "sequence": step.sequence_id} | {
        name: getattr(step, name) for name in STEP_FIELDS
    }


def sequence_form(sequence: Sequence | None = None, *, steps=None, **changes) -> dict:
    """The admin's add/change form as a browser posts it: the sequence's fields and its steps."""
    values = {name: getattr(sequence, name) for name in SEQUENCE_FIELDS} if sequence else {}
    values = {**NEW_SEQUENCE, **values, **changes}
    existing = list(sequence.steps.order_by("position")) if sequence else []
    steps = [step_values(step) for step in existing] if steps is None else steps
    data = {
        name: ("on" if value else "") if isinstance(value, bool) else _form_value(value)
        for name, value in values.items()
    }
    data |= {"steps-TOTAL_FORMS": len(steps), "steps-INITIAL_FORMS": len(existing)}
    for index, step in enumerate(steps):
        data |= {f"steps-{index}-{name}": _form_value(value) for name, value in step.items()}
    return {name: value for name, value in data.items() if value != ""}


def change_url(sequence: Sequence) -> str:
    return reverse("admin:nurturing_sequence_change", args=[sequence.pk])


def sequence_state(sequence: Sequence) -> dict:
    """Everything about a sequence and its steps, to assert a refused save changed nothing."""
    row = Sequence.objects.filter(pk=sequence.pk).values().first()
    steps = list(Step.objects.filter(sequence_id=sequence.pk).order_by("id").values())
    return {"sequence": row, "steps": steps}


def flashed(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


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


def test_stage_trigger_without_a_stage_is_refused_with_the_services_message(root_client):
    response = root_client.post(
        reverse("admin:nurturing_sequence_add"), sequence_form(trigger_kind="stage")
    )

    assert response.status_code == 200
    assert "A stage trigger needs a stage." in response.content.decode()
    assert Sequence.objects.count() == 0


def test_unknown_trigger_filter_is_refused_in_the_admin_and_changes_nothing(root_client):
    sequence = make_sequence(key="filtered")
    before = sequence_state(sequence)

    response = root_client.post(
        change_url(sequence),
        sequence_form(sequence, trigger_kind="filter", trigger_filter={"favourite_colour": "red"}),
    )

    assert response.status_code == 200
    assert "Unknown lead filters: favourite_colour." in response.content.decode()
    assert sequence_state(sequence) == before


def test_editing_a_step_into_a_broken_template_is_refused_and_changes_nothing(root_client):
    sequence = make_sequence(key="edited")
    before = sequence_state(sequence)
    step = step_values(sequence.steps.get()) | {"body_html": "<p>{% for %}</p>"}
    expected = f"Template error: {emails.check_template('<p>{% for %}</p>', autoescape=True)}"

    response = root_client.post(change_url(sequence), sequence_form(sequence, steps=[step]))

    assert response.status_code == 200
    assert escape(expected) in response.content.decode()
    assert sequence_state(sequence) == before


def test_reactivating_a_sequence_in_the_admin_resets_its_activation_time(root_client):
    long_ago = timezone.now() - timedelta(days=30)
    sequence = make_sequence(key="dormant", is_active=False)
    Sequence.objects.filter(pk=sequence.pk).update(activated_at=long_ago)
    sequence.refresh_from_db()

    response = root_client.post(change_url(sequence), sequence_form(sequence, is_active=True))

    assert response.status_code == 302, response.content.decode()[:2000]
    sequence.refresh_from_db()
    assert sequence.is_active is True
    assert sequence.activated_at > long_ago


def test_steps_added_changed_and_deleted_in_the_admin(root_client):
    sequence = make_sequence(key="steps", steps=2)
    first, second = sequence.steps.order_by("position")
    steps = [
        step_values(first) | {"subject": "New subject"},
        step_values(second) | {"DELETE": "on"},
        {"position": 3, "delay_minutes": 60, "subject": "Third", "body_text": "Hello again"},
    ]

    response = root_client.post(change_url(sequence), sequence_form(sequence, steps=steps))

    assert response.status_code == 302, response.content.decode()[:2000]
    rows = list(sequence.steps.order_by("position").values_list("pk", "position", "subject"))
    third = sequence.steps.get(position=3)
    assert rows == [(first.pk, 1, "New subject"), (third.pk, 3, "Third")]


def test_staff_rep_cannot_add_a_sequence_in_the_admin(staff_rep_client):
    response = staff_rep_client.post(reverse("admin:nurturing_sequence_add"), sequence_form())

    assert response.status_code == 200
    assert "Only marketers and admins may change nurture sequences." in response.content.decode()
    assert Sequence.objects.count() == 0


def test_staff_rep_cannot_change_a_sequence_or_its_steps_in_the_admin(staff_rep_client):
    sequence = make_sequence(key="guarded")
    before = sequence_state(sequence)
    step = step_values(sequence.steps.get()) | {"subject": "Changed by a rep"}

    response = staff_rep_client.post(
        change_url(sequence), sequence_form(sequence, name="Renamed", steps=[step])
    )

    assert response.status_code == 200
    assert "Only marketers and admins may change nurture sequences." in response.content.decode()
    assert sequence_state(sequence) == before


def test_staff_rep_cannot_delete_a_sequence_in_the_admin(staff_rep_client):
    sequence = make_sequence(key="kept")
    before = sequence_state(sequence)

    response = staff_rep_client.post(
        reverse("admin:nurturing_sequence_delete", args=[sequence.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert flashed(response) == ["Only marketers and admins may change nurture sequences."]
    assert sequence_state(sequence) == before


def test_staff_rep_cannot_settle_emails_in_review(staff_rep_client):
    message = in_review("rep-review@example.com")

    response = staff_rep_client.post(
        reverse("admin:nurturing_message_changelist"),
        {"action": "review_delivered", "_selected_action": [message.pk]},
    )

    assert response.status_code == 302
    assert flashed(response) == ["Only marketers and admins review emails."]
    message.refresh_from_db()
    assert message.status == MessageStatus.UNKNOWN


def test_enrollment_added_in_the_admin_is_made_by_the_service(root_client):
    lead = LeadFactory(email="enrol@example.com")
    sequence = make_sequence(key="by-hand")

    response = root_client.post(
        reverse("admin:nurturing_enrollment_add"), {"lead": lead.pk, "sequence": sequence.pk}
    )

    assert response.status_code == 302
    enrollment = Enrollment.objects.get()
    assert (enrollment.lead, enrollment.sequence, enrollment.trigger) == (lead, sequence, "manual")
    assert enrollment.enrolled_by.username == "root"
    assert enrollment.next_due_at == enrollment.enrolled_at  # the first step has no delay


def test_enrolling_a_do_not_contact_lead_is_refused_in_the_admin(root_client):
    lead = LeadFactory(do_not_contact=True, do_not_contact_reason="asked by phone")
    sequence = make_sequence(key="dnc")

    response = root_client.post(
        reverse("admin:nurturing_enrollment_add"), {"lead": lead.pk, "sequence": sequence.pk}
    )

    assert response.status_code == 200
    assert "The lead is do-not-contact (asked by phone)." in response.content.decode()
    assert Enrollment.objects.count() == 0


def test_stopping_enrollments_in_the_admin(root_client):
    enrollment = Enrollment.objects.create(
        lead=LeadFactory(),
        sequence=make_sequence(key="stop"),
        trigger="manual",
        enrolled_at=timezone.now(),
        next_due_at=timezone.now(),
    )

    response = root_client.post(
        reverse("admin:nurturing_enrollment_changelist"),
        {"action": "stop", "_selected_action": [enrollment.pk]},
    )

    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "stopped by root")
    assert enrollment.next_due_at is None


def test_staff_rep_cannot_stop_enrollments(client):
    client.force_login(
        StaffFactory(username="staff-rep", role=Role.REP, perms=["nurturing.view_enrollment"])
    )
    enrollment = Enrollment.objects.create(
        lead=LeadFactory(),
        sequence=make_sequence(key="kept-on"),
        trigger="manual",
        enrolled_at=timezone.now(),
    )

    response = client.post(
        reverse("admin:nurturing_enrollment_changelist"),
        {"action": "stop", "_selected_action": [enrollment.pk]},
    )

    assert response.status_code == 302
    assert flashed(response) == ["Only marketers and admins may change nurture sequences."]
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.ended_at) == ("active", None)


def test_suppression_added_in_the_admin_is_stored_by_the_service(root_client):
    response = root_client.post(
        reverse("admin:nurturing_suppression_add"),
        {"email": "Bounced@Example.COM", "reason": "bounced", "detail": "by hand"},
    )

    assert response.status_code == 302
    assert list(Suppression.objects.values_list("email", "reason", "detail")) == [
        ("bounced@example.com", "bounced", "by hand")
    ]
