"""The reports' API: GET /api/v1/reports/funnel/ (the cohort funnel, as JSON)."""

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_user
from leads.models import SourceChannel
from reports.params import report_params
from reports.selectors.funnel import funnel_report, funnel_report_authorize

# Fields named like Field.label: DRF's metaclass takes declared fields out of the class
# attributes, so the serializer's own attributes are untouched; the stubs cannot know.


class StageOutput(serializers.Serializer):
    stage = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    reached = serializers.IntegerField(help_text="Cohort leads with a history row into it.")
    next_stages = serializers.ListField(child=serializers.CharField())
    converted = serializers.IntegerField(
        allow_null=True, help_text="Of `reached`, the leads that also reached a next stage."
    )
    conversion_to_next = serializers.FloatField(allow_null=True, help_text="converted / reached")
    conversion_from_top = serializers.FloatField(allow_null=True, help_text="reached / leads")
    dropped = serializers.IntegerField(allow_null=True, help_text="reached - converted")
    drop_off_rate = serializers.FloatField(allow_null=True)
    median_days_in_stage = serializers.FloatField(
        allow_null=True, help_text="Over the stays that ended (open stays: in_stage_now)."
    )
    p90_days_in_stage = serializers.FloatField(allow_null=True)
    stays_measured = serializers.IntegerField()
    in_stage_now = serializers.IntegerField()


class ShareOutput(serializers.Serializer):
    leads = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class QualifiedOutput(ShareOutput):
    converted = serializers.IntegerField(help_text="Reached SAL too.")
    conversion_to_next = serializers.FloatField(allow_null=True)


class VelocityOutput(serializers.Serializer):
    leads = serializers.IntegerField(help_text="Leads that got there.")
    median_days = serializers.FloatField(allow_null=True)


class VelocitiesOutput(serializers.Serializer):
    iql_to_sql = VelocityOutput()
    iql_to_customer = VelocityOutput()


class CohortOutput(serializers.Serializer):
    month = serializers.DateField()
    leads = serializers.IntegerField()
    qualified = serializers.IntegerField()
    reached = serializers.DictField(child=serializers.IntegerField())
    from_top = serializers.DictField(child=serializers.FloatField(allow_null=True))
    qualified_from_top = serializers.FloatField(allow_null=True)


class FunnelReportOutput(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    leads = serializers.IntegerField(help_text="The cohort: leads created in [from, to).")
    stages = StageOutput(many=True)
    qualified = QualifiedOutput(help_text="MQL or PQL: either path into SAL.")
    velocity = VelocitiesOutput()
    recycled = ShareOutput(help_text="Qualified leads sales handed back to nurture.")
    rejected = ShareOutput(help_text="Qualified leads a rep rejected.")
    disqualified = ShareOutput()
    cohorts = CohortOutput(many=True)

    def get_fields(self):
        # `from` and `to`, as in the query: Python keywords, so declared as start and end.
        fields = super().get_fields()
        return {"from": fields.pop("start"), "to": fields.pop("end"), **fields}


FILTER_PARAMETERS = [
    OpenApiParameter(
        "from",
        str,
        description="ISO date (inclusive) or datetime; default: "
        "the first day of the month five months before `to`'s",
    ),
    OpenApiParameter(
        "to", str, description="ISO date (inclusive) or datetime (exclusive); default: today"
    ),
    OpenApiParameter(
        "source",
        str,
        many=True,
        enum=SourceChannel.values,
        description="Source channel (repeatable: any of them)",
    ),
    OpenApiParameter("utm_campaign", str, description="UTM campaign, exactly"),
    OpenApiParameter("owner", int, description="The owner's user id"),
]


class FunnelReportApi(APIView):
    """The cohort funnel: the leads created in the period (and matching the filters), each
    counted once in every stage its history reached. Marketers, sales managers and admins."""

    @extend_schema(parameters=FILTER_PARAMETERS, responses=FunnelReportOutput)
    def get(self, request):
        user = request_user(request)
        funnel_report_authorize(user=user)
        report = funnel_report(user=user, params=report_params(request.query_params))
        return Response(FunnelReportOutput(report).data)


urlpatterns: list = [
    path("reports/funnel/", FunnelReportApi.as_view(), name="report-funnel"),
]
