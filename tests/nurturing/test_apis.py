"""/api/v1/nurturing/: marketers and admins write, reps read at most what they may see."""

import pytest
from django.utils import timezone

from nurturing.models import Enrollment, Message, MessageStatus, Sequence, Step
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence

pytestmark = pytest.mark.django_db

SEQUENCES = "/api/v1/nurturing/sequences/"
STEPS = "/api/v1/nurturing/steps/"
ENROLLMENTS = "/api/v1/nurturing/enrollments/"
MESSAGES = "/api/v1/nurturing/messages/"

NEW_SEQUENCE = {
    "key": "webinar",
    "name": "Webinar follow-up",
    "trigger_kind": "filter",
    "trigger_filter": {"source": ["event"], "score_min": 10},
    "exit_stages": ["SQL"],
}


def enrollment_for(lead, sequence=None, **fields) -> Enrollment:
    now = timezone.now()
    return Enrollment.objects.create(
        lead=lead,
        sequence=sequence or make_sequence(key=f"s{lead.pk}"),
        trigger="manual",
        enrolled_at=now,
        next_due_at=now,
        **fields,
    )


# --- Sequences ------------------------------------------------------------------------------------


def test_marketer_creates_a_filter_triggered_sequence(marketer_client):
    response = marketer_client.post(SEQUENCES, NEW_SEQUENCE, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["key"], body["trigger_kind"], body["steps"]) == ("webinar", "filter", [])
    assert Sequence.objects.get().trigger_filter == {"source": ["event"], "score_min": 10}


