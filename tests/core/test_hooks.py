"""core.hooks: every cross-app effect is declared there, registered once, and run as documented."""

from pathlib import Path

import pytest
from django.db import transaction

from audit import receivers as audit_receivers
from core import hooks
from events.selectors import event_timeline_items
from handoff.selectors import rep_pool_scope
from handoff.selectors.bulk import bulk_assign_action
from handoff.selectors.duplicates import duplicates_section
from handoff.selectors.inbox import handoff_lead_section
from handoff.selectors.timeline import handoff_timeline_items
from handoff.services.routing import stage_entered_hook
from leads.privacy_views import privacy_section
from nurturing import tasks as nurture_tasks
from nurturing.selectors import nurture_timeline_items
from nurturing.views_bulk import bulk_enroll_action
from scoring.selectors import lead_score_section, lead_score_timeline_items
from scoring.services import scoring_kick
from web.merge import submissions_move_to_lead


def test_every_hook_has_the_receivers_the_readme_lists():
    assert hooks.lead_stage_entered.receivers() == (
        nurture_tasks.stage_entered_hook,
        stage_entered_hook,
    )
    assert set(hooks.lead_timeline_items.receivers()) == {
        event_timeline_items,
        lead_score_timeline_items,
        nurture_timeline_items,
        handoff_timeline_items,
    }
    assert hooks.lead_rep_scope.receivers() == (rep_pool_scope,)
    assert hooks.lead_rows_merged.receivers() == (submissions_move_to_lead,)
    assert hooks.lead_page_sections.receivers() == (
        privacy_section,
        lead_score_section,
        handoff_lead_section,
        duplicates_section,
    )
    assert hooks.events_recorded.receivers() == (scoring_kick,)
    assert hooks.lead_list_actions.receivers() == (bulk_enroll_action, bulk_assign_action)
    assert hooks.account_changed.receivers() == (audit_receivers.account_changed,)
    assert {r.__module__ for r in hooks.lead_personal_data.receivers()} == {
        "events.privacy", "scoring.privacy", "nurturing.privacy", "handoff.privacy", "web.privacy",
    }  # fmt: skip
    assert {r.__module__ for r in hooks.lead_erase.receivers()} == {
        "events.privacy", "nurturing.privacy", "handoff.privacy", "web.privacy",
    }  # fmt: skip
    # TEMPORARY (web-forms): the forms' stand-in for the CONSENT helper's nurture gate
    assert hooks.nurture_pause_conditions.receivers() == ()


def test_every_hook_is_declared_with_a_docstring_in_all_hooks():
    declared = [v for v in vars(hooks).values() if isinstance(v, hooks.Hook)]
    assert sorted(h.name for h in declared) == sorted(h.name for h in hooks.ALL_HOOKS)
    source = Path(hooks.__file__).read_text()
    for hook in hooks.ALL_HOOKS:
        # The docstring right under the declaration says when it fires and who listens.
        after = source.split(f'Hook("{hook.name}")\n', 1)[1]
        assert after.startswith('"""'), hook.name
        assert "Registered by" in after.split('"""')[1], hook.name


def test_registering_twice_keeps_one_receiver():
    hook = hooks.Hook("t")
    seen = []

    def receiver(x):
        seen.append(x)

    hook.register(receiver)
    hook.register(receiver)
    assert hook.call(1) == [None]
    assert seen == [1]


@pytest.mark.django_db(transaction=True)
def test_call_on_commit_waits_for_the_commit_and_never_on_rollback():
    hook = hooks.Hook("t")
    seen = []
    hook.register(seen.append)

    with transaction.atomic():
        hook.call_on_commit([1])
        assert seen == []
    assert seen == [[1]]

    with pytest.raises(RuntimeError), transaction.atomic():
        hook.call_on_commit([2])
        raise RuntimeError("rolled back")
    assert seen == [[1]]


@pytest.mark.django_db(transaction=True)
def test_a_failing_receiver_neither_undoes_the_write_nor_stops_the_others(caplog):
    hook = hooks.Hook("t")
    seen = []

    def broken(ids):
        raise ValueError("bug in a receiver")

    hook.register(broken)
    hook.register(seen.append)

    with transaction.atomic():
        hook.call_on_commit([3])

    assert seen == [[3]]
    assert "bug in a receiver" in caplog.text
