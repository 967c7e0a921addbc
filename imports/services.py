"""Every write of imports: an upload becomes a job, a job is started, run in batches, cancelled.

A file is refused (400/413, nothing written) when it is too large, not a CSV, empty, or has no
email column. A started job runs in a Celery task (imports/tasks.py), a time-boxed step at a
time: each batch of rows is one transaction that writes its leads, its bad rows and the job's
counters and cursor together, after locking the job row and checking the cursor is where this
runner left it, so a second delivery of the task (or a cancel) stops at the next batch and
nothing is imported twice. Scoring's fit rules run on each batch's leads once it commits.
"""

import time
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from rest_framework import status

from accounts.models import User
from core.errors import ApiError, Conflict, Forbidden
from core.publish import publish_on_commit
from imports import parsing
from imports.models import (
    OPEN_STATUSES,
    ImportConsent,
    ImportFile,
    ImportJob,
    ImportMode,
    ImportRowError,
    ImportStatus,
)
from leads import services as lead_services
from leads.models import Lead, SourceChannel
from scoring import services as scoring_services

IMPORT_RUN = "imports.run"


class FileTooLarge(ApiError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "file_too_large"
    default_detail = "The file is larger than the import limit."


class NotCsvFile(ApiError):
    default_code = "not_csv"
    default_detail = "The file is not a CSV."


class NoEmailColumn(ApiError):
    default_code = "no_email_column"
    default_detail = "No column holds the email: the import matches leads by it."


class MappingInvalid(ApiError):
    default_code = "invalid_mapping"
    default_detail = "The column mapping is not valid."


class JobNotDraft(Conflict):
    default_code = "already_started"
    default_detail = "This import has already been started."


class JobFinished(Conflict):
    default_code = "already_finished"
    default_detail = "This import has already finished."


def import_authorize(*, actor: User) -> None:
    """Marketers, managers and admins import leads; sales reps do not."""
    if actor.is_rep:
        raise Forbidden("A sales rep may not import leads.")


def max_bytes() -> int:
    return settings.LEADCRM_IMPORT_MAX_BYTES


def size_check(size: int) -> None:
    limit = max_bytes()
    if size > limit:
        raise FileTooLarge(f"The file is {size} bytes; the import limit is {limit} bytes.")


# --- reading an upload ------------------------------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    encoding: str
    delimiter: str
    headers: list[str]
    total: int
    mapping: list[str]


def _email_column_by_content(text: str, delimiter: str, headers: list[str]) -> int | None:
    """A column whose first values look like addresses, for a file whose header names none."""
    sample = [r.values for r in islice(parsing.records(parsing.head_text(text), delimiter), 20)]
    for index in range(len(headers)):
        values = [v[index].strip() for v in sample if index < len(v) and v[index].strip()]
        if values and sum("@" in v for v in values) * 2 > len(values):
            return index
    return None


def analyse(data: bytes) -> Analysis:
    """What the upload is: its encoding, delimiter, header, row count and guessed mapping.
    Raises the API's refusals (too large, not a CSV, no email column); writes nothing."""
    size_check(len(data))
    kind = parsing.binary_kind(data)
    if kind:
        raise NotCsvFile(f"The file is not a CSV: it looks like {kind}.")
    encoding = parsing.detect_encoding(data)
    try:
        text = parsing.decode(data, encoding)
        delimiter = parsing.detect_delimiter(text)
        headers = parsing.header(text, delimiter)
        total = parsing.count_records(text, delimiter)
    except parsing.NotCsv as exc:
        raise NotCsvFile(str(exc), code=exc.code) from exc
    mapping = parsing.guess_mapping(headers)
    if "email" not in mapping:
        found = _email_column_by_content(text, delimiter, headers)
        if found is None:
            raise NoEmailColumn(
                "No column holds the email (a header such as “Email”, or addresses in the "
                "rows): the import matches leads by it."
            )
        mapping[found] = "email"
    return Analysis(encoding, delimiter, headers, total, mapping)


def _mapping_checked(mapping: list[str], headers: list[str]) -> list[str]:
    try:
        return parsing.mapping_check(mapping, headers)
    except parsing.MappingInvalid as exc:
        if "email" not in mapping and len(mapping) == len(headers):
            raise NoEmailColumn(str(exc)) from exc
        raise MappingInvalid(str(exc), fields={"mapping": [str(exc)]}) from exc


def _declared(mode: str, consent: str, wording: str) -> tuple[str, str, str]:
    if mode not in ImportMode.values:
        raise ApiError(f"Unknown mode {mode!r}.", code="invalid", fields={"mode": ["Unknown."]})
    if consent not in ImportConsent.values:
        message = f"Unknown consent {consent!r}."
        raise ApiError(message, code="invalid", fields={"consent": [message]})
    if consent == ImportConsent.GIVEN and not wording.strip():
        message = "Give the exact wording the people agreed to."
        raise ApiError(message, code="invalid", fields={"consent_wording": [message]})
    return mode, consent, wording.strip() if consent == ImportConsent.GIVEN else ""


@transaction.atomic
def job_upload(*, actor: User, filename: str, data: bytes) -> ImportJob:
    """A draft job from an upload (the page's first step): read, mapping guessed, not started."""
    import_authorize(actor=actor)
    found = analyse(data)
    return _job_create(actor, filename, data, found, status=ImportStatus.DRAFT)


def _job_create(actor, filename, data, found: Analysis, **values) -> ImportJob:
    job = ImportJob.objects.create(
        created_by=actor,
        filename=filename[:255] or "upload.csv",
        size=len(data),
        encoding=found.encoding,
        delimiter=found.delimiter,
        headers=found.headers,
        mapping=found.mapping,
        total=found.total,
        **values,
    )
    ImportFile.objects.create(job=job, content=data)
    return job


@transaction.atomic
def job_create(
    *,
    actor: User,
    filename: str,
    data: bytes,
    mapping: dict[str, Any] | None = None,
    mode: str = ImportMode.CREATE_AND_UPDATE,
    consent: str = ImportConsent.UNKNOWN,
    consent_wording: str = "",
) -> ImportJob:
    """A job started at once (the API): `mapping` {header: target} corrects the guessed one."""
    import_authorize(actor=actor)
    mode, consent, consent_wording = _declared(mode, consent, consent_wording)
    found = analyse(data)
    if mapping:
        try:
            columns = parsing.mapping_from_names(mapping, found.headers)
        except parsing.MappingInvalid as exc:
            raise MappingInvalid(str(exc), fields={"mapping": [str(exc)]}) from exc
        found = Analysis(**{**found.__dict__, "mapping": _mapping_checked(columns, found.headers)})
    job = _job_create(
        actor,
        filename,
        data,
        found,
        mode=mode,
        consent=consent,
        consent_wording=consent_wording,
        status=ImportStatus.PENDING,
    )
    publish_on_commit(IMPORT_RUN, job.pk)
    return job


@transaction.atomic
def job_start(
    *, job: ImportJob, mapping: list[str], mode: str, consent: str, consent_wording: str = ""
) -> ImportJob:
    """Start a draft job with the mapping, mode and consent the user chose."""
    mode, consent, consent_wording = _declared(mode, consent, consent_wording)
    locked = ImportJob.objects.select_for_update().get(pk=job.pk)
    if locked.status != ImportStatus.DRAFT:
        raise JobNotDraft()
    locked.mapping = _mapping_checked(mapping, locked.headers)
    locked.mode, locked.consent, locked.consent_wording = mode, consent, consent_wording
    locked.status = ImportStatus.PENDING
    locked.save()
    publish_on_commit(IMPORT_RUN, locked.pk)
    return locked


def job_cancel(*, job: ImportJob) -> bool:
    """Stop a job that has not finished: a running one stops after its current batch (the
    leads of the batches done stay). False when it had already ended."""
    now = timezone.now()
    cancelled = ImportJob.objects.filter(pk=job.pk, status__in=OPEN_STATUSES).update(
        status=ImportStatus.CANCELLED, finished_at=now
    )
    if cancelled:
        ImportFile.objects.filter(job_id=job.pk).delete()
    return cancelled == 1


# --- running a job ----------------------------------------------------------------------------


@dataclass
class _Batch:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[ImportRowError] = field(default_factory=list)
    creates: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)


