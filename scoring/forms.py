"""The marketer's forms for scoring: a rule, and the settings (MQL threshold, temperature
bands, PQL conditions). Each turns into the definition the API takes, and is validated by the
same parser (scoring.rules), so a form cannot produce a rule the engine would refuse; the
parser's errors land on the fields they are about."""

import re
from typing import Any

from django import forms

from scoring import rules

# Rows of conditions a form shows: the ones a rule has and one empty (at least 3), up to the
# engine's limit, so that editing a rule never drops a condition it has.
MIN_ROWS = 3


def _row_count(data, initial, field: str) -> int:
    """How many rows a form has: as many as the posted data or the initial values carry (their
    highest row with `field`, plus one empty row for initial values), within [MIN_ROWS, MAX]."""
    source = data if data is not None else (initial or {})
    used = [int(m.group(1)) + 1 for key in source if (m := re.fullmatch(field, key))]
    count = max(used, default=0) + (0 if data is not None else 1)
    return min(max(count, MIN_ROWS), rules.MAX_CONDITIONS)


OPERATORS = [
    ("equals", "is"),
    ("contains", "contains"),
    ("in", "is one of (comma-separated)"),
    ("gt", "is more than"),
    ("gte", "is at least"),
    ("lt", "is less than"),
    ("lte", "is at most"),
]


def _value(text: str, operator: str) -> Any:
    """A condition's value as typed: numbers become numbers, true/false booleans, and the
    list operators (one of; contains any of) split on commas."""
    parts = [part.strip() for part in text.split(",")] if operator in ("in", "contains") else []
    if len(parts) > 1 or operator == "in":
        return [_scalar(part) if operator == "in" else part for part in parts if part]
    return _scalar(text.strip()) if operator != "contains" else text.strip()


def _scalar(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RuleForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="What marketers call it, e.g. “Pricing”.")
    kind = forms.ChoiceField(
        choices=[
            ("event", "Something the lead does (an event or a page view)"),
            ("attribute", "Who the lead is (a field: title, company size, ...)"),
        ]
    )
    event_type = forms.ChoiceField(
        required=False,
        choices=[("track", "Event"), ("page", "Page view"), ("screen", "Screen view")],
        help_text="Event rules only.",
    )
    event_name = forms.CharField(
        required=False,
        max_length=255,
        help_text="Event rules only: the event's name, or the page's (e.g. Pricing).",
    )
    points = forms.IntegerField(
        min_value=-rules.MAX_POINTS,
        max_value=rules.MAX_POINTS,
        help_text="Negative points lower the score (a competitor's address, a student).",
    )
    max_times = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=rules.MAX_TIMES,
        help_text="Event rules only: at most this many times per lead. Blank: every time.",
    )
    expires_after_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=rules.MAX_DAYS,
        help_text="Event rules only: the points last this many days. Blank: for good.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = _row_count(
            self.data if self.is_bound else None, self.initial, r"cond_(\d+)_field"
        )
        for i in range(self.rows):
            self.fields[f"cond_{i}_field"] = forms.CharField(
                required=False,
                max_length=110,
                label=f"Condition {i + 1}: field",
                help_text="A property of the event (plan, url), or a lead field (title, "
                "company_size, email_domain, traits.<name>).",
            )
            self.fields[f"cond_{i}_operator"] = forms.ChoiceField(
                required=False, choices=OPERATORS, label=f"Condition {i + 1}: test"
            )
            self.fields[f"cond_{i}_value"] = forms.CharField(
                required=False, max_length=2000, label=f"Condition {i + 1}: value"
            )

    @classmethod
    def initial_for(cls, *, name: str, definition: dict[str, Any]) -> dict[str, Any]:
        """The form's initial values for a stored rule."""
        initial = {"name": name, **{k: v for k, v in definition.items() if k != "conditions"}}
        for i, condition in enumerate(definition.get("conditions", [])):
            initial[f"cond_{i}_field"] = condition["field"]
            initial[f"cond_{i}_operator"] = condition["operator"]
            initial[f"cond_{i}_value"] = _text(condition["value"])
        return initial

    def condition_rows(self) -> list[tuple]:
        return [
            (self[f"cond_{i}_field"], self[f"cond_{i}_operator"], self[f"cond_{i}_value"])
            for i in range(self.rows)
        ]

    def clean(self):
        data = super().clean() or {}
        if self.errors:
            return data
        definition = self._definition(data)
        try:
            rules.rule_parse(definition)
        except rules.RuleError as exc:
            for key, messages in exc.fields.items():
                target = key if key in self.fields else None
                if key == "conditions":
                    target = "cond_0_field"
                for message in messages:
                    self.add_error(target, message)
        data["definition"] = definition
        return data

    def _definition(self, data: dict[str, Any]) -> dict[str, Any]:
        event = data["kind"] == "event"
        definition: dict[str, Any] = {
            "kind": data["kind"],
            "points": data["points"],
            "conditions": [],
        }
        if event:
            definition.update(
                event_type=data.get("event_type") or "track",
                event_name=data.get("event_name") or "",
                max_times=data.get("max_times"),
                expires_after_days=data.get("expires_after_days"),
            )
        for i in range(self.rows):
            field = (data.get(f"cond_{i}_field") or "").strip()
            if not field:
                continue
            operator = data.get(f"cond_{i}_operator") or "equals"
            value = _value(data.get(f"cond_{i}_value") or "", operator)
            definition["conditions"].append({"field": field, "operator": operator, "value": value})
        return definition


