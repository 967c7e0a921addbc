"""The hand-off API: the rep's decisions (accept, reject, qualify, close), the discovery
answers, the queue, duplicates and merging. Thin: parse, call one service or selector, answer."""

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApiError, validated
from core.fields import IdField
from handoff.models import Discovery, Merge, RejectReason
from handoff.selectors.activities import lead_discovery
from handoff.selectors.duplicates import lead_duplicates
from handoff.selectors.queue import handoff_queue
from handoff.services import decisions, merge
from leads.apis import LeadOutput
from leads.models import Lead
from leads.selectors import lead_get


class RejectInput(serializers.Serializer):
    # Any text: the service answers an unknown code with the list of valid ones.
    reason = serializers.CharField(max_length=32, help_text=", ".join(RejectReason.values))
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    duplicate_of = IdField(required=False, allow_null=True, default=None)


class QualifyInput(serializers.Serializer):
    """Every item is required by the service, which names each missing one."""

    product_fit = serializers.BooleanField(required=False, allow_null=True, default=None)
    decision_makers = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    decision_process = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    timeframe = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    current_solution = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    budget = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class CloseInput(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["won", "lost"])
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class MergeInput(serializers.Serializer):
    other = IdField(help_text="The lead to merge into this one (deleted).")


class DiscoveryOutput(serializers.ModelSerializer):
    class Meta:
        model = Discovery
        fields = [
            "product_fit",
            "decision_makers",
            "decision_process",
            "timeframe",
            "current_solution",
            "budget",
            "answered_by",
            "answered_at",
        ]
        read_only_fields = fields


class LeadDiscoveryOutput(serializers.Serializer):
    lead = serializers.IntegerField()
    answers = DiscoveryOutput(allow_null=True)


class LeadSummaryOutput(serializers.ModelSerializer):
    class Meta:
        model = Lead
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "title",
            "company_name",
            "country",
            "source",
            "stage",
            "stage_entered_at",
            "score",
            "temperature",
            "owner",
        ]
        read_only_fields = fields


class QueueItemOutput(serializers.Serializer):
    lead = LeadSummaryOutput(source="*")
    in_pool = serializers.SerializerMethodField()
    assignment = serializers.IntegerField(source="assignment_id", allow_null=True)
    rep = serializers.IntegerField(source="assigned_rep_id", allow_null=True)
    assigned_at = serializers.DateTimeField(allow_null=True)
    accept_due_at = serializers.DateTimeField(allow_null=True)
    reassign_due_at = serializers.DateTimeField(allow_null=True)

    def get_in_pool(self, lead) -> bool:
        return lead.assignment_id is None


class DuplicateOutput(serializers.Serializer):
    lead = LeadSummaryOutput()
    reasons = serializers.ListField(child=serializers.DictField())


class MergeOutput(serializers.ModelSerializer):
    class Meta:
        model = Merge
        fields = ["id", "lead", "merged_lead_id", "merged_email", "merged_by", "merged_at", "moved"]
        read_only_fields = fields


class AcceptApi(APIView):
    @extend_schema(request=None, responses=LeadOutput)
    def post(self, request, pk: int):
        lead = decisions.lead_accept(lead_id=pk, actor=request.user)
        return Response(LeadOutput(lead).data)


class RejectApi(APIView):
    @extend_schema(request=RejectInput, responses=LeadOutput)
    def post(self, request, pk: int):
        data = validated(RejectInput(data=request.data))
        lead = decisions.lead_reject(lead_id=pk, actor=request.user, **data)
        return Response(LeadOutput(lead).data)


class QualifyApi(APIView):
    @extend_schema(request=QualifyInput, responses=LeadOutput)
    def post(self, request, pk: int):
        answers = validated(QualifyInput(data=request.data))
        lead = decisions.lead_qualify(lead_id=pk, actor=request.user, answers=answers)
        return Response(LeadOutput(lead).data)


class CloseApi(APIView):
    @extend_schema(request=CloseInput, responses=LeadOutput)
    def post(self, request, pk: int):
        data = validated(CloseInput(data=request.data))
        lead = decisions.lead_close(lead_id=pk, actor=request.user, **data)
        return Response(LeadOutput(lead).data)


class DiscoveryApi(APIView):
    @extend_schema(responses=LeadDiscoveryOutput)
    def get(self, request, pk: int):
        lead = lead_get(user=request.user, lead_id=pk)
        answers = lead_discovery(lead=lead)
        return Response(LeadDiscoveryOutput({"lead": lead.pk, "answers": answers}).data)


def _int_param(request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        message = "A whole number."
        raise ApiError(f"{name}: {message}", code="invalid", fields={name: [message]}) from None


class QueueApi(GenericAPIView):
    """The asking rep's queue; `?rep=` for sales managers and admins."""

    queryset = Lead.objects.none()  # for the schema: the queue comes from the selector
    serializer_class = QueueItemOutput

    @extend_schema(
        parameters=[OpenApiParameter("rep", int, description="A rep's id (managers, admins)")],
        responses=QueueItemOutput(many=True),
    )
    def get(self, request):
        leads = handoff_queue(user=request.user, rep_id=_int_param(request, "rep"))
        page = self.paginate_queryset(leads)
        return self.get_paginated_response(QueueItemOutput(page, many=True).data)


class DuplicatesApi(APIView):
    @extend_schema(responses=DuplicateOutput(many=True))
    def get(self, request, pk: int):
        lead = lead_get(user=request.user, lead_id=pk)
        candidates = lead_duplicates(user=request.user, lead=lead)
        return Response(DuplicateOutput(candidates, many=True).data)


class MergeApi(APIView):
    @extend_schema(request=MergeInput, responses={201: MergeOutput})
    def post(self, request, pk: int):
        data = validated(MergeInput(data=request.data))
        row = merge.lead_merge(lead_id=pk, other_id=data["other"], actor=request.user)
        return Response(MergeOutput(row).data, status=status.HTTP_201_CREATED)


urlpatterns: list = [
    path("leads/<int:pk>/accept/", AcceptApi.as_view(), name="lead-accept"),
    path("leads/<int:pk>/reject/", RejectApi.as_view(), name="lead-reject"),
    path("leads/<int:pk>/qualify/", QualifyApi.as_view(), name="lead-qualify"),
    path("leads/<int:pk>/close/", CloseApi.as_view(), name="lead-close"),
    path("leads/<int:pk>/discovery/", DiscoveryApi.as_view(), name="lead-discovery"),
    path("leads/<int:pk>/duplicates/", DuplicatesApi.as_view(), name="lead-duplicates"),
    path("leads/<int:pk>/merge/", MergeApi.as_view(), name="lead-merge"),
    path("handoff/queue/", QueueApi.as_view(), name="handoff-queue"),
]
