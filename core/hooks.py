"""Every hook in the house: the only indirect calls between apps.

Layers run `core` < `accounts` < `leads` < `events` < `scoring`, `nurturing` < `playbook`. A lower
app never imports a higher one. When a write in a lower app must cause an effect in a higher one
(a lead's stage change starts a nurture sequence, an ingested event is scored), the lower app
fires a hook declared here and the higher app registers a receiver in its `AppConfig.ready()`.
Everything else is a plain call you can follow; each hook says when it fires, in which
transaction, and who listens today.
"""

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Q

logger = logging.getLogger(__name__)


class Hook[**P, R]:
    """A named list of receivers with one signature."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: list[Callable[P, R]] = []

    def register(self, receiver: Callable[P, R]) -> Callable[P, R]:
        """Add a receiver (once: `ready()` may run twice in tests)."""
        if receiver not in self._receivers:
            self._receivers.append(receiver)
        return receiver

    def receivers(self) -> tuple[Callable[P, R], ...]:
        return tuple(self._receivers)

    def call(self, *args: P.args, **kwargs: P.kwargs) -> list[R]:
        """Call every receiver now, in registration order; their results in that order."""
        return [receiver(*args, **kwargs) for receiver in self._receivers]

    def call_on_commit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every receiver once the current transaction commits (at once outside one). A
        receiver that raises is logged and never undoes the write, nor stops the others."""
        for receiver in self._receivers:
            transaction.on_commit(partial(receiver, *args, **kwargs), robust=True)

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._receivers)} receivers>"


lead_stage_entered: Hook[[list[int], bool], None] = Hook("lead_stage_entered")
"""Leads entered a stage: created at IQL (`created` True), or moved (by a person, a rule, a
recycle).

Fired by `leads.services` with the ids of the leads that moved and whether they were just
created, *after* the transaction that moved them commits (`call_on_commit`). A receiver must be
quick (it only queues work) and never undoes the move. Registered by: nurturing (enrolls the
leads in stage-triggered sequences), handoff (routes MQL/PQL leads and syncs assignments with
moves made elsewhere: nothing to do for a lead just created).
"""

lead_timeline_items: Hook[[Any], list[dict[str, Any]]] = Hook("lead_timeline_items")
"""A lead's timeline is being built (the argument is the `leads.models.Lead`: core sits below
leads and does not import it).

Called by `leads.selectors.lead_timeline` inside the reading request (no transaction of its own);
each receiver returns that app's items for the lead, dicts with at least `at` (an aware datetime),
`kind` and `text`. Registered by: events (the lead's events), scoring (score changes), nurturing
(enrollments and emails).
"""

nurture_pause_conditions: Hook[[], Q] = Hook("nurture_pause_conditions")
"""Nurturing asks when a lead's sequences must pause.

Called by `nurturing.selectors.lead_paused_q` whenever it builds its paused-lead filter (inside
the sender's or dispatcher's transaction); each receiver returns a `Q` over `Lead` that, when it
holds, pauses the lead's enrollments (no email goes out while it holds). Nurturing's own
condition (a rep owns the lead) is built in; apps above nurturing (a sales hand-off, channel
partners) register theirs. Registered by: nobody else yet.
"""

lead_rep_scope: Hook[[Any], Q] = Hook("lead_rep_scope")
"""Which leads a sales rep sees besides their own (the argument is the `accounts.models.User`).

Called by `leads.selectors.lead_visible_q` for a rep whenever a rep's leads are read (inside the
reading request or the service's transaction); each receiver returns a `Q` over `Lead`, and the
rep sees their own leads OR any of these. With no receiver a rep sees only their own leads.
Registered by: handoff (the unassigned pool, in pool mode).
"""