class SettingsForm(forms.Form):
    mql_threshold = forms.IntegerField(
        min_value=-rules.MAX_POINTS * 100,
        max_value=rules.MAX_POINTS * 100,
        label="MQL threshold",
        help_text="A lead with at least this score becomes an MQL.",
    )
    warm_at = forms.IntegerField(
        min_value=-rules.MAX_POINTS * 100,
        max_value=rules.MAX_POINTS * 100,
        label="Warm from",
        help_text="Scores from here are warm…",
    )
    hot_at = forms.IntegerField(
        min_value=-rules.MAX_POINTS * 100,
        max_value=rules.MAX_POINTS * 100,
        label="Hot from",
        help_text="…and from here hot.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = _row_count(
            self.data if self.is_bound else None, self.initial, r"pql_(\d+)_event_name"
        )
        for i in range(self.rows):
            self.fields[f"pql_{i}_min_count"] = forms.IntegerField(
                required=False, min_value=1, max_value=rules.MAX_TIMES, label="At least"
            )
            self.fields[f"pql_{i}_event_name"] = forms.CharField(
                required=False, max_length=255, label="of the event"
            )
            self.fields[f"pql_{i}_within_days"] = forms.IntegerField(
                required=False, min_value=1, max_value=rules.MAX_DAYS, label="within days"
            )

    @classmethod
    def initial_for(cls, thresholds: rules.Thresholds) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "mql_threshold": thresholds.mql_threshold,
            "warm_at": thresholds.warm_at,
            "hot_at": thresholds.hot_at,
        }
        for i, condition in enumerate(thresholds.pql_conditions):
            initial[f"pql_{i}_min_count"] = condition.min_count
            initial[f"pql_{i}_event_name"] = condition.event_name
            initial[f"pql_{i}_within_days"] = condition.within_days
        return initial

    def pql_rows(self) -> list[tuple]:
        return [
            (self[f"pql_{i}_min_count"], self[f"pql_{i}_event_name"], self[f"pql_{i}_within_days"])
            for i in range(self.rows)
        ]

    def clean(self):
        data = super().clean() or {}
        if self.errors:
            return data
        conditions = []
        for i in range(self.rows):
            row = [data.get(f"pql_{i}_{key}") for key in ("min_count", "event_name", "within_days")]
            if not any(row):
                continue
            if not all(row):
                self.add_error(f"pql_{i}_event_name", "Give the count, the event and the days.")
                continue
            conditions.append({"min_count": row[0], "event_name": row[1], "within_days": row[2]})
        overrides = {k: data[k] for k in ("mql_threshold", "warm_at", "hot_at")}
        overrides["pql_conditions"] = conditions
        try:
            rules.thresholds_parse(overrides)
        except rules.RuleError as exc:
            for key, messages in exc.fields.items():
                for message in messages:
                    self.add_error(key if key in self.fields else None, message)
        data["overrides"] = overrides
        return data


def draft_summary(draft: dict[str, Any]) -> str:
    """A short description of a draft's change, for the preview page's heading."""
    change = draft.get("change") or {}
    if change.get("type") == "settings":
        return "New scoring settings"
    if change.get("type") == "rule_create":
        return f"New rule “{change.get('name', '')}”"
    return f"Changed rule “{change.get('name', '')}”"
