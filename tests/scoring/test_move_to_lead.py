"""Merging duplicates: ledger rows given to the kept lead, then a re-score of that lead."""

import pytest

from events.services import events_move_to_lead
from leads.models import Stage
from scoring import services
from scoring.models import LedgerEntry
from tests.factories import EventFactory, LeadFactory
from tests.scoring.conftest import assert_scores_match_ledger, ledger_of

pytestmark = pytest.mark.django_db


def _fit_versions(lead) -> set[int]:
    rows = LedgerEntry.objects.filter(lead=lead, event__isnull=True)
    return set(rows.values_list("version_id", flat=True))


def test_ledger_rows_move_and_a_fit_rule_counts_once(default_playbook):
    keep = LeadFactory(title="Head of IT")
    other = LeadFactory(title="VP Engineering")
    EventFactory(lead=other, name="Demo Requested")
    services.leads_fit_refresh(lead_ids=[keep.pk, other.pk])
    services.events_score_batch()
    shared = _fit_versions(other) & _fit_versions(keep)
    assert shared, "the playbook scores both titles with the same fit rule"
    other_rows = LedgerEntry.objects.filter(lead=other).count()

    moved = services.ledger_move_to_lead(from_lead_id=other.pk, to_lead_id=keep.pk)

    assert moved == other_rows - len(shared)
    assert not LedgerEntry.objects.filter(lead=other).exists()
    fit_rows = LedgerEntry.objects.filter(lead=keep, event__isnull=True)
    assert fit_rows.count() == len(_fit_versions(keep))


def test_lead_rescore_recounts_the_kept_lead_and_promotes_it(default_playbook):
    keep, other = LeadFactory(), LeadFactory()
    for _ in range(2):
        EventFactory(lead=other, name="Demo Requested")
        EventFactory(lead=keep, name="Webinar Attended")
    services.events_score_batch()
    events_move_to_lead(from_lead_id=other.pk, to_lead_id=keep.pk)
    services.ledger_move_to_lead(from_lead_id=other.pk, to_lead_id=keep.pk)
    other.delete()

    result = services.lead_rescore(lead_id=keep.pk)

    keep.refresh_from_db()
    assert_scores_match_ledger()
    assert keep.score == sum(points for _, points, live in ledger_of(keep) if live)
    assert keep.score >= 50 and keep.stage == Stage.MQL
    assert (result.leads, result.promoted) == (1, 1)