def _merge(into: dict[str, Any], values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name == "traits":
            into.setdefault("traits", {}).update(value)
        else:
            into[name] = value


def _existing(emails: set[str]) -> dict[str, int]:
    # LOWER(email) IN (...): the case-insensitive unique index answers it.
    rows = (
        Lead.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=emails)
        .values_list("email_lower", "pk")
    )
    return dict(rows)


def _plan(job: ImportJob, rows: list[tuple[parsing.Record, dict[str, Any]]], batch: _Batch):
    """Decide each valid row in file order, as if applied one by one: create, update, skip."""
    existing = _existing({values["email"] for _, values in rows})
    for _, values in rows:
        email = values["email"]
        known = email in existing or email in batch.creates
        if known and job.mode == ImportMode.CREATE_ONLY:
            batch.skipped += 1
        elif email in existing:
            _merge(batch.updates.setdefault(existing[email], {}), values)
            batch.updated += 1
        elif known:  # a second row of a lead this batch creates
            _merge(batch.creates[email], values)
            batch.updated += 1
        elif job.mode == ImportMode.UPDATE_ONLY:
            batch.skipped += 1
        else:
            batch.creates[email] = values
            batch.created += 1


def _write(job: ImportJob, batch: _Batch) -> list[int]:
    """The batch's leads written; their ids (created and updated)."""
    created: dict[str, int] = {}
    if batch.creates:
        created = lead_services.leads_create_imported(
            rows=list(batch.creates.values()),
            source=SourceChannel.IMPORT,
            reason=f"import #{job.pk}",
            consent_required=True,
        )
    lost = [values for email, values in batch.creates.items() if email not in created]
    if lost:  # created by someone else since _existing looked: update them instead
        found = _existing({values["email"] for values in lost})
        for values in lost:
            _merge(batch.updates.setdefault(found[values["email"]], {}), values)
        batch.created, batch.updated = batch.created - len(lost), batch.updated + len(lost)
    changes = {
        pk: {k: v for k, v in values.items() if k != "email"}
        for pk, values in batch.updates.items()
    }
    lead_services.leads_overwrite(changes=changes)
    ids = [*created.values(), *changes]
    if job.consent != ImportConsent.UNKNOWN and ids:
        lead_services.leads_consent_record(
            lead_ids=ids, state=job.consent, wording=job.consent_wording, source=f"import #{job.pk}"
        )
    return ids


