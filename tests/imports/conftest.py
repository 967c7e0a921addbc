import csv
import io

import pytest

from imports import services
from imports.models import ImportJob


def csv_bytes(rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def run(job: ImportJob) -> ImportJob:
    """The job's task, in this process, until it says it is finished."""
    while services.job_run_step(job_id=job.pk):
        pass
    job.refresh_from_db()
    return job


def counts(job: ImportJob) -> dict:
    return {
        "status": job.status,
        "total": job.total,
        "processed": job.processed,
        "created": job.created,
        "updated": job.updated,
        "skipped": job.skipped,
        "errors": job.errors,
    }


@pytest.fixture
def importing(marketer):
    """`importing(rows, **options)`: a started job of `marketer` for these rows, run to the end."""

    def make(rows, **options) -> ImportJob:
        job = services.job_create(
            actor=marketer, filename="leads.csv", data=csv_bytes(rows), **options
        )
        return run(job)

    return make
