"""REST API of imports: upload a CSV (202 and the job's id), follow the job, fetch its bad rows.

Thin: parse the multipart request, call one service or selector, serialize. A user sees their
own jobs (an admin any); another user's job is a 404. Sales reps get 403.
"""

import json
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import (
    OpenApiTypes,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import validated
from imports import selectors, services
from imports.models import ImportConsent, ImportJob, ImportMode

# Multipart framing around the file (boundaries, part headers, the other fields): a body
# larger than the limit by more than this cannot hold a file within it, and is refused unread.
MULTIPART_ALLOWANCE = 64 * 1024


class ImportInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    mapping = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text='JSON object {"column header": "target"}; targets: a lead field (email, '
        "first_name, last_name, title, phone, country, company_name, company_domain, "
        "company_size, utm_*), trait, or an empty string to ignore. Columns not named keep "
        "the guessed target.",
    )
    mode = serializers.ChoiceField(choices=ImportMode.choices, default=ImportMode.CREATE_AND_UPDATE)
    consent = serializers.ChoiceField(choices=ImportConsent.choices, default=ImportConsent.UNKNOWN)
    consent_wording = serializers.CharField(required=False, allow_blank=True, default="")


class RowErrorOutput(serializers.Serializer):
    row = serializers.IntegerField(help_text="The file's line (the header is line 1).")
    reason = serializers.CharField()
    values = serializers.ListField(child=serializers.CharField())


class JobOutput(serializers.ModelSerializer):
    first_errors = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "status",
            "filename",
            "size",
            "encoding",
            "delimiter",
            "headers",
            "mapping",
            "mode",
            "consent",
            "total",
            "processed",
            "created",
            "updated",
            "skipped",
            "errors",
            "first_errors",
            "failure",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(RowErrorOutput(many=True))
    def get_first_errors(self, job: ImportJob) -> Any:
        rows = selectors.job_errors(job=job, limit=selectors.FIRST_ERRORS) if job.errors else []
        return RowErrorOutput(rows, many=True).data


def _mapping(raw: str) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        mapping = json.loads(raw)
    except json.JSONDecodeError:
        mapping = None
    if not isinstance(mapping, dict):
        message = 'The mapping must be a JSON object {"column header": "target"}.'
        raise services.MappingInvalid(message, fields={"mapping": [message]})
    return mapping


class ImportCreateApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": ImportInput},
        responses={202: inline_serializer("ImportAccepted", {"id": serializers.IntegerField()})},
        summary="Import leads from a CSV file (runs in the background)",
    )
    def post(self, request):
        services.import_authorize(actor=request.user)
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > services.max_bytes() + MULTIPART_ALLOWANCE:
            raise services.FileTooLarge(
                f"The upload is {length} bytes; the import limit is {services.max_bytes()} bytes."
            )
        data = validated(ImportInput(data=request.data))
        upload = data["file"]
        services.size_check(upload.size)
        job = services.job_create(
            actor=request.user,
            filename=upload.name or "",
            data=upload.read(),
            mapping=_mapping(data.get("mapping", "")),
            mode=data["mode"],
            consent=data["consent"],
            consent_wording=data["consent_wording"],
        )
        return Response(
            {"id": job.pk, "status": job.status, "total": job.total},
            status=status.HTTP_202_ACCEPTED,
        )


class ImportDetailApi(APIView):
    @extend_schema(responses=JobOutput, summary="An import's progress and its first bad rows")
    def get(self, request, job_id: int):
        return Response(JobOutput(selectors.job_get(user=request.user, job_id=job_id)).data)


class ImportCancelApi(APIView):
    @extend_schema(request=None, responses=JobOutput, summary="Cancel an import")
    def post(self, request, job_id: int):
        job = selectors.job_get(user=request.user, job_id=job_id)
        if not services.job_cancel(job=job):
            raise services.JobFinished()
        job.refresh_from_db()
        return Response(JobOutput(job).data)


class ImportErrorsCsvApi(APIView):
    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR}, summary="Bad rows as CSV")
    def get(self, request, job_id: int):
        job = selectors.job_get(user=request.user, job_id=job_id)
        return errors_csv_response(job)


def errors_csv_response(job: ImportJob) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        selectors.job_errors_csv(job=job), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response
