"""Django admin for scoring. Rule and settings edits go through scoring.services, so an edit made
here is a new version with a re-score, exactly like one made through the API, and is refused to
a rep as the API refuses it (core/admin.py turns a refusal into the form's error)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from core.admin import ServiceModelAdmin
from scoring import rules, services
from scoring.models import (
    LedgerEntry,
    RescoreJob,
    RuleKind,
    RuleVersion,
    ScoringRule,
    ScoringSettings,
)


class RuleForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=RuleKind.choices)
    event_type = forms.ChoiceField(
        choices=[("", "-")] + [(t, t) for t in rules.EVENT_TYPES], required=False
    )
    event_name = forms.CharField(required=False, max_length=255, help_text="Or the page name.")
    conditions = forms.JSONField(
        required=False,
        initial=list,
        help_text='e.g. [{"field": "title", "operator": "contains", "value": ["VP", "Head"]}]',
    )
    points = forms.IntegerField()
    max_times = forms.IntegerField(required=False, min_value=1)
    expires_after_days = forms.IntegerField(required=False, min_value=1)

    class Meta:
        model = ScoringRule
        fields = ["name", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        version = self.instance.current_version if self.instance.pk else None
        if version is not None:
            for name, value in version.as_def().definition().items():
                self.initial[name] = value

    def definition(self) -> dict:
        data = {key: self.cleaned_data.get(key) for key in services_definition_keys()}
        data["conditions"] = data["conditions"] or []
        return data

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                rules.rule_parse(self.definition())
            except rules.RuleError as exc:
                for field, problems in exc.fields.items():
                    target = field if field in self.fields else None
                    self.add_error(target, ValidationError(problems))
        return cleaned


def services_definition_keys() -> tuple[str, ...]:
    return (
        "kind",
        "event_type",
        "event_name",
        "conditions",
        "points",
        "max_times",
        "expires_after_days",
    )


class RuleVersionInline(admin.TabularInline):
    model = RuleVersion
    extra = 0
    can_delete = False
    fields = ("number", "kind", "event_type", "event_name", "conditions", "points", "max_times")
    readonly_fields = fields
    ordering = ("-number",)

    def has_add_permission(self, request, obj=None):
        return False  # versions are made by editing the rule


@admin.register(ScoringRule)
class ScoringRuleAdmin(ServiceModelAdmin):
    form = RuleForm
    list_display = ("name", "description", "is_active", "version", "updated_at")
    list_filter = ("is_active", "current_version__kind")
    search_fields = ("name", "key")
    inlines = [RuleVersionInline]
    fields = (
        "name",
        "is_active",
        "kind",
        "event_type",
        "event_name",
        "conditions",
        "points",
        "max_times",
        "expires_after_days",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("current_version")

    @admin.display(description="What it scores")
    def description(self, rule: ScoringRule) -> str:
        return rules.describe(rule.current_version.as_def()) if rule.current_version else ""

    @admin.display(description="Version")
    def version(self, rule: ScoringRule):
        return rule.current_version.number if rule.current_version else None

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.rule_update(
                actor=request.user,
                rule_id=obj.pk,
                name=form.cleaned_data["name"],
                definition=form.definition(),
                is_active=form.cleaned_data["is_active"],
            )
        else:
            saved = services.rule_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                definition=form.definition(),
                is_active=form.cleaned_data["is_active"],
            )
        obj.pk, obj.current_version = saved.pk, saved.current_version

    def has_delete_permission(self, request, obj=None):
        return False  # switch a rule off instead: ledger rows keep pointing at it


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = (
        "lead",
        "rule",
        "version",
        "event",
        "points",
        "occurred_at",
        "expires_at",
        "is_live",
    )
    list_filter = ("is_live", "rule")
    raw_id_fields = ("lead", "event")
    list_select_related = ("lead", "rule", "version", "event")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SettingsForm(forms.ModelForm):
    class Meta:
        model = ScoringSettings
        fields = ["mql_threshold", "warm_at", "hot_at", "pql_conditions"]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                rules.thresholds_parse(self.cleaned_data)
            except rules.RuleError as exc:
                for field, problems in exc.fields.items():
                    self.add_error(field if field in self.fields else None, problems)
        return cleaned


@admin.register(ScoringSettings)
class ScoringSettingsAdmin(ServiceModelAdmin):
    form = SettingsForm
    list_display = ("__str__", "mql_threshold", "warm_at", "hot_at", "updated_at")
    fields = ("mql_threshold", "warm_at", "hot_at", "pql_conditions")

    def has_add_permission(self, request):
        return not ScoringSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in self.fields}
        saved = services.scoring_settings_update(actor=request.user, data=data)
        obj.pk = saved.pk


@admin.register(RescoreJob)
class RescoreJobAdmin(ServiceModelAdmin):
    list_display = ("id", "status", "reason", "processed_leads", "total_leads", "created_at")
    list_filter = ("status",)
    actions = ["start_rescore"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Start a new full re-score")
    def start_rescore(self, request, queryset):
        job = services.rescore_start(actor=request.user, reason="Started from the admin")
        self.message_user(request, f"Re-score {job.pk} queued.")
