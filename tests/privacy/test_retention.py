"""Raw event retention: LEADCRM_EVENT_RETENTION_DAYS and the periodic job that deletes older
events in batches, leaving leads, the scoring ledger and scores alone."""

from datetime import UTC, datetime, timedelta

import pytest

from events import retention, tasks
from events.models import Event, PendingEvent
from leadcrm.schedule import BEAT_SCHEDULE
from scoring.models import LedgerEntry
from scoring.services import rule_create
from tests.factories import EventFactory, LeadFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _event(received_at, lead=None, **kwargs):
    return EventFactory(received_at=received_at, occurred_at=received_at, lead=lead, **kwargs)


def test_events_older_than_retention_go_and_the_boundary_instant_stays(settings):
    settings.LEADCRM_EVENT_RETENTION_DAYS = 30
    cutoff = NOW - timedelta(days=30)
    lead = LeadFactory()
    older = _event(cutoff - timedelta(microseconds=1), lead=lead)
    at_cutoff = _event(cutoff, lead=lead)
    newer = _event(cutoff + timedelta(microseconds=1), lead=lead)

    deleted = retention.events_purge(now=NOW)

    assert deleted == 1
    assert sorted(Event.objects.values_list("pk", flat=True)) == sorted([at_cutoff.pk, newer.pk])
    assert not PendingEvent.objects.filter(event_id=older.pk).exists()
    assert PendingEvent.objects.filter(event_id=at_cutoff.pk).exists()


def test_zero_keeps_events_forever(settings):
    settings.LEADCRM_EVENT_RETENTION_DAYS = 0
    _event(NOW - timedelta(days=10_000))

    assert retention.events_purge(now=NOW) == 0
    assert Event.objects.count() == 1
    assert retention.retention_cutoff(NOW) is None


def test_purge_goes_in_batches_until_done(settings, django_assert_num_queries):
    settings.LEADCRM_EVENT_RETENTION_DAYS = 1
    for _ in range(7):
        _event(NOW - timedelta(days=2))
    _event(NOW)

    # batches of 3: 3 + 3 + 1 (the short batch ends it); each a statement in its transaction
    with django_assert_num_queries(3 * 3):  # SAVEPOINT, DELETE, RELEASE per batch
        assert retention.events_purge(now=NOW, batch=3) == 7

    assert Event.objects.count() == 1


def test_ledger_rows_and_scores_survive_their_events(settings):
    settings.LEADCRM_EVENT_RETENTION_DAYS = 30
    lead = LeadFactory(score=10)
    rule = rule_create(
        actor=None,
        name="Old",
        definition={"kind": "event", "event_name": "Email Opened", "points": 10},
        rescore=False,
    )
    event = _event(NOW - timedelta(days=31), lead=lead)
    LedgerEntry.objects.create(
        lead=lead,
        rule_id=rule.pk,
        version_id=rule.current_version_id,
        event=event,
        points=10,
        occurred_at=event.occurred_at,
        created_at=event.received_at,
    )

    assert retention.events_purge(now=NOW) == 1

    entry = LedgerEntry.objects.get()
    assert (entry.points, entry.event_id, entry.lead_id) == (10, event.pk, lead.pk)
    lead.refresh_from_db()
    assert lead.score == 10


def test_the_job_is_scheduled_and_runs_the_purge(settings):
    settings.LEADCRM_EVENT_RETENTION_DAYS = 1
    _event(datetime.now(UTC) - timedelta(days=3))

    assert BEAT_SCHEDULE["events-retention-purge"]["task"] == "events.retention_purge"
    assert tasks.retention_purge.name == "events.retention_purge"
    assert tasks.retention_purge.run() == 1
    assert Event.objects.count() == 0
