"""The periodic jobs: the catch-up sweep and point expiry, as beat runs them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Identity, PendingEvent
from leads.models import Lead
from scoring import services, tasks
from scoring.models import RescoreJob, ScoringSettings
from tests.factories import EventFactory, LeadFactory
from tests.scoring.conftest import assert_scores_match_ledger, ledger_of

pytestmark = pytest.mark.django_db


def test_sweep_scores_events_nobody_kicked_for(default_playbook, sent):
    lead = LeadFactory()
    EventFactory(lead=lead, name="Demo Requested")
    EventFactory(lead=lead, name="Ebook Downloaded")

    result = tasks.sweep.run()

    lead.refresh_from_db()
    assert (result["events"], result["more"]) == (2, False)
    assert lead.score == 40
    assert not PendingEvent.objects.filter(event__lead=lead).exists()


def test_sweep_links_and_scores_events_whose_link_after_commit_was_lost(default_playbook, sent):
    """An identify committed while the events' request was open, and that request died
    between its commit and its after-commit link: the events wait, unlinked."""
    lead = LeadFactory()
    waiting = EventFactory(lead=None, user_id="u-lost", name="Demo Requested")
    by_api = LeadFactory(external_id="u-api")
    also_waiting = EventFactory(lead=None, user_id="u-api", name="Webinar Attended")
    old = EventFactory(lead=None, anonymous_id="a-old", name="Ebook Downloaded")
    Identity.objects.create(kind="user", value="u-lost", lead=lead)
    stale = Identity.objects.create(kind="anonymous", value="a-old", lead=lead)
    Identity.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(days=2))

    result = services.scoring_sweep()

    waiting.refresh_from_db()
    also_waiting.refresh_from_db()
    old.refresh_from_db()
    lead.refresh_from_db()
    by_api.refresh_from_db()
    assert result["relinked"] == 2
    assert (waiting.lead_id, also_waiting.lead_id, old.lead_id) == (lead.pk, by_api.pk, None)
    assert (lead.score, by_api.score) == (30, 15)
    assert services.scoring_sweep()["relinked"] == 0


def test_sweep_fit_checks_only_leads_changed_since_the_last_sweep(default_playbook, sent):
    lead = LeadFactory(title="VP Sales")
    first = services.scoring_sweep()
    assert first["fit_leads"] == 1
    assert ledger_of(lead) == [("senior-title", 15, True)]
    long_ago = timezone.now() - timedelta(days=1)
    ScoringSettings.objects.update(fit_checked_at=long_ago + timedelta(hours=1))
    Lead.objects.filter(pk=lead.pk).update(title="Intern", updated_at=long_ago)

    untouched = services.scoring_sweep()

    assert untouched["fit_leads"] == 0
    assert ledger_of(lead) == [("senior-title", 15, True)]

    lead.refresh_from_db()
    lead.save()  # any change through the ORM moves updated_at
    touched = services.scoring_sweep()

    lead.refresh_from_db()
    assert touched["fit_leads"] == 1
    assert ledger_of(lead) == []
    assert lead.score == 0


def test_sweep_restarts_a_rescore_whose_steps_stopped(
    sent, settings, django_capture_on_commit_callbacks
):
    settings.SCORING_RESCORE_STALE_SECONDS = 60
    fresh = services.rescore_start(actor=None, reason="fresh")
    stale = RescoreJob.objects.create(reason="stale", cursor=41, status="running")
    RescoreJob.objects.filter(pk=stale.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        result = services.scoring_sweep()

    assert result["rescores"] == 1
    assert sent == [("scoring.rescore_step", (stale.pk, 41))]
    assert fresh.pk != stale.pk


def test_expire_job_drops_expired_points(default_playbook):
    lead = LeadFactory()
    EventFactory(
        lead=lead, name="Webinar Attended", occurred_at=timezone.now() - timedelta(days=89)
    )
    services.events_score_batch()
    assert Lead.objects.get(pk=lead.pk).score == 15

    services.points_expire(now=timezone.now() + timedelta(days=2))
    again = tasks.expire.run()

    lead.refresh_from_db()
    assert lead.score == 0
    assert again == {"leads": 0, "promoted": 0}
    assert_scores_match_ledger()


def test_a_rescore_step_that_breaks_marks_its_job_failed(monkeypatch):
    job = services.rescore_start(actor=None, reason="test")

    def broken(**kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(services, "rescore_chunk", broken)
    with pytest.raises(ValueError):
        tasks.rescore_step.run(job.pk, 0)

    job.refresh_from_db()
    # The exception's text is in the log, not on the job every user reads (tests/harden).
    assert job.status == "failed"
    assert job.error.startswith("The re-score stopped on an internal error (error id ")
    assert "a bug" not in job.error
    assert job.finished_at is not None
