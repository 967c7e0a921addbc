"""The hand-off API: routing settings, routing rules, and a manager's reassignment of a lead.

Settings and rules: sales managers and admins read and write them (anyone else: 403).
Reassignment: sales managers and admins (a rep: 403).
"""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from accounts.auth import request_user
from core.errors import validated
from core.fields import IdField, IntField
from handoff.models import Assignment, HandoffSettings, Mode, RoutingRule
from handoff.selectors import handoff_settings
from handoff.selectors import routing as selectors
from handoff.services import routing, routing_setup
from leads.models import SourceChannel, Stage
from leads.selectors import lead_get

# --- Settings ---------------------------------------------------------------------------------


class HandoffSettingsSerializer(serializers.ModelSerializer):
    mode = serializers.ChoiceField(choices=Mode.choices, required=False)
    accept_within_minutes = IntField(min_value=1, required=False)
    first_touch_within_minutes = IntField(min_value=1, required=False)
    reassign_after_minutes = IntField(min_value=1, required=False)
    business_hours = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='null (around the clock) or {"time_zone": "Europe/Berlin", "days": [0, 1, 2, '
        '3, 4], "start": "09:00", "end": "17:00", "holidays": "DE" or null}.',
    )

    class Meta:
        model = HandoffSettings
        fields = [
            "mode",
            "accept_within_minutes",
            "first_touch_within_minutes",
            "reassign_after_minutes",
            "business_hours",
            "updated_at",
            "updated_by",
        ]
        read_only_fields = ["updated_at", "updated_by"]


class SettingsApi(APIView):
    """How leads reach reps (mode) and the response deadlines. PUT and PATCH change the fields
    sent; `business_hours` that handoff.clock cannot use is a 400 naming the field."""

    @extend_schema(responses=HandoffSettingsSerializer)
    def get(self, request):
        selectors.routing_setup_authorize(user=request.user)
        return Response(HandoffSettingsSerializer(handoff_settings()).data)

    @extend_schema(request=HandoffSettingsSerializer, responses=HandoffSettingsSerializer)
    def put(self, request):
        selectors.routing_setup_authorize(user=request.user)
        data = validated(HandoffSettingsSerializer(data=request.data, partial=True))
        row = routing_setup.handoff_settings_update(actor=request.user, **data)
        return Response(HandoffSettingsSerializer(row).data)

    @extend_schema(request=HandoffSettingsSerializer, responses=HandoffSettingsSerializer)
    def patch(self, request):
        return self.put(request)


# --- Rules ------------------------------------------------------------------------------------


class RoutingRuleOutput(serializers.ModelSerializer):
    reps = serializers.SerializerMethodField()

    class Meta:
        model = RoutingRule
        fields = [
            "id",
            "position",
            "name",
            "is_default",
            "is_active",
            "countries",
            "size_min",
            "size_max",
            "sources",
            "stages",
            "score_min",
            "score_max",
            "reps",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_reps(self, rule: RoutingRule) -> list[int]:
        return sorted(rep.pk for rep in rule.reps.all())


class RoutingRuleInput(serializers.Serializer):
    """Shape only: what is allowed (active reps, ranges, the default rule) is the service's."""

    name = serializers.CharField(max_length=100)
    position = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    is_default = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)
    countries = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=300
    )
    size_min = IntField(min_value=0, allow_null=True, required=False)
    size_max = IntField(min_value=0, allow_null=True, required=False)
    sources = serializers.ListField(
        child=serializers.ChoiceField(choices=SourceChannel.choices), required=False
    )
    stages = serializers.ListField(
        child=serializers.ChoiceField(choices=[Stage.MQL, Stage.PQL]), required=False
    )
    score_min = IntField(allow_null=True, required=False)
    score_max = IntField(allow_null=True, required=False)
    reps = serializers.ListField(
        child=IdField(), max_length=1000, help_text="Ids of active sales reps."
    )


class RoutingRuleViewSet(viewsets.GenericViewSet):
    """Ordered routing rules: the first active rule whose conditions all hold routes the lead
    to its reps; the default rule catches the rest. PUT and PATCH change the fields sent
    (send `position` alone to reorder)."""

    serializer_class = RoutingRuleOutput
    queryset = RoutingRule.objects.none()  # for the schema; rows come from the selectors

    def list(self, request):
        page = self.paginate_queryset(selectors.routing_rule_list(user=request.user))
        return self.get_paginated_response(RoutingRuleOutput(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(RoutingRuleOutput(self._get(pk)).data)

    @extend_schema(request=RoutingRuleInput, responses={201: RoutingRuleOutput})
    def create(self, request):
        selectors.routing_setup_authorize(user=request.user)
        data = dict(validated(RoutingRuleInput(data=request.data)))
        rule = routing_setup.routing_rule_create(actor=request.user, **data)
        return Response(RoutingRuleOutput(self._get(rule.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RoutingRuleInput, responses=RoutingRuleOutput)
    def update(self, request, pk=None):
        rule = self._get(pk)
        data = dict(validated(RoutingRuleInput(data=request.data, partial=True)))
        routing_setup.routing_rule_update(actor=request.user, rule_id=rule.pk, **data)
        return Response(RoutingRuleOutput(self._get(rule.pk)).data)

    @extend_schema(request=RoutingRuleInput, responses=RoutingRuleOutput)
    def partial_update(self, request, pk=None):
        return self.update(request, pk)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        rule = self._get(pk)
        routing_setup.routing_rule_delete(actor=request.user, rule_id=rule.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _get(self, pk) -> RoutingRule:
        return selectors.routing_rule_get(user=request_user(self.request), rule_id=pk)


# --- Reassignment -----------------------------------------------------------------------------


class LeadAssignInput(serializers.Serializer):
    owner = IdField(help_text="Id of the sales rep who gets the lead.")


class AssignmentOutput(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = [
            "id",
            "lead",
            "rep",
            "status",
            "rule",
            "assigned_by",
            "assigned_at",
            "accept_due_at",
            "reassign_due_at",
        ]
        read_only_fields = fields


class LeadAssignApi(APIView):
    """A manager or admin gives an MQL/PQL lead to a rep. 400 with `not_a_rep`,
    `rep_inactive`, `rep_away` or `rep_full` when the rep cannot take it."""

    @extend_schema(request=LeadAssignInput, responses=AssignmentOutput)
    def post(self, request, pk: int):
        # Asked before the lead is looked up or the body read: a rep hears 403 whatever.
        routing.lead_assign_authorize(actor=request.user)
        lead = lead_get(user=request.user, lead_id=pk)
        data = validated(LeadAssignInput(data=request.data))
        assignment = routing.lead_assign(
            lead_id=lead.pk, owner_id=data["owner"], actor=request.user
        )
        return Response(AssignmentOutput(assignment).data)


_router = SimpleRouter(trailing_slash=True)
_router.register("handoff/rules", RoutingRuleViewSet, basename="handoff-rule")

urlpatterns: list = [
    path("handoff/settings/", SettingsApi.as_view(), name="handoff-settings"),
    path("leads/<int:pk>/assign/", LeadAssignApi.as_view(), name="lead-assign"),
    *_router.urls,
]
