"""Reads of imports, scoped by who asks: a user sees their own jobs, an admin every job."""

import csv
import io
from collections.abc import Iterator
from itertools import islice
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import User
from imports import parsing
from imports.models import ImportFile, ImportJob, ImportRowError
from imports.services import import_authorize

FIRST_ERRORS = 20


def _visible(user: User) -> QuerySet[ImportJob]:
    jobs = ImportJob.objects.all()
    return jobs if user.is_admin else jobs.filter(created_by=user)


def job_get(*, user: User, job_id: int) -> ImportJob:
    """A job the user may see (their own; an admin any), else 404: another user's job is
    not told apart from one that does not exist."""
    import_authorize(actor=user)
    job = _visible(user).filter(pk=job_id).first()
    if job is None:
        raise Http404("No such import.")
    return job


def jobs_recent(*, user: User, limit: int = 10) -> list[ImportJob]:
    import_authorize(actor=user)
    return list(_visible(user).filter(created_by=user).order_by("-created_at", "-id")[:limit])


def job_errors(*, job: ImportJob, limit: int | None = None) -> list[ImportRowError]:
    rows = ImportRowError.objects.filter(job=job).order_by("row", "id")
    return list(rows[:limit] if limit is not None else rows)


def job_errors_csv(*, job: ImportJob) -> Iterator[str]:
    """The bad rows as CSV, a line at a time: row, reason, then the row's values under the
    file's own headers."""
    out = io.StringIO()
    writer = csv.writer(out)

    def line(values: list[Any]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(values)
        return out.getvalue()

    width = len(job.headers)
    yield line(["row", "reason", *job.headers])
    rows = (
        ImportRowError.objects.filter(job=job)
        .order_by("row", "id")
        .values_list("row", "reason", "values")
    )
    for row, reason, values in rows.iterator(chunk_size=2000):
        yield line([row, reason, *values, *[""] * (width - len(values))])


def job_preview(*, job: ImportJob, mapping: list[str], limit: int = 5) -> dict[str, Any]:
    """The first rows as the import would read them with `mapping`: the mapped fields
    (name, label), and per row its line and either its (label, value) cells and traits or why
    it would be refused."""
    content = ImportFile.objects.filter(job=job).values_list("content", flat=True).first()
    if content is None:
        return {"columns": [], "rows": []}
    text = bytes(content)[: 256 * 1024].decode(job.encoding, errors="replace")
    sample = parsing.head_text(text) if len(content) > 256 * 1024 else text
    columns = [(name, label) for name, label in parsing.FIELD_TARGETS if name in mapping]
    rows = []
    for record in islice(parsing.records(sample, job.delimiter), limit):
        try:
            values = parsing.row_values(record.values, job.headers, mapping)
        except parsing.RowInvalid as exc:
            rows.append({"line": record.line, "error": str(exc), "raw": record.values})
            continue
        cells = [(label, values.get(name, "")) for name, label in columns]
        rows.append(
            {"line": record.line, "cells": cells, "traits": values["traits"], "raw": record.values}
        )
    return {"columns": columns, "rows": rows}