lead_page_sections: Hook[[Any, Any], dict[str, Any] | None] = Hook("lead_page_sections")
"""A lead's page is being rendered for a user (the arguments are the `leads.models.Lead` and the
`accounts.models.User`, who may see the lead).

Called by `leads.selectors.lead_page_sections` inside the page's request (no transaction of its
own); each receiver returns one section for the page, or None for none: a dict with `template`
(a template name, rendered in the page with the section's `context` as `section`) and `context`
(a dict). The receiver owns its queries and decides what the user may do there. Registered by:
scoring (the score and its breakdown by rule), handoff (the rep's actions, the discovery
answers, activities and tasks; then the lead's likely duplicates, with a merge).
"""

lead_rows_merged: Hook[[int, int], dict[str, int]] = Hook("lead_rows_merged")
"""A lead (`from_lead_id`, first argument) is being merged into another (`to_lead_id`).

Called by the hand-off's merge (`handoff.services.merge`) inside its transaction, after it moved
the rows of the apps below it and before the merged lead is deleted; each receiver moves its own
app's rows of that lead and returns how many it moved, by kind. Registered by: web (form
submissions).
"""

events_recorded: Hook[[list[int]], None] = Hook("events_recorded")
"""New events were linked to leads: an ingestion request, or a lead's tracked email activity.

Fired by `events.services` with the leads' ids (sorted, unique) after the transaction that stored
the events commits (`call_on_commit`). A receiver must be quick and never fail ingestion: a lost
call is caught up by the receiver's own periodic job. Registered by: scoring (kicks a scoring
pass for those leads).
"""

lead_list_actions: Hook[[Any], dict[str, Any] | None] = Hook("lead_list_actions")
"""The lead list is being rendered for a user (the argument is the `accounts.models.User`).

Called by `leads.views.lead_list` inside the page's request (no transaction of its own); each
receiver returns one bulk action for the list's bulk bar, or None when the user may not take
it: a dict with `template` (rendered inside the bulk form, with the action's `context` as
`action`; its submit button posts to the receiver app's own view with `formaction`) and
`context` (a dict). Registered by: handoff (assign to a rep), nurturing (enroll in a sequence).
"""

account_changed: Hook[[Any, str, Any, dict[str, Any]], None] = Hook("account_changed")
"""A user account changed: created, edited, deleted, an API token made or revoked, two-factor
log-in set up or removed (the arguments: the acting `accounts.models.User` or None for the
system, the action such as "user.update", the user changed, and `{field: [old, new]}` with
secrets shown as "***").

Called by `accounts` inside the change's transaction (`call`, not on commit: the audit row
commits or rolls back with the change). Registered by: audit (writes the audit row; accounts
sits below audit).
"""

lead_personal_data: Hook[[Any], dict[str, Any]] = Hook("lead_personal_data")
"""A lead's personal data is being exported (the argument is the `leads.models.Lead`).

Called by `leads.privacy.lead_export` inside the export's request (no transaction of its own);
each receiver returns its app's part of the document, a dict of JSON-ready values keyed by
kind ({"events": [...], "identities": [...]}). Registered by: events, scoring, nurturing,
handoff, web.
"""

lead_erase: Hook[[Any], dict[str, int]] = Hook("lead_erase")
"""A lead is being erased (the argument is the `leads.models.Lead`, locked, its fields not yet
blanked: a receiver may match rows by its email).

Called by `leads.privacy.lead_erase` inside the erasure's transaction, while it holds the
lead's row lock (FOR UPDATE); each receiver removes its app's personal data of that lead
(deleting or blanking rows, keeping what aggregates count: times, names, stages) and returns
how many rows it changed, by kind. It must be idempotent (ingestion runs events' part again
for an erased lead it raced with). Registered by: events, nurturing, handoff, web.
"""

ALL_HOOKS: tuple[Hook[..., Any], ...] = (
    lead_stage_entered,
    lead_timeline_items,
    nurture_pause_conditions,
    lead_rep_scope,
    lead_page_sections,
    lead_rows_merged,
    events_recorded,
    lead_list_actions,
    account_changed,
    lead_personal_data,
    lead_erase,
)