def test_unknown_filter_is_400_and_creates_nothing(marketer_client):
    bad = {**NEW_SEQUENCE, "trigger_filter": {"favourite_colour": "red"}}

    response = marketer_client.post(SEQUENCES, bad, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "trigger_filter" in response.json()["fields"]
    assert Sequence.objects.count() == 0


def test_stage_trigger_without_stage_is_400(marketer_client):
    response = marketer_client.post(
        SEQUENCES, {"key": "x", "name": "X", "trigger_kind": "stage"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {"trigger_stage": ["Required."]}
    assert Sequence.objects.count() == 0


def test_duplicate_key_is_409(marketer_client):
    make_sequence(key="webinar")

    response = marketer_client.post(SEQUENCES, NEW_SEQUENCE, format="json")

    assert response.status_code == 409
    assert Sequence.objects.count() == 1


def test_rep_reads_sequences_but_cannot_write_them(rep_client):
    sequence = make_sequence(key="read")

    listed = rep_client.get(SEQUENCES)
    created = rep_client.post(SEQUENCES, NEW_SEQUENCE, format="json")
    changed = rep_client.patch(f"{SEQUENCES}{sequence.pk}/", {"name": "No"}, format="json")

    assert listed.status_code == 200
    assert [s["key"] for s in listed.json()["results"]] == ["read"]
    assert (created.status_code, changed.status_code) == (403, 403)
    assert created.json()["code"] == "permission_denied"
    assert Sequence.objects.get().name == "Read"


def test_anonymous_gets_401_everywhere(anonymous):
    for url in (SEQUENCES, STEPS, ENROLLMENTS, MESSAGES, f"{MESSAGES}review/"):
        response = anonymous.get(url)
        assert response.status_code == 401, url
        assert response.json()["code"] == "not_authenticated"
    assert anonymous.post(SEQUENCES, NEW_SEQUENCE, format="json").status_code == 401
    assert Sequence.objects.count() == 0


def test_sequence_list_query_count_is_flat(marketer_client, django_assert_max_num_queries):
    for n in range(5):
        make_sequence(key=f"q{n}", steps=3)

    with django_assert_max_num_queries(5):
        response = marketer_client.get(SEQUENCES)

    assert response.status_code == 200
    assert len(response.json()["results"]) == 5


def test_deactivating_and_reactivating_resets_the_activation_time(marketer_client):
    sequence = make_sequence(key="toggle")
    first = sequence.activated_at

    marketer_client.patch(f"{SEQUENCES}{sequence.pk}/", {"is_active": False}, format="json")
    response = marketer_client.patch(
        f"{SEQUENCES}{sequence.pk}/", {"is_active": True}, format="json"
    )

    assert response.status_code == 200
    sequence.refresh_from_db()
    assert sequence.is_active is True
    assert sequence.activated_at > first


def test_sequence_with_enrollments_cannot_be_deleted(marketer_client):
    enrollment = enrollment_for(LeadFactory())

    response = marketer_client.delete(f"{SEQUENCES}{enrollment.sequence_id}/")

    assert response.status_code == 409
    assert response.json()["code"] == "sequence_in_use"
    assert Sequence.objects.count() == 1


# --- Steps ---------------------------------------------------------------------------------


def test_marketer_appends_a_step(marketer_client):
    sequence = make_sequence(key="steps", steps=2)

    response = marketer_client.post(
        STEPS,
        {
            "sequence": sequence.pk,
            "delay_minutes": 2880,
            "subject": "Hi {{ first_name }}",
            "body_text": "Text",
            "send_if_score_below": 40,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["position"] == 3
    assert list(sequence.steps.values_list("position", flat=True)) == [1, 2, 3]


def test_step_with_a_broken_template_is_400_and_not_saved(marketer_client):
    sequence = make_sequence(key="broken", steps=1)

    response = marketer_client.post(
        STEPS,
        {"sequence": sequence.pk, "subject": "{% if %}", "body_text": "x"},
        format="json",
    )

    assert response.status_code == 400
    assert "subject" in response.json()["fields"]
    assert Step.objects.count() == 1


def test_step_at_a_taken_position_is_409(marketer_client):
    sequence = make_sequence(key="taken", steps=1)

    response = marketer_client.post(
        STEPS,
        {"sequence": sequence.pk, "position": 1, "subject": "S", "body_text": "x"},
        format="json",
    )

    assert response.status_code == 409
    assert Step.objects.count() == 1


def test_rep_cannot_change_steps(rep_client):
    step = make_sequence(key="repstep").steps.get()

    response = rep_client.patch(f"{STEPS}{step.pk}/", {"subject": "Mine"}, format="json")

    assert response.status_code == 403
    step.refresh_from_db()
    assert step.subject.startswith("repstep step 1")


# --- Enrollments -------------------------------------------------------------------------------


def test_marketer_enrolls_a_lead_by_hand(marketer_client):
    lead = LeadFactory()
    sequence = make_sequence(key="hand")

    response = marketer_client.post(
        ENROLLMENTS, {"lead": lead.pk, "sequence": sequence.pk}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["lead"], body["status"], body["trigger"], body["paused"]) == (
        lead.pk,
        "active",
        "manual",
        False,
    )


def test_second_active_enrollment_is_409(marketer_client):
    lead = LeadFactory()
    enrollment = enrollment_for(lead)

    response = marketer_client.post(
        ENROLLMENTS, {"lead": lead.pk, "sequence": enrollment.sequence_id}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "already_enrolled"
    assert Enrollment.objects.count() == 1


def test_do_not_contact_lead_cannot_be_enrolled(marketer_client):
    lead = LeadFactory(do_not_contact=True, do_not_contact_reason="unsubscribed")
    sequence = make_sequence(key="dnc")

    response = marketer_client.post(
        ENROLLMENTS, {"lead": lead.pk, "sequence": sequence.pk}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "enrollment_refused"
    assert Enrollment.objects.count() == 0


def test_rep_sees_only_enrollments_of_leads_they_may_see(rep_client, rep, other_rep):
    mine = enrollment_for(LeadFactory(owner=rep, stage="SAL"))
    enrollment_for(LeadFactory(owner=other_rep, stage="SAL"))
    enrollment_for(LeadFactory(stage="IQL"))

    response = rep_client.get(ENROLLMENTS)

    assert response.status_code == 200
    assert [e["id"] for e in response.json()["results"]] == [mine.pk]
    assert response.json()["results"][0]["paused"] is True


def test_other_reps_enrollment_is_404(other_rep_client, rep):
    enrollment = enrollment_for(LeadFactory(owner=rep, stage="SAL"))

    response = other_rep_client.get(f"{ENROLLMENTS}{enrollment.pk}/")

    assert response.status_code == 404


def test_rep_cannot_enroll_or_stop(rep_client, rep):
    lead = LeadFactory(owner=rep, stage="SAL")
    enrollment = enrollment_for(lead)

    enrolled = rep_client.post(
        ENROLLMENTS, {"lead": lead.pk, "sequence": make_sequence(key="r").pk}, format="json"
    )
    stopped = rep_client.post(f"{ENROLLMENTS}{enrollment.pk}/exit/", {}, format="json")

    assert (enrolled.status_code, stopped.status_code) == (403, 403)
    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    assert Enrollment.objects.count() == 1


def test_marketer_stops_an_enrollment(marketer_client):
    enrollment = enrollment_for(LeadFactory())

    response = marketer_client.post(
        f"{ENROLLMENTS}{enrollment.pk}/exit/", {"reason": "talked on the phone"}, format="json"
    )
    again = marketer_client.post(f"{ENROLLMENTS}{enrollment.pk}/exit/", {}, format="json")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["exit_reason"]) == (
        "exited",
        "talked on the phone",
    )
    assert again.status_code == 409


def test_enrollment_list_query_count_is_flat(marketer_client, django_assert_max_num_queries):
    sequence = make_sequence(key="many")
    for _ in range(6):
        enrollment_for(LeadFactory(), sequence)

    with django_assert_max_num_queries(4):
        response = marketer_client.get(ENROLLMENTS)

    assert len(response.json()["results"]) == 6


# --- Messages and review -------------------------------------------------------------------------


def message_for(enrollment, status=MessageStatus.SENT) -> Message:
    now = timezone.now()
    return Message.objects.create(
        enrollment=enrollment,
        step=enrollment.sequence.steps.first(),
        lead=enrollment.lead,
        status=status,
        to_email=enrollment.lead.email,
        due_at=now,
        created_at=now,
    )


def test_review_lists_emails_with_unknown_outcome(marketer_client):
    unknown = message_for(enrollment_for(LeadFactory()), MessageStatus.UNKNOWN)
    message_for(enrollment_for(LeadFactory()), MessageStatus.SENT)

    response = marketer_client.get(f"{MESSAGES}review/")

    assert response.status_code == 200
    assert [m["id"] for m in response.json()["results"]] == [unknown.pk]


def test_resolving_as_delivered_marks_it_sent(marketer_client):
    unknown = message_for(enrollment_for(LeadFactory()), MessageStatus.UNKNOWN)

    response = marketer_client.post(
        f"{MESSAGES}{unknown.pk}/resolve/", {"delivered": True}, format="json"
    )
    again = marketer_client.post(
        f"{MESSAGES}{unknown.pk}/resolve/", {"delivered": True}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "sent"
    assert again.status_code == 409


def test_rep_cannot_review(rep_client, rep):
    unknown = message_for(
        enrollment_for(LeadFactory(owner=rep, stage="SAL")), MessageStatus.UNKNOWN
    )

    listed = rep_client.get(f"{MESSAGES}review/")
    resolved = rep_client.post(
        f"{MESSAGES}{unknown.pk}/resolve/", {"delivered": True}, format="json"
    )

    assert (listed.status_code, resolved.status_code) == (403, 403)
    refused = {"code": "permission_denied", "message": "Only marketers and admins review emails."}
    assert listed.json() == resolved.json() == refused
    unknown.refresh_from_db()
    assert unknown.status == MessageStatus.UNKNOWN


def test_rep_resolving_an_email_of_a_lead_they_cannot_see_gets_403(rep_client, other_rep):
    unknown = message_for(
        enrollment_for(LeadFactory(owner=other_rep, stage="SAL")), MessageStatus.UNKNOWN
    )

    response = rep_client.post(
        f"{MESSAGES}{unknown.pk}/resolve/", {"delivered": True}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["message"] == "Only marketers and admins review emails."
    unknown.refresh_from_db()
    assert unknown.status == MessageStatus.UNKNOWN


def test_anonymous_cannot_resolve(anonymous):
    unknown = message_for(enrollment_for(LeadFactory()), MessageStatus.UNKNOWN)

    response = anonymous.post(
        f"{MESSAGES}{unknown.pk}/resolve/", {"delivered": True}, format="json"
    )

    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
    unknown.refresh_from_db()
    assert unknown.status == MessageStatus.UNKNOWN


def test_admin_reviews_and_resolves(admin_client_api):
    unknown = message_for(enrollment_for(LeadFactory()), MessageStatus.UNKNOWN)

    listed = admin_client_api.get(f"{MESSAGES}review/")
    resolved = admin_client_api.post(
        f"{MESSAGES}{unknown.pk}/resolve/", {"delivered": False}, format="json"
    )

    assert [m["id"] for m in listed.json()["results"]] == [unknown.pk]
    assert (resolved.status_code, resolved.json()["status"]) == (200, "queued")


def test_rep_sees_only_messages_of_their_leads(rep_client, rep, other_rep):
    mine = message_for(enrollment_for(LeadFactory(owner=rep, stage="SAL")))
    message_for(enrollment_for(LeadFactory(owner=other_rep, stage="SAL")))

    response = rep_client.get(MESSAGES)

    assert [m["id"] for m in response.json()["results"]] == [mine.pk]


def test_message_list_query_count_is_flat(marketer_client, django_assert_max_num_queries):
    sequence = make_sequence(key="msgs")
    for _ in range(6):
        message_for(enrollment_for(LeadFactory(), sequence))

    with django_assert_max_num_queries(4):
        response = marketer_client.get(MESSAGES)

    assert len(response.json()["results"]) == 6
