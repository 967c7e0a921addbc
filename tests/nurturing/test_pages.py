"""The nurture pages: sequences with their figures per step, the step editor, a preview for a
real lead and a test send. Everyone reads; marketers and admins change."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from leads.models import Stage, StageChange
from nurturing.models import Enrollment, Message, MessageStatus, Step
from nurturing.services import tracking
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def message(step, lead, status=MessageStatus.SENT, sent_at=None, **fields) -> Message:
    now = timezone.now()
    enrollment = Enrollment.objects.filter(lead=lead, sequence=step.sequence).first()
    if enrollment is None:
        enrollment = Enrollment.objects.create(
            lead=lead, sequence=step.sequence, trigger="manual", enrolled_at=now
        )
    return Message.objects.create(
        enrollment=enrollment,
        step=step,
        lead=lead,
        status=status,
        to_email=lead.email,
        due_at=now,
        created_at=now,
        sent_at=sent_at if sent_at is not None else (now if status != "skipped" else None),
        **fields,
    )


def entered(lead, stage, at) -> None:
    StageChange.objects.create(lead=lead, from_stage="IQL", to_stage=stage, changed_at=at)


# --- who may do what ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nurturing/sequences/", "/nurturing/sequences/new/"])
def test_anonymous_is_sent_to_log_in(client, path):
    response = client.get(path)

    assert (response.status_code, response["Location"]) == (302, f"/accounts/login/?next={path}")


@pytest.mark.parametrize("who", ["rep", "manager"])
def test_reps_and_managers_read_sequences_and_change_nothing(request, who):
    sequence = make_sequence(key="welcome", steps=2)
    first, second = sequence.steps.order_by("position")
    client = logged_in(request.getfixturevalue(who))
    base = f"/nurturing/sequences/{sequence.pk}"

    listing = text(client.get("/nurturing/sequences/"))
    detail = text(client.get(f"{base}/"))
    refused = [
        client.get("/nurturing/sequences/new/").status_code,
        client.get(f"{base}/edit/").status_code,
        client.post(f"{base}/toggle/").status_code,
        client.get(f"{base}/steps/new/").status_code,
        client.get(f"{base}/steps/{first.pk}/").status_code,
        client.post(f"{base}/steps/{first.pk}/move/", {"direction": "down"}).status_code,
        client.get(f"{base}/steps/{first.pk}/preview.html").status_code,
        client.post(f"{base}/steps/{first.pk}/test/").status_code,
    ]

    assert "Welcome" in listing and "New sequence" not in listing
    assert "Add a step" not in detail and "Pause" not in detail
    assert refused == [403] * 8
    sequence.refresh_from_db()
    assert sequence.is_active
    assert list(sequence.steps.order_by("position")) == [first, second]


def test_a_step_of_another_sequence_is_not_found(marketer):
    one, other = make_sequence(key="one"), make_sequence(key="other")
    step = other.steps.get()

    response = logged_in(marketer).get(f"/nurturing/sequences/{one.pk}/steps/{step.pk}/")

    assert response.status_code == 404


# --- figures ----------------------------------------------------------------------------------


def test_figures_per_step_count_each_outcome_and_the_stage_reached_within_30_days(
    marketer, django_assert_max_num_queries
):
    sequence = make_sequence(key="nurture", steps=2)
    first, second = sequence.steps.order_by("position")
    sent_at = timezone.now() - timedelta(days=40)
    leads = [LeadFactory() for _ in range(6)]
    message(first, leads[0], sent_at=sent_at, opened_at=sent_at, clicked_at=sent_at)
    message(first, leads[1], sent_at=sent_at, opened_at=sent_at, unsubscribed_at=sent_at)
    message(first, leads[2], status=MessageStatus.BOUNCED, sent_at=sent_at)
    message(first, leads[3], status=MessageStatus.SKIPPED)
    message(first, leads[4], sent_at=sent_at)
    message(second, leads[0], sent_at=sent_at)
    entered(leads[0], Stage.MQL, sent_at + timedelta(days=30))  # its own instant: counted
    entered(leads[1], Stage.MQL, sent_at + timedelta(days=30, seconds=1))  # too late
    entered(leads[4], Stage.MQL, sent_at - timedelta(seconds=1))  # before the email
    entered(leads[0], Stage.SQL, sent_at + timedelta(days=2))
    client = logged_in(marketer)

    with django_assert_max_num_queries(7):
        page = text(client.get(f"/nurturing/sequences/{sequence.pk}/"))

    rows = re.findall(r"<tr>\s*<td><strong>(\d)\.</strong>.*?</tr>", page)
    assert rows == ["1", "2"]
    step_one = re.search(r"<strong>1\.</strong>.*?</tr>", page).group(0)
    numbers = re.findall(r'class="num">(\d+)</td>', step_one)
    # reached, sent, delivered, opened, clicked, unsubscribed, bounced, -> MQL, -> SQL
    assert numbers == ["5", "4", "3", "2", "1", "1", "1", "1", "1"]
    step_two = re.search(r"<strong>2\.</strong>.*?</tr>", page).group(0)
    assert re.findall(r'class="num">(\d+)</td>', step_two) == [
        "1", "1", "1", "0", "0", "0", "0", "1", "1",
    ]  # fmt: skip
    assert "Emails sent, opened and clicked at each step of Nurture" in page


def test_unsubscribing_marks_the_email_whose_link_was_used(marketer):
    sequence = make_sequence(key="unsub", steps=1)
    lead = LeadFactory()
    sent = message(sequence.steps.get(), lead)

    tracking.unsubscribe(message_id=sent.pk)

    sent.refresh_from_db()
    assert sent.unsubscribed_at is not None


# --- editing ----------------------------------------------------------------------------------


def test_steps_move_up_and_down_and_the_ends_stay_put(marketer):
    sequence = make_sequence(key="order", steps=3)
    one, two, three = sequence.steps.order_by("position")
    client = logged_in(marketer)
    base = f"/nurturing/sequences/{sequence.pk}/steps"

    client.post(f"{base}/{three.pk}/move/", {"direction": "up"})
    client.post(f"{base}/{one.pk}/move/", {"direction": "up"})  # already first

    assert list(sequence.steps.order_by("position").values_list("pk", flat=True)) == [
        one.pk,
        three.pk,
        two.pk,
    ]


def test_a_step_with_safe_is_refused_on_its_field_and_not_saved(marketer):
    sequence = make_sequence(key="safe", steps=1)
    step = sequence.steps.get()
    before = step.body_html

    response = logged_in(marketer).post(
        f"/nurturing/sequences/{sequence.pk}/steps/{step.pk}/",
        {
            "delay_minutes": "0",
            "subject": "Hi",
            "body_text": "Hello",
            "body_html": "<p>{{ first_name|safe }}</p>",
        },
    )

    page = text(response)
    assert response.status_code == 200
    assert "Template error: The |safe filter is not allowed" in page
    step.refresh_from_db()
    assert step.body_html == before


def test_a_new_sequence_and_step_from_the_forms(marketer):
    client = logged_in(marketer)

    created = client.post(
        "/nurturing/sequences/new/",
        {
            "name": "Trial tips",
            "key": "trial-tips",
            "is_active": "on",
            "trigger_kind": "stage",
            "trigger_stage": "PQL",
            "trigger_stage_entry": "any",
            "exit_stages": ["SQL"],
            "exit_on_sales_accept": "on",
        },
    )
    sequence_id = int(re.search(r"/nurturing/sequences/(\d+)/", created["Location"]).group(1))
    step = client.post(
        f"/nurturing/sequences/{sequence_id}/steps/new/",
        {"delay_minutes": "1440", "subject": "Tips for {{ company }}", "body_text": "Hi"},
    )

    assert step.status_code == 302
    saved = Step.objects.get(sequence_id=sequence_id)
    assert (saved.position, saved.delay_minutes, saved.sequence.exit_stages) == (1, 1440, ["SQL"])


def test_a_stage_trigger_without_a_stage_is_refused_on_its_field(marketer):
    response = logged_in(marketer).post(
        "/nurturing/sequences/new/",
        {"name": "X", "key": "x", "trigger_kind": "stage", "trigger_stage_entry": "any"},
    )

    assert response.status_code == 200
    assert re.search(r'field invalid">\s*<label for="id_trigger_stage"', response.content.decode())


# --- preview and test -------------------------------------------------------------------------


def test_preview_renders_for_a_real_lead_and_names_the_fallbacks(marketer):
    sequence = make_sequence(key="pre", steps=1)
    step = sequence.steps.get()
    blank = LeadFactory(email="blank@acme.example", first_name="", company_name="")

    page = text(
        logged_in(marketer).get(
            f"/nurturing/sequences/{sequence.pk}/steps/{step.pk}/", {"lead": "blank@acme.example"}
        )
    )

    assert '<dd class="subject">pre step 1 for there</dd>' in page
    assert (
        "<code>first_name</code> → “there”" in page
        and "<code>company</code> → “your company”" in page
    )
    assert f"preview.html?lead={blank.pk}" in page


def test_the_html_preview_is_sandboxed_and_escapes_the_lead(marketer):
    sequence = make_sequence(key="frame", steps=1)
    step = sequence.steps.get()
    lead = LeadFactory(first_name="<script>alert(1)</script>")

    response = logged_in(marketer).get(
        f"/nurturing/sequences/{sequence.pk}/steps/{step.pk}/preview.html", {"lead": lead.pk}
    )

    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy
    assert "frame-ancestors 'self'" in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.content.decode()


def test_send_a_test_to_yourself_over_smtp(marketer, smtp_mailer):
    sequence = make_sequence(key="test", steps=1)
    step = sequence.steps.get()
    lead = LeadFactory(first_name="Ada")

    response = logged_in(marketer).post(
        f"/nurturing/sequences/{sequence.pk}/steps/{step.pk}/test/", {"lead": lead.pk}, follow=True
    )

    assert f"Test sent to marketer@example.com, rendered for {lead.email}." in text(response)
    (received,) = smtp_mailer.sink.snapshot()
    assert received.rcpt == "marketer@example.com"
    assert str(received.message["Subject"]) == "[Test] test step 1 for Ada"
    assert "Hello Ada, step 1." in received.message.get_body(("plain",)).get_content()
    assert not Message.objects.exists()  # a test is no nurture email
