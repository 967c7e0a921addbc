"""Forms of the team pages: a person (role, capacity, away, territory), a routing rule and the
hand-off settings. The services (accounts.services, handoff.services.routing_setup) validate
exactly as the API does; their field errors land on these forms' fields."""

import json
from typing import Any

from django import forms

from accounts.models import Role, User
from leads.models import SourceChannel, Stage


def _words(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class PersonForm(forms.Form):
    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=Role.choices)
    is_active = forms.BooleanField(required=False, initial=True, label="Active (may log in)")
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="New users: their first password. Blank keeps the current one.",
    )
    capacity = forms.IntegerField(
        min_value=0,
        max_value=10_000,
        initial=25,
        help_text="Reps: the most open leads routing gives them.",
    )
    is_away = forms.BooleanField(required=False, label="Away (routing skips them)")
    away_until = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Back by itself at this time; blank: until unset.",
    )
    territory_countries = forms.CharField(
        required=False,
        max_length=2000,
        help_text="Comma-separated, as leads spell them; blank: any.",
    )
    territory_size_min = forms.IntegerField(required=False, min_value=0, max_value=10**9)
    territory_size_max = forms.IntegerField(required=False, min_value=0, max_value=10**9)

    FIELDS = (
        "first_name", "last_name", "email", "role", "is_active", "capacity", "is_away",
        "away_until", "territory_countries", "territory_size_min", "territory_size_max",
    )  # fmt: skip

    @classmethod
    def initial_for(cls, user: User) -> dict[str, Any]:
        initial = {name: getattr(user, name) for name in ("username", *cls.FIELDS)}
        initial["territory_countries"] = ", ".join(user.territory_countries)
        return initial

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        changes = {name: data[name] for name in self.FIELDS}
        changes["territory_countries"] = _words(data["territory_countries"])
        if not data["is_away"]:
            changes["away_until"] = None
        if data["password"]:
            changes["password"] = data["password"]
        return changes


class RuleForm(forms.Form):
    name = forms.CharField(max_length=100)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    is_default = forms.BooleanField(
        required=False, label="Default rule (catches every lead no other rule takes)"
    )
    reps = forms.ModelMultipleChoiceField(
        queryset=User.objects.filter(role=Role.REP, is_active=True).order_by("username"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Routing picks the one with the most room among them.",
    )
    countries = forms.CharField(
        required=False, max_length=2000, help_text="Comma-separated; blank: any."
    )
    size_min = forms.IntegerField(required=False, min_value=0, label="Company size from")
    size_max = forms.IntegerField(required=False, min_value=0, label="Company size to")
    sources = forms.MultipleChoiceField(
        required=False, choices=SourceChannel.choices, widget=forms.CheckboxSelectMultiple
    )
    stages = forms.MultipleChoiceField(
        required=False,
        choices=[(s, s) for s in (Stage.MQL, Stage.PQL)],
        widget=forms.CheckboxSelectMultiple,
        help_text="Blank: both.",
    )
    score_min = forms.IntegerField(required=False, label="Score from")
    score_max = forms.IntegerField(required=False, label="Score to")

    @classmethod
    def initial_for(cls, rule) -> dict[str, Any]:
        names = ("name", "is_active", "is_default", "size_min", "size_max", "sources", "stages",
                 "score_min", "score_max")  # fmt: skip
        initial = {name: getattr(rule, name) for name in names}
        initial["countries"] = ", ".join(rule.countries)
        initial["reps"] = list(rule.reps.all())
        return initial

    def changes(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["countries"] = _words(data["countries"])
        data["reps"] = [user.pk for user in data["reps"]]
        return data


class SettingsForm(forms.Form):
    mode = forms.ChoiceField(
        choices=[
            ("assign", "Assign: routing gives each lead to a rep"),
            ("pool", "Pool: reps claim leads from a shared pool"),
        ]  # fmt: skip
    )
    accept_within_minutes = forms.IntegerField(
        min_value=1, max_value=100_000, help_text="A rep accepts or rejects within this."
    )
    first_touch_within_minutes = forms.IntegerField(
        min_value=1, max_value=100_000, help_text="After accepting, the first call or email."
    )
    reassign_after_minutes = forms.IntegerField(
        min_value=1, max_value=100_000, help_text="A missed accept deadline: taken back after this."
    )
    business_hours = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text='Deadlines count only these hours. JSON, e.g. {"time_zone": "Europe/Berlin", '
        '"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:30", "holidays": "DE"}; '
        "blank: around the clock.",
    )

    @classmethod
    def initial_for(cls, row) -> dict[str, Any]:
        names = ("mode", "accept_within_minutes", "first_touch_within_minutes",
                 "reassign_after_minutes")  # fmt: skip
        initial = {name: getattr(row, name) for name in names}
        initial["business_hours"] = json.dumps(row.business_hours) if row.business_hours else ""
        return initial

    def clean_business_hours(self):
        text = self.cleaned_data["business_hours"].strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not JSON: {exc}.") from exc
