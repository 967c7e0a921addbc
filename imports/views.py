"""The import pages: upload a CSV, check the guessed mapping against a preview, choose the mode
and the consent, start; then a progress bar (the same view's `_progress.html`, polled by htmx
every second while the job runs) that ends on the report of bad rows.

Every step is a plain form that works without JavaScript; htmx refreshes the preview when a
column's target changes and polls the progress. Views parse, call one service or selector and
render: who may import is the services' decision (reps get 403).
"""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails
from rest_framework.exceptions import APIException

from accounts.auth import request_user
from core.errors import Forbidden
from imports import parsing, selectors, services
from imports.apis import MULTIPART_ALLOWANCE
from imports.models import ImportConsent, ImportJob, ImportMode, ImportStatus

REPORT_ROWS = 500
DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _authorized(request: HttpRequest) -> None:
    try:
        services.import_authorize(actor=request_user(request))
    except Forbidden as exc:
        raise PermissionDenied(str(exc.detail)) from exc


def _upload_page(request, *, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "jobs": selectors.jobs_recent(user=request_user(request)),
        "max_mb": round(services.max_bytes() / 1024 / 1024, 1),
        "error": error,
    }
    return render(request, "imports/upload.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    _authorized(request)
    if request.method == "GET":
        return _upload_page(request)
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    try:
        if length > services.max_bytes() + MULTIPART_ALLOWANCE:
            services.size_check(length)
        upload = request.FILES.get("file")
        if upload is None:
            return _upload_page(request, error="Choose a CSV file to upload.", status=400)
        services.size_check(upload.size or 0)
        job = services.job_upload(
            actor=request_user(request), filename=upload.name or "", data=upload.read()
        )
    except APIException as exc:
        return _upload_page(request, error=str(exc.detail), status=exc.status_code)
    return redirect("imports:job", job_id=job.pk)


def _posted_mapping(request: HttpRequest, job: ImportJob) -> list[str]:
    return [request.POST.get(f"column-{i}", job.mapping[i]) for i in range(len(job.headers))]


def _setup_context(job: ImportJob, mapping: list[str], post=None) -> dict[str, Any]:
    preview = selectors.job_preview(job=job, mapping=mapping)
    first = preview["rows"][0]["raw"] if preview["rows"] else []
    try:
        parsing.mapping_check(mapping, job.headers)
        mapping_error = ""
    except parsing.MappingInvalid as exc:
        mapping_error = str(exc)
    return {
        "job": job,
        "columns": [
            {
                "index": i,
                "header": header or f"(column {i + 1})",
                "target": mapping[i],
                "example": first[i] if i < len(first) else "",
            }
            for i, header in enumerate(job.headers)
        ],
        "targets": parsing.TARGETS,
        "preview": preview,
        "mapping_error": mapping_error,
        "labels": dict(parsing.FIELD_TARGETS),
        "delimiter_name": DELIMITER_NAMES.get(job.delimiter, job.delimiter),
        "modes": ImportMode.choices,
        "consents": ImportConsent.choices,
        "mode": (post or {}).get("mode", job.mode),
        "consent": (post or {}).get("consent", job.consent),
        "consent_wording": (post or {}).get("consent_wording", job.consent_wording),
    }


def _job_page(request, job: ImportJob, *, status: int = 200, **extra) -> HttpResponse:
    if job.status == ImportStatus.DRAFT:
        mapping = extra.pop("mapping", job.mapping)
        context = _setup_context(job, mapping, request.POST or None)
    else:
        context = _progress_context(job)
    return render(request, "imports/job.html", {**context, **extra}, status=status)


def _progress_context(job: ImportJob) -> dict[str, Any]:
    done = not job.is_open
    errors = selectors.job_errors(job=job, limit=REPORT_ROWS) if done else []
    return {
        "job": job,
        "row_errors": [
            {
                "row": error.row,
                "reason": error.reason,
                "cells": [(h, v) for h, v in zip(job.headers, error.values, strict=False) if v],
            }
            for error in errors
        ],
        "more_errors": max(0, job.errors - REPORT_ROWS) if done else 0,
    }


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def job(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    _authorized(request)
    found = selectors.job_get(user=request_user(request), job_id=job_id)
    if request.method == "GET":
        if request.htmx and found.status != ImportStatus.DRAFT:
            return render(request, "imports/_progress.html", _progress_context(found))
        return _job_page(request, found)
    mapping = _posted_mapping(request, found)
    if request.POST.get("action") != "start" or found.status != ImportStatus.DRAFT:
        if request.htmx and found.status == ImportStatus.DRAFT:
            return render(request, "imports/_preview.html", _setup_context(found, mapping))
        return _job_page(request, found, mapping=mapping)
    try:
        services.job_start(
            job=found,
            mapping=mapping,
            mode=request.POST.get("mode", ""),
            consent=request.POST.get("consent", ""),
            consent_wording=request.POST.get("consent_wording", ""),
        )
    except APIException as exc:
        return _job_page(request, found, status=400, mapping=mapping, error=str(exc.detail))
    return redirect("imports:job", job_id=found.pk)


@login_required
@require_POST
def cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    _authorized(request)
    found = selectors.job_get(user=request_user(request), job_id=job_id)
    services.job_cancel(job=found)
    if found.status == ImportStatus.DRAFT:
        return redirect("imports:upload")
    return redirect("imports:job", job_id=found.pk)
