"""Nurturing's list filters and filter triggers, hardened: no existence leak, no stuck matcher."""

import logging

import pytest
from django.utils import timezone

from nurturing.models import Enrollment, Sequence, TriggerKind
from nurturing.services import enrollments
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence
from tests.nurturing.test_apis import enrollment_for, message_for

pytestmark = pytest.mark.django_db

ENROLLMENTS = "/api/v1/nurturing/enrollments/"
MESSAGES = "/api/v1/nurturing/messages/"
MISSING = 987_654_321


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize("url", [ENROLLMENTS, MESSAGES])
def test_a_lead_filter_answers_the_same_for_missing_and_not_yours(rep_client, other_rep, url):
    theirs = LeadFactory(owner=other_rep, stage="SAL")
    message_for(enrollment_for(theirs))

    not_yours = rep_client.get(f"{url}?lead={theirs.pk}")
    missing = rep_client.get(f"{url}?lead={MISSING}")

    assert (not_yours.status_code, not_yours.json()) == (missing.status_code, missing.json())
    assert _ids(missing) == []


def test_enrollment_and_step_filters_answer_the_same_for_missing_and_not_yours(
    rep_client, other_rep
):
    message = message_for(enrollment_for(LeadFactory(owner=other_rep, stage="SAL")))

    for name, value in (("enrollment", message.enrollment_id), ("step", message.step_id)):
        not_yours = rep_client.get(f"{MESSAGES}?{name}={value}")
        missing = rep_client.get(f"{MESSAGES}?{name}={MISSING}")

        assert (not_yours.status_code, not_yours.json()) == (missing.status_code, missing.json())
        assert _ids(missing) == []


def test_the_filters_still_find_your_own(rep_client, rep):
    message = message_for(enrollment_for(LeadFactory(owner=rep, stage="SAL")))

    by_lead = rep_client.get(f"{ENROLLMENTS}?lead={message.lead_id}")
    by_enrollment = rep_client.get(f"{MESSAGES}?enrollment={message.enrollment_id}")
    by_step = rep_client.get(f"{MESSAGES}?step={message.step_id}")

    assert _ids(by_lead) == [message.enrollment_id]
    assert _ids(by_enrollment) == [message.pk]
    assert _ids(by_step) == [message.pk]


@pytest.mark.parametrize("value", ["x", "-1.5"])
def test_a_non_number_in_a_lead_filter_is_a_400(rep_client, value):
    response = rep_client.get(f"{ENROLLMENTS}?lead={value}")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


# --- the every-minute trigger matcher -------------------------------------------------------------


def _filter_sequence(key: str, trigger_filter: dict) -> Sequence:
    # Saved straight into the table, as an older version (or a hand edit) could have left it.
    return make_sequence(key=key, trigger_kind=TriggerKind.FILTER, trigger_filter=trigger_filter)


def test_a_huge_number_in_a_saved_filter_trigger_fails_that_sequence_alone(caplog):
    lead = LeadFactory(stage="IQL", source="event", score=5)
    bad = _filter_sequence("a-bad", {"owner": "99999999999999999999999"})
    words = _filter_sequence("b-words", {"score_min": "ten"})
    good = _filter_sequence("c-good", {"source": ["event"]})

    with caplog.at_level(logging.ERROR, logger="nurturing.services.enrollments"):
        enrolled = enrollments.triggers_match(now=timezone.now())

    assert enrolled == 1
    assert list(Enrollment.objects.values_list("lead_id", "sequence_id")) == [(lead.pk, good.pk)]
    failed = [r for r in caplog.records if r.name == "nurturing.services.enrollments"]
    assert [r.getMessage() for r in failed] == [
        f"Sequence {bad.pk} (a-bad): its filter trigger is not valid and was skipped: "
        "owner: Ensure this value is less than or equal to 9223372036854775807.",
        f"Sequence {words.pk} (b-words): its filter trigger is not valid and was skipped: "
        "score_min: Enter a number.",
    ]


def test_a_nul_in_a_trigger_filter_is_refused_by_the_filter_itself():
    from nurturing.services.sequences import InvalidSequence, _check_filter

    with pytest.raises(InvalidSequence) as raised:
        _check_filter({"email": "a\x00b@example.com"})

    assert raised.value.fields == {
        "trigger_filter": ["{'email': ['The value contains a NUL character.']}"]
    }


def test_a_huge_number_in_a_new_filter_trigger_is_a_400(marketer_client):
    body = {
        "key": "huge",
        "name": "Huge",
        "trigger_kind": "filter",
        "trigger_filter": {"owner": "99999999999999999999999"},
    }

    response = marketer_client.post("/api/v1/nurturing/sequences/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"] == {
        "trigger_filter": [
            "{'owner': ['Ensure this value is less than or equal to 9223372036854775807.']}"
        ]
    }
    assert not Sequence.objects.filter(key="huge").exists()
