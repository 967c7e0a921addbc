"""The inbox's and the lead page's forms: they parse what the browser sent, nothing more.

What is allowed (who, in which stage, which reasons need a note) is the services' decision; a
refusal comes back as the service's message, shown on the form.
"""

from django import forms

from core.fields import BIGINT_MAX
from handoff.models import ActivityKind, RejectReason

# The browser's own date-and-time picker; Django reads its "2026-11-28T14:30" as ISO 8601.
_WHEN = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
_NOTE = forms.Textarea(attrs={"rows": 3})
_ANSWER = forms.Textarea(attrs={"rows": 2})


class _Form(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")  # "Reason", not "Reason:"
        super().__init__(*args, **kwargs)


class RejectForm(_Form):
    reason = forms.ChoiceField(
        choices=RejectReason.choices,
        help_text="Bad timing, no budget, no response: back to nurture. Not a fit, competitor: "
        "disqualified. Duplicate: merged into the lead you name. Other: say why in the note.",
    )
    note = forms.CharField(widget=_NOTE, required=False, max_length=2000)
    duplicate_of = forms.IntegerField(
        label="Duplicate of lead number",
        required=False,
        min_value=1,
        max_value=BIGINT_MAX,
        help_text="Only for a duplicate: the number in the other lead's address (/leads/N/).",
    )


class QualifyForm(_Form):
    """The discovery checklist: every item answered moves the lead to SQL."""

    product_fit = forms.BooleanField(label="Our product fits what they need")
    decision_makers = forms.CharField(label="Who decides", widget=_ANSWER, max_length=2000)
    decision_process = forms.CharField(
        label="How they decide (steps, approvals)", widget=_ANSWER, max_length=2000
    )
    timeframe = forms.CharField(label="When they want to start", widget=_ANSWER, max_length=2000)
    current_solution = forms.CharField(label="What they use today", widget=_ANSWER, max_length=2000)
    budget = forms.CharField(label="Budget", widget=_ANSWER, max_length=2000)


class CloseForm(_Form):
    outcome = forms.ChoiceField(choices=[("won", "Won: a customer"), ("lost", "Lost")])
    reason = forms.CharField(
        required=False, max_length=500, help_text="Required when lost: why they did not buy."
    )


class ActivityForm(_Form):
    kind = forms.ChoiceField(choices=ActivityKind.choices, initial=ActivityKind.CALL)
    body = forms.CharField(label="What happened", widget=_NOTE, required=False, max_length=5000)
    occurred_at = forms.DateTimeField(
        label="When (UTC)", widget=_WHEN, required=False, help_text="Empty: now."
    )


class TaskForm(_Form):
    title = forms.CharField(max_length=200)
    due_at = forms.DateTimeField(label="Due (UTC)", widget=_WHEN)


class AwayForm(_Form):
    is_away = forms.BooleanField(required=False)
    away_until = forms.DateTimeField(
        label="Back on (UTC)", widget=_WHEN, required=False, help_text="Empty: until you come back."
    )
