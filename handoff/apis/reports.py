"""The hand-off API: reports (rejections; the SLA report's paths join at the END)."""

from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.periods import report_period
from handoff.selectors import reports_sla
from handoff.selectors.reports_rejections import rejections_report, rejections_report_authorize

# Fields named like Field.source / Field.label: DRF's metaclass takes declared fields out of
# the class attributes, so the serializer's own attributes are untouched; the stubs cannot know.


class ReasonCountOutput(serializers.Serializer):
    reason = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    count = serializers.IntegerField()


class SourceCountOutput(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]
    label = serializers.CharField()  # type: ignore[assignment]
    count = serializers.IntegerField()
    by_reason = serializers.DictField(child=serializers.IntegerField())


class QualifiedByCountOutput(serializers.Serializer):
    qualified_by = serializers.CharField()
    count = serializers.IntegerField()
    by_reason = serializers.DictField(child=serializers.IntegerField())


class RejectionsReportOutput(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    total = serializers.IntegerField()
    by_reason = ReasonCountOutput(many=True)
    by_source = SourceCountOutput(many=True)
    by_qualified_by = QualifiedByCountOutput(many=True)

    def get_fields(self):
        # `from` and `to`, as in the query: Python keywords, so declared as start and end.
        fields = super().get_fields()
        return {"from": fields.pop("start"), "to": fields.pop("end"), **fields}


class RejectionsReportApi(APIView):
    @extend_schema(
        responses=RejectionsReportOutput,
        parameters=[
            OpenApiParameter("from", str, description="ISO date (inclusive) or datetime"),
            OpenApiParameter("to", str, description="ISO date (inclusive) or datetime (exclusive)"),
        ],
    )
    def get(self, request):
        rejections_report_authorize(user=request.user)
        start, end = report_period(request.query_params)
        report = rejections_report(user=request.user, start=start, end=end)
        return Response(RejectionsReportOutput({"from": start, "to": end, **report}).data)


class SlaClockOutput(serializers.Serializer):
    measured = serializers.IntegerField(help_text="Answered/touched, or deadline passed.")
    within_sla = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True, help_text="within_sla / measured.")
    median_seconds = serializers.FloatField(allow_null=True)
    p90_seconds = serializers.FloatField(allow_null=True)


class SlaMetricsOutput(serializers.Serializer):
    assignments = serializers.IntegerField()
    accept = SlaClockOutput()
    first_touch = SlaClockOutput()


class SlaRepOutput(SlaMetricsOutput):
    rep = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()


class SlaSourceOutput(SlaMetricsOutput):
    source = serializers.CharField()  # type: ignore[assignment]


# Built with type(): "from", a Python keyword, is one of its field names.
SlaReportOutput = type(
    "SlaReportOutput",
    (serializers.Serializer,),
    {
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "units": serializers.CharField(),
        "total": SlaMetricsOutput(),
        "reps": SlaRepOutput(many=True),
        "sources": SlaSourceOutput(many=True),
    },
)


class SlaReportApi(APIView):
    """Per rep and per source: the share of assignments answered and first touched within the
    SLA, and the median and 90th percentile time to accept and to first touch (seconds)."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "from",
                OpenApiTypes.DATE,
                description="First day, YYYY-MM-DD (default: 29 days before to).",
            ),
            OpenApiParameter(
                "to", OpenApiTypes.DATE, description="Last day, YYYY-MM-DD (default: today)."
            ),
        ],
        responses=SlaReportOutput,
    )
    def get(self, request):
        reports_sla.sla_report_authorize(user=request.user)
        first, last = reports_sla.sla_period(
            start=request.query_params.get("from"),
            end=request.query_params.get("to"),
            today=timezone.localdate(),
        )
        report = reports_sla.sla_report(user=request.user, first=first, last=last)
        return Response(SlaReportOutput(report).data)


urlpatterns: list = [
    path("reports/rejections/", RejectionsReportApi.as_view(), name="report-rejections"),
    path("reports/sla/", SlaReportApi.as_view(), name="report-sla"),
]
