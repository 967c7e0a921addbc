"""The marketer's forms for nurture sequences and their steps. The services validate what a
form cannot (the trigger's filter, templates against the policy) and their field errors land
on the form's fields."""

from django import forms

from leads.models import Stage
from nurturing.models import Sequence, Step, TriggerKind


class SequenceForm(forms.ModelForm):
    exit_stages = forms.MultipleChoiceField(
        required=False,
        choices=Stage.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Reaching any of these ends the enrollment (disqualified always does).",
    )
    trigger_filter = forms.JSONField(
        required=False,
        help_text='For a filter trigger: lead list filters, e.g. {"source": ["event"]}.',
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    class Meta:
        model = Sequence
        fields = [
            "name",
            "key",
            "description",
            "is_active",
            "trigger_kind",
            "trigger_stage",
            "trigger_stage_entry",
            "trigger_score",
            "trigger_filter",
            "exit_stages",
            "exit_on_sales_accept",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        labels = {"is_active": "Active (untick to pause: no new emails go out)"}

    def clean_trigger_filter(self):
        return self.cleaned_data.get("trigger_filter") or {}

    def clean(self):
        data = super().clean() or {}
        kind = data.get("trigger_kind")
        # Said on the field, before the table's check constraint would say it for the form.
        if kind == TriggerKind.STAGE and not data.get("trigger_stage"):
            self.add_error("trigger_stage", "A stage trigger needs a stage.")
        if kind == TriggerKind.SCORE and data.get("trigger_score") is None:
            self.add_error("trigger_score", "A score trigger needs a score.")
        return data


class StepForm(forms.ModelForm):
    class Meta:
        model = Step
        fields = [
            "delay_minutes",
            "subject",
            "body_text",
            "body_html",
            "send_if_score_below",
            "send_unless_event",
        ]
        widgets = {
            "body_text": forms.Textarea(attrs={"rows": 10}),
            "body_html": forms.Textarea(attrs={"rows": 10}),
        }
        labels = {
            "delay_minutes": "Wait (minutes) after the step before",
            "body_text": "Plain-text body",
            "body_html": "HTML body (optional)",
        }
        help_texts = {"delay_minutes": "1 day is 1440 minutes; 0 sends at once."}
