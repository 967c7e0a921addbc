"""REST API for scoring: thin views over scoring.services and scoring.selectors.

Everyone signed in may read rules, settings and re-score jobs; marketers and admins write
(services answer 403 to a rep). A lead's score breakdown follows the lead's visibility.
"""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_user
from core.errors import validated
from core.fields import IntField
from scoring import rules, selectors, services, simulations
from scoring.models import RescoreJob, RuleKind, RuleVersion, ScoringRule, SimulationJob
from scoring.services import RuleInvalid

DEFINITION_FIELDS = (
    "kind",
    "event_type",
    "event_name",
    "conditions",
    "points",
    "max_times",
    "expires_after_days",
)


class ConditionSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Event property, lead field, or traits.<name>.")
    operator = serializers.ChoiceField(choices=[op.value for op in rules.Operator])
    value = serializers.JSONField(help_text="Text, number, true/false, or a list (in/contains).")


class RuleVersionOutput(serializers.ModelSerializer):
    class Meta:
        model = RuleVersion
        fields = [
            "id",
            "number",
            *DEFINITION_FIELDS,
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class RuleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    key = serializers.CharField(allow_null=True)
    is_active = serializers.BooleanField()
    version = serializers.IntegerField(source="current_version.number")
    version_id = serializers.IntegerField(source="current_version.pk")
    kind = serializers.CharField(source="current_version.kind")
    event_type = serializers.CharField(source="current_version.event_type")
    event_name = serializers.CharField(source="current_version.event_name")
    conditions = ConditionSerializer(source="current_version.conditions", many=True)
    points = serializers.IntegerField(source="current_version.points")
    max_times = serializers.IntegerField(source="current_version.max_times", allow_null=True)
    expires_after_days = serializers.IntegerField(
        source="current_version.expires_after_days", allow_null=True
    )
    description = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_description(self, rule: ScoringRule) -> str:
        return rules.describe(rule.version.as_def())


class RuleInput(serializers.Serializer):
    """Shape only: what a definition means is checked by scoring.rules (errors name the field)."""

    name = serializers.CharField(max_length=200)
    is_active = serializers.BooleanField(default=True)
    kind = serializers.ChoiceField(choices=RuleKind.choices)
    event_type = serializers.CharField(required=False, allow_blank=True, max_length=16)
    event_name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    conditions = ConditionSerializer(many=True, required=False)
    points = IntField(min_value=-rules.MAX_POINTS, max_value=rules.MAX_POINTS)
    max_times = IntField(min_value=1, max_value=rules.MAX_TIMES, required=False, allow_null=True)
    expires_after_days = IntField(
        min_value=1, max_value=rules.MAX_DAYS, required=False, allow_null=True
    )


# What a full replacement (PUT) means for the fields it leaves out.
_BLANK: dict[str, Any] = {
    "event_type": "",
    "event_name": "",
    "conditions": [],
    "max_times": None,
    "expires_after_days": None,
}


def _definition(data: dict, *, partial: bool = True) -> dict:
    definition = {key: data[key] for key in DEFINITION_FIELDS if key in data}
    if not partial:
        definition = {**_BLANK, **definition}
    if "conditions" in definition:
        definition["conditions"] = [dict(c) for c in definition["conditions"]]
    return definition


class RuleViewSet(viewsets.GenericViewSet):
    """Scoring rules. An edit of what a rule scores makes a new version and starts a re-score;
    DELETE switches the rule off (its history stays explainable)."""

    serializer_class = RuleOutput
    queryset = ScoringRule.objects.none()  # for the schema; rows come from the selectors

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=[k.value for k in rules.RuleKind]),
            OpenApiParameter("is_active", bool),
        ],
        responses=RuleOutput(many=True),
    )
    def list(self, request):
        active = request.query_params.get("is_active")
        rows = selectors.rule_list(
            kind=request.query_params.get("kind") or None,
            is_active=None if active is None else active.lower() in ("1", "true", "yes"),
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(RuleOutput(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(RuleOutput(self._get(pk)).data)

    @extend_schema(request=RuleInput, responses={201: RuleOutput})
    def create(self, request):
        data = validated(RuleInput(data=request.data))
        rule = services.rule_create(
            actor=request.user,
            name=data["name"],
            definition=_definition(data),
            is_active=data["is_active"],
        )
        return Response(RuleOutput(selectors.rule_get(rule_id=rule.pk)).data, status=201)

    @extend_schema(request=RuleInput, responses=RuleOutput)
    def update(self, request, pk=None):
        return self._update(request, pk, partial=False)

    @extend_schema(request=RuleInput, responses=RuleOutput)
    def partial_update(self, request, pk=None):
        return self._update(request, pk, partial=True)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        rule = self._get(pk)
        services.rule_update(actor=request.user, rule_id=rule.pk, is_active=False)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request, pk, *, partial: bool):
        rule = self._get(pk)
        data = validated(RuleInput(data=request.data, partial=partial))
        services.rule_update(
            actor=request.user,
            rule_id=rule.pk,
            name=data.get("name"),
            definition=_definition(data, partial=partial),
            is_active=data.get("is_active"),
        )
        return Response(RuleOutput(selectors.rule_get(rule_id=rule.pk)).data)

    def _get(self, pk) -> ScoringRule:
        return get_object_or_404(selectors.rule_list(), pk=pk)


class RuleVersionsApi(APIView):
    @extend_schema(responses=RuleVersionOutput(many=True))
    def get(self, request, rule_id: int):
        rule = get_object_or_404(selectors.rule_list(), pk=rule_id)
        return Response(RuleVersionOutput(selectors.rule_versions(rule=rule), many=True).data)


def ThresholdField(**kwargs) -> serializers.IntegerField:  # noqa: N802 - reads as a field class
    """A score threshold: the range scoring.rules takes (warm_at < hot_at is checked there)."""
    limit = rules.MAX_POINTS * 100
    return IntField(min_value=-limit, max_value=limit, required=False, **kwargs)


class PqlConditionSerializer(serializers.Serializer):
    event_name = serializers.CharField(max_length=255)
    min_count = IntField(min_value=1, max_value=rules.MAX_TIMES)
    within_days = IntField(min_value=1, max_value=rules.MAX_DAYS)


class SettingsSerializer(serializers.Serializer):
    mql_threshold = ThresholdField()
    warm_at = ThresholdField(help_text="Scores from here up are warm.")
    hot_at = ThresholdField(help_text="Scores from here up are hot.")
    pql_conditions = PqlConditionSerializer(many=True, required=False)


class SettingsApi(APIView):
    """MQL threshold, temperature bands and PQL conditions; a change starts a re-score."""

    @extend_schema(responses=SettingsSerializer)
    def get(self, request):
        return Response(SettingsSerializer(selectors.scoring_settings_get()).data)

    @extend_schema(request=SettingsSerializer, responses=SettingsSerializer)
    def put(self, request):
        data = validated(SettingsSerializer(data=request.data))
        if "pql_conditions" in data:
            data["pql_conditions"] = [dict(c) for c in data["pql_conditions"]]
        row = services.scoring_settings_update(actor=request.user, data=data)
        return Response(SettingsSerializer(row).data)

    @extend_schema(request=SettingsSerializer, responses=SettingsSerializer)
    def patch(self, request):
        return self.put(request)


class RescoreJobOutput(serializers.ModelSerializer):
    progress = serializers.FloatField(help_text="0 to 1.")

    class Meta:
        model = RescoreJob
        fields = [
            "id",
            "status",
            "reason",
            "progress",
            "processed_leads",
            "total_leads",
            "promoted",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class RescoreJobViewSet(viewsets.GenericViewSet):
    """Full re-scores: their status and progress. POST starts one by hand."""

    serializer_class = RescoreJobOutput
    queryset = RescoreJob.objects.none()  # for the schema; rows come from the selectors

    def list(self, request):
        page = self.paginate_queryset(selectors.rescore_job_list())
        return self.get_paginated_response(RescoreJobOutput(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(
            RescoreJobOutput(get_object_or_404(selectors.rescore_job_list(), pk=pk)).data
        )

    @extend_schema(request=None, responses={202: RescoreJobOutput})
    def create(self, request):
        job = services.rescore_start(actor=request.user, reason="Started by hand")
        return Response(RescoreJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class ScoreRuleOutput(serializers.Serializer):
    rule = serializers.IntegerField()
    name = serializers.CharField()
    times_fired = serializers.IntegerField(help_text="Ledger rows, live or expired.")
    live_times = serializers.IntegerField()
    points = serializers.IntegerField(help_text="Live points: what counts in the score now.")
    expired_points = serializers.IntegerField()
    expiring_soon_points = serializers.IntegerField()
    next_expiry = serializers.DateTimeField(allow_null=True)
    last_fired_at = serializers.DateTimeField(allow_null=True)


class ScoreOutput(serializers.Serializer):
    lead = serializers.IntegerField()
    score = serializers.IntegerField()
    temperature = serializers.CharField()
    stage = serializers.CharField()
    expiring_soon = inline_serializer(
        "ExpiringSoon",
        {"within_days": serializers.IntegerField(), "points": serializers.IntegerField()},
    )
    rules = ScoreRuleOutput(many=True)


class LeadScoreApi(APIView):
    """Why a lead has its score: per rule, how often it fired, its points, what expires soon."""

    @extend_schema(
        parameters=[OpenApiParameter("soon_days", int, description="Default 7, at most 365.")],
        responses=ScoreOutput,
    )
    def get(self, request, lead_id: int):
        try:
            soon = min(max(int(request.query_params.get("soon_days", 7)), 0), 365)
        except ValueError:
            raise RuleInvalid(
                "soon_days must be a whole number.", fields={"soon_days": ["Not a number."]}
            ) from None
        data = selectors.lead_score_breakdown(user=request.user, lead_id=lead_id, soon_days=soon)
        return Response(ScoreOutput(data).data)


class SimulateInput(serializers.Serializer):
    rules = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="The draft rule set (definitions as for /rules/); default: the active rules.",
        max_length=200,
    )
    mql_threshold = ThresholdField()
    warm_at = ThresholdField()
    hot_at = ThresholdField()
    pql_conditions = PqlConditionSerializer(many=True, required=False)
    limit = serializers.IntegerField(required=False, min_value=0, max_value=1000, default=100)


class ChangedLeadOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    stage = serializers.CharField()
    would_be = serializers.CharField()
    score = serializers.IntegerField()
    would_score = serializers.IntegerField()


class DroppedLeadOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    score = serializers.IntegerField()
    would_score = serializers.IntegerField()


class HistogramBucketOutput(serializers.Serializer):
    bucket = serializers.CharField(help_text="Score range: 'below 0', '0–9', ..., '100+'.")
    before = serializers.IntegerField(help_text="Leads in the range with today's scores.")
    after = serializers.IntegerField(help_text="Leads in the range under the draft.")


class DraftRulePointsOutput(serializers.Serializer):
    index = serializers.IntegerField(help_text="The rule's position in the draft.")
    name = serializers.CharField()
    points = serializers.IntegerField(help_text="Live points the rule would give, in all.")
    leads = serializers.IntegerField(help_text="Leads it would give points to.")


class SimulateOutput(serializers.Serializer):
    leads = serializers.IntegerField()
    mql = serializers.IntegerField(help_text="Leads that would be MQL.")
    pql = serializers.IntegerField(help_text="Leads that would be PQL.")
    changes = serializers.IntegerField(help_text="Leads that would change stage.")
    score_changes = serializers.IntegerField()
    changed_leads = ChangedLeadOutput(many=True)
    changed_leads_truncated = serializers.BooleanField()
    drop_below_mql = serializers.IntegerField(
        help_text="MQLs at or above today's threshold whose score would fall below it (scoring "
        "never moves a lead back; they would no longer qualify)."
    )
    dropped_leads = DroppedLeadOutput(many=True, help_text="The first `limit` of them.")
    histogram = HistogramBucketOutput(many=True)
    rules = DraftRulePointsOutput(many=True)


class SimulationJobOutput(serializers.ModelSerializer):
    progress = serializers.FloatField(help_text="0 to 1.")
    result = SimulateOutput(allow_null=True, help_text="Once the status is done.")

    class Meta:
        model = SimulationJob
        fields = [
            "id",
            "status",
            "progress",
            "processed_leads",
            "total_leads",
            "result",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class SimulateApi(APIView):
    """Try a draft rule set before publishing it: changes nothing. The simulation reads the
    whole history, so it runs in a worker: the answer is 202 with a job to poll at
    /api/v1/scoring/simulations/{id}/ (its `result` once `status` is done)."""

    @extend_schema(request=SimulateInput, responses={202: SimulationJobOutput})
    def post(self, request):
        selectors.scoring_simulate_authorize(user=request.user)
        data = validated(SimulateInput(data=request.data))
        _draft_rules(data.get("rules"))
        overrides = {k: data[k] for k in ("mql_threshold", "warm_at", "hot_at") if k in data}
        if "pql_conditions" in data:
            overrides["pql_conditions"] = [dict(c) for c in data["pql_conditions"]]
        try:
            rules.thresholds_parse(overrides, base=selectors.scoring_settings_get().thresholds())
        except rules.RuleError as exc:
            raise RuleInvalid(str(exc), fields=exc.fields) from exc
        draft = {"rules": data.get("rules"), "thresholds": overrides, "limit": data["limit"]}
        job = simulations.simulation_start(actor=request.user, draft=draft)
        return Response(SimulationJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class SimulationJobViewSet(viewsets.GenericViewSet):
    """Simulations of draft rules: status, progress and result; POST .../cancel/ stops one."""

    serializer_class = SimulationJobOutput
    queryset = SimulationJob.objects.none()  # for the schema; rows come from the selectors

    def _job(self, pk) -> SimulationJob:
        selectors.scoring_simulate_authorize(user=request_user(self.request))
        return get_object_or_404(selectors.simulation_job_list(), pk=pk)

    def list(self, request):
        selectors.scoring_simulate_authorize(user=request_user(request))
        page = self.paginate_queryset(selectors.simulation_job_list())
        return self.get_paginated_response(SimulationJobOutput(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(SimulationJobOutput(self._job(pk)).data)

    @extend_schema(request=None, responses={200: SimulationJobOutput})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = simulations.simulation_cancel(job=self._job(pk), actor=request_user(request))
        return Response(SimulationJobOutput(job).data)


def _draft_rules(raw) -> list[rules.RuleDef]:
    if raw is None:
        return selectors.rules_active()
    draft, problems = [], {}
    for index, item in enumerate(raw):
        try:
            draft.append(rules.rule_parse(item))
        except rules.RuleError as exc:
            problems[str(index)] = exc.fields
    if problems:
        raise RuleInvalid("A draft rule is not valid.", fields={"rules": problems})
    return draft
