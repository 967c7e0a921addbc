"""The lead page's query count: a fixed number, whatever the lead has (events, consent
evidence, stage changes), with the consent evidence and the stage history read once each
(the page shows each twice: the latest consent and the durations beside the timeline)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events import services as event_services
from leads import selectors
from leads import services as lead_services
from leads.models import Stage
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

# Session and user (2), the lead, its consent evidence, its stage history, events, points,
# enrollments, emails (6), the hand-off's timeline and section (9), the transition targets, and
# the score breakdown's section, the audit's field edits (the duplicates load after the page).
PAGE_QUERIES = 20


def lead_with_history(n: int):
    lead = LeadFactory(stage=Stage.IQL)
    source = event_services.source_internal("page-test")
    for i in range(n):
        event_services.lead_event_record(
            lead=lead, source=source, name=f"Clicked {i}", message_id=f"m{i}", properties={}
        )
        lead_services.lead_consent_give(lead_id=lead.pk, wording="Yes", source=f"form:{i}")
    return lead


def page_queries(client, lead) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/leads/{lead.pk}/")
    assert response.status_code == 200
    return len(captured.captured_queries), response.content.decode()


def test_the_lead_page_reads_a_fixed_number_of_queries(client, marketer):
    client.force_login(marketer)
    small, big = lead_with_history(1), lead_with_history(8)

    small_count, _ = page_queries(client, small)
    big_count, html = page_queries(client, big)

    assert small_count == big_count == PAGE_QUERIES
    assert "Clicked 7" in html and "form:7" in html  # the history is on the page


def test_the_page_is_guarded_at_its_count(client, marketer, django_assert_max_num_queries):
    client.force_login(marketer)
    lead = lead_with_history(3)

    with django_assert_max_num_queries(PAGE_QUERIES):
        assert client.get(f"/leads/{lead.pk}/").status_code == 200


def test_consent_and_stage_history_are_read_once_for_a_loaded_lead(
    django_assert_num_queries, marketer
):
    lead = selectors.lead_get(user=marketer, lead_id=lead_with_history(3).pk)

    with django_assert_num_queries(2):  # the evidence, the history
        latest = selectors.lead_consent_latest(lead=lead)
        durations = selectors.lead_stage_durations(lead=lead)
        again = selectors.lead_consent_latest(lead=lead)
        items = selectors._consent_items(lead) + selectors._stage_items(lead)

    assert (latest.source, again.source) == ("form:2", "form:2")
    assert [d["stage"] for d in durations] == ["IQL"]
    assert len(items) == 4


def test_a_lead_read_again_sees_new_evidence(marketer):
    lead = lead_with_history(1)
    first = selectors.lead_consent_latest(lead=selectors.lead_get(user=marketer, lead_id=lead.pk))
    lead_services.lead_consent_withdraw(lead_id=lead.pk, source="unsubscribe")

    fresh = selectors.lead_get(user=marketer, lead_id=lead.pk)

    assert (first.state, selectors.lead_consent_latest(lead=fresh).state) == (
        "given",
        "withdrawn",
    )
