import pytest
from django.db.models import Sum

from core import publish
from leads.models import Lead
from playbook import scoring as playbook
from scoring.models import LedgerEntry


@pytest.fixture
def sent(monkeypatch):
    """What scoring hands to the broker, as (task name, args) (the broker is not under test)."""
    messages = []
    monkeypatch.setattr(publish, "publish", lambda name, *args, **kw: messages.append((name, args)))
    return messages


@pytest.fixture
def default_playbook(db):
    playbook.playbook_load()


def live_sum(lead: Lead) -> int:
    total = LedgerEntry.objects.filter(lead=lead, is_live=True).aggregate(s=Sum("points"))["s"]
    return total or 0


def assert_scores_match_ledger() -> None:
    """The invariant: every lead's score is the sum of its live ledger rows."""
    for lead in Lead.objects.all():
        assert lead.score == live_sum(lead), f"lead {lead.pk}: {lead.score} != {live_sum(lead)}"


def ledger_of(lead: Lead) -> list[tuple[str, int, bool]]:
    """The lead's ledger as (rule key, points, live), sorted."""
    rows = LedgerEntry.objects.filter(lead=lead).select_related("rule")
    return sorted((row.rule.key or row.rule.name, row.points, row.is_live) for row in rows)
