"""The hand-off API: reports."""

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from handoff.selectors import reports_sla


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
    # A declared field named like Field.source: DRF's metaclass takes it out of the class
    # attributes, so the serializer's own `source` is untouched; the stubs cannot know that.
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
                "from", str, description="First day, YYYY-MM-DD (default: 29 days before to)."
            ),
            OpenApiParameter("to", str, description="Last day, YYYY-MM-DD (default: today)."),
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
    path("reports/sla/", SlaReportApi.as_view(), name="report-sla"),
]
