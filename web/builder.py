"""The form builder's Django form: a capture form's settings and its fields as rows (a lead
field or a custom one kept in the lead's traits). It turns the rows into the `fields` JSON
that web.services validates (web/validation.py); their problems land back on the page."""

from typing import Any

from django import forms

from leads.models import SourceChannel
from nurturing.models import Sequence
from web.models import Form
from web.validation import KINDS, LEAD_FIELDS

FIELD_ROWS = 8
CUSTOM = "custom"
FIELD_CHOICES = [("", "—"), *[(name, name.replace("_", " ")) for name in LEAD_FIELDS]]
FIELD_CHOICES.append((CUSTOM, "a custom field (kept in the lead's traits)"))

SETTINGS = [
    "name",
    "slug",
    "title",
    "intro",
    "offer_title",
    "offer_url",
    "source_channel",
    "consent_text",
    "double_opt_in",
    "thank_you_message",
    "redirect_url",
    "sequence",
    "is_active",
]


class FormBuilder(forms.Form):
    name = forms.CharField(max_length=200, help_text="For you; visitors see the title.")
    slug = forms.SlugField(max_length=80, help_text="The hosted page is /f/<slug>/.")
    title = forms.CharField(max_length=200, help_text="The heading visitors see.")
    intro = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    offer_title = forms.CharField(
        required=False, max_length=200, help_text="The content offer: the ebook, the checklist."
    )
    offer_url = forms.CharField(
        required=False, max_length=500, help_text="Where it is; the first email links to it."
    )
    source_channel = forms.ChoiceField(choices=SourceChannel.choices, initial="lead_magnet")
    consent_text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The exact wording beside the consent box; kept with each consent given.",
    )
    double_opt_in = forms.BooleanField(
        required=False, initial=True, help_text="Mail a confirmation link before anything else."
    )
    thank_you_message = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    redirect_url = forms.CharField(
        required=False, max_length=500, help_text="Or send visitors to this page instead."
    )
    sequence = forms.ModelChoiceField(
        queryset=Sequence.objects.order_by("name"),
        required=False,
        help_text="The nurture sequence a submission starts (after confirming, with double "
        "opt-in).",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(FIELD_ROWS):
            self.fields[f"f{i}_name"] = forms.ChoiceField(
                required=False, choices=FIELD_CHOICES, label=f"Field {i + 1}"
            )
            self.fields[f"f{i}_custom"] = forms.CharField(
                required=False, max_length=50, label="Custom name",
                help_text="lowercase_with_underscores",
            )  # fmt: skip
            self.fields[f"f{i}_label"] = forms.CharField(
                required=False, max_length=200, label="Label"
            )
            self.fields[f"f{i}_kind"] = forms.ChoiceField(
                required=False, choices=[("", "default"), *[(k, k) for k in KINDS]], label="Kind"
            )
            self.fields[f"f{i}_required"] = forms.BooleanField(required=False, label="Required")
            self.fields[f"f{i}_options"] = forms.CharField(
                required=False, max_length=2000, label="Options (select)",
                help_text="Comma-separated.",
            )  # fmt: skip

    @classmethod
    def initial_for(cls, form: Form) -> dict[str, Any]:
        initial: dict[str, Any] = {name: getattr(form, name) for name in SETTINGS}
        for i, spec in enumerate(form.fields[:FIELD_ROWS]):
            custom = spec["name"] not in LEAD_FIELDS
            initial[f"f{i}_name"] = CUSTOM if custom else spec["name"]
            initial[f"f{i}_custom"] = spec["name"] if custom else ""
            initial[f"f{i}_label"] = spec["label"]
            initial[f"f{i}_kind"] = spec.get("kind", "")
            initial[f"f{i}_required"] = spec.get("required", False)
            initial[f"f{i}_options"] = ", ".join(spec.get("options", []))
        return initial

    def field_rows(self) -> list[list]:
        keys = ("name", "custom", "label", "kind", "required", "options")
        return [[self[f"f{i}_{key}"] for key in keys] for i in range(FIELD_ROWS)]

    def values(self) -> dict[str, Any]:
        """What web.services.form_create/form_update take."""
        data = self.cleaned_data
        values = {name: data[name] for name in SETTINGS}
        values["fields"] = [spec for i in range(FIELD_ROWS) if (spec := self._spec(i))]
        return values

    def _spec(self, i: int) -> dict[str, Any] | None:
        data = self.cleaned_data
        name = data.get(f"f{i}_name") or ""
        if not name:
            return None
        if name == CUSTOM:
            name = (data.get(f"f{i}_custom") or "").strip()
        spec: dict[str, Any] = {
            "name": name,
            "label": (data.get(f"f{i}_label") or "").strip() or name.replace("_", " ").capitalize(),
            "required": bool(data.get(f"f{i}_required")) or name == "email",
        }
        if data.get(f"f{i}_kind"):
            spec["kind"] = data[f"f{i}_kind"]
        options = [o.strip() for o in (data.get(f"f{i}_options") or "").split(",") if o.strip()]
        if options:
            spec["options"] = options
        return spec