def _batch_apply(job_id: int, cursor: int, records: list[parsing.Record]) -> list[int] | None:
    """One batch in one transaction; the ids of its leads, or None if this runner must stop
    (the job was cancelled, or another runner has moved its cursor)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status != ImportStatus.RUNNING or job.cursor != cursor:
            return None
        batch, rows = _Batch(), []
        for record in records:
            try:
                rows.append((record, parsing.row_values(record.values, job.headers, job.mapping)))
            except parsing.RowInvalid as exc:
                batch.errors.append(
                    ImportRowError(job=job, row=record.line, reason=str(exc), values=record.values)
                )
        _plan(job, rows, batch)
        ids = _write(job, batch)
        ImportRowError.objects.bulk_create(batch.errors)
        ImportJob.objects.filter(pk=job_id).update(
            cursor=F("cursor") + len(records),
            processed=F("processed") + len(records),
            created=F("created") + batch.created,
            updated=F("updated") + batch.updated,
            skipped=F("skipped") + batch.skipped,
            errors=F("errors") + len(batch.errors),
            heartbeat_at=timezone.now(),
        )
    return ids


def _claim(job_id: int) -> ImportJob | None:
    now = timezone.now()
    claimed = ImportJob.objects.filter(
        pk=job_id, status__in=[ImportStatus.PENDING, ImportStatus.RUNNING]
    ).update(
        status=ImportStatus.RUNNING, started_at=Coalesce(F("started_at"), now), heartbeat_at=now
    )
    return ImportJob.objects.get(pk=job_id) if claimed else None


def _text(job: ImportJob) -> str:
    content = ImportFile.objects.filter(job_id=job.pk).values_list("content", flat=True).first()
    if content is None:
        raise RuntimeError(f"import {job.pk}: its file is gone")
    return bytes(content).decode(job.encoding)


def _finish(job_id: int) -> None:
    with transaction.atomic():
        done = ImportJob.objects.filter(pk=job_id, status=ImportStatus.RUNNING).update(
            status=ImportStatus.DONE, finished_at=timezone.now()
        )
        if done:
            ImportFile.objects.filter(job_id=job_id).delete()


def job_run_step(*, job_id: int, budget_seconds: float | None = None) -> bool:
    """Run the job's batches for up to `budget_seconds`; True when rows remain (the task
    queues the next step). A finished, cancelled or missing job is left as it is (False)."""
    job = _claim(job_id)
    if job is None:
        return False
    budget = settings.IMPORT_STEP_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    size = settings.IMPORT_BATCH_SIZE
    cursor = job.cursor
    remaining = islice(parsing.records(_text(job), job.delimiter), cursor, None)
    while batch := list(islice(remaining, size)):
        ids = _batch_apply(job_id, cursor, batch)
        if ids is None:
            return False
        cursor += len(batch)
        # After the batch commits: scoring locks its settings row before leads, as every
        # scoring pass does. A crash in between is caught up by scoring's sweep.
        scoring_services.leads_fit_refresh(lead_ids=ids)
        if time.monotonic() >= deadline:
            return True
    _finish(job_id)
    return False


def job_fail(*, job_id: int, error: str) -> None:
    """Record why a job stopped (a bug, not a blip); its file is kept for a look."""
    ImportJob.objects.filter(
        pk=job_id, status__in=[ImportStatus.PENDING, ImportStatus.RUNNING]
    ).update(status=ImportStatus.FAILED, failure=error[:5000], finished_at=timezone.now())


def jobs_resume(*, stale_seconds: float = 180) -> list[int]:
    """Queue again the jobs nothing is running: pending or running with no batch committed
    for `stale_seconds` (a lost publish, a worker killed past its redelivery)."""
    stale = timezone.now() - timedelta(seconds=stale_seconds)
    ids = list(
        ImportJob.objects.filter(
            status__in=[ImportStatus.PENDING, ImportStatus.RUNNING],
            created_at__lt=stale,
        )
        .exclude(heartbeat_at__gte=stale)
        .values_list("pk", flat=True)
    )
    for job_id in ids:
        publish_on_commit(IMPORT_RUN, job_id)
    return ids
