"""The hand-off API: reports (rejections; the SLA report's paths join at the END)."""

from datetime import date, datetime, time, timedelta

from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApiError
from handoff.selectors import reports_sla
from handoff.selectors.reports_rejections import rejections_report, rejections_report_authorize

# A report without `from` covers this many days up to `to`.
DEFAULT_DAYS = 30


def _instant(raw: str, name: str, *, end: bool) -> datetime:
    """An ISO date as the start of that day (for `to`: of the next day, so the day is
    included), or an ISO datetime as given, in the site's time zone when it names none."""
    try:
        day = parse_date(raw)
        moment = None if day else parse_datetime(raw)
    except ValueError:
        day = moment = None
    if day is not None:
        return _day_start(day + timedelta(days=1) if end else day)
    if moment is None:
        message = "An ISO 8601 date (2026-01-31) or date and time."
        raise ApiError(f"{name}: {message}", code="invalid", fields={name: [message]})
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def report_period(params) -> tuple[datetime, datetime]:
    """[start, end) from `?from=&to=` (dates inclusive); default: the last 30 days."""
    raw_to, raw_from = params.get("to"), params.get("from")
    end = (
        _instant(raw_to, "to", end=True)
        if raw_to
        else _day_start(timezone.localdate() + timedelta(days=1))
    )
    start = (
        _instant(raw_from, "from", end=False) if raw_from else end - timedelta(days=DEFAULT_DAYS)
    )
    if start >= end:
        raise ApiError("from must be before to.", code="invalid", fields={"from": ["After to."]})
    return start, end


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
