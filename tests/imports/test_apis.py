"""POST /api/v1/imports/, GET /api/v1/imports/{id}/ and its errors.csv: refusals before anything
is written, who sees which job, the exact report."""

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from imports.models import ImportFile, ImportJob
from leads.models import Lead
from tests.imports.conftest import csv_bytes, run
from tests.support import assert_error

pytestmark = pytest.mark.django_db

URL = "/api/v1/imports/"
ROWS = [["Email", "Name", "Plan"], ["ada@example.com", "Ada", "Pro"], ["nope", "Bad", ""]]


def upload(client, data: bytes, name: str = "leads.csv", **fields):
    file = SimpleUploadedFile(name, data, content_type="text/csv")
    return client.post(URL, {"file": file, **fields}, format="multipart")


def nothing_written() -> None:
    assert (ImportJob.objects.count(), ImportFile.objects.count(), Lead.objects.count()) == (
        0,
        0,
        0,
    )


def test_upload_answers_202_with_the_job(
    marketer_client, django_capture_on_commit_callbacks, published
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(marketer_client, csv_bytes(ROWS))

    assert response.status_code == 202, response.content
    job = ImportJob.objects.get()
    assert response.json() == {"id": job.pk, "status": "pending", "total": 2}
    assert published == [("imports.run", (job.pk,))]
    assert (job.encoding, job.delimiter, job.headers, job.mapping) == (
        "utf-8",
        ",",
        ["Email", "Name", "Plan"],
        ["email", "trait", "trait"],
    )


def test_the_job_reports_its_progress_and_first_errors(marketer_client):
    job_id = upload(marketer_client, csv_bytes(ROWS)).json()["id"]
    run(ImportJob.objects.get(pk=job_id))

    body = marketer_client.get(f"{URL}{job_id}/").json()

    picked = {
        k: body[k]
        for k in ("status", "total", "processed", "created", "updated", "skipped", "errors")
    }
    assert picked == {
        "status": "done",
        "total": 2,
        "processed": 2,
        "created": 1,
        "updated": 0,
        "skipped": 0,
        "errors": 1,
    }
    assert body["first_errors"] == [
        {"row": 3, "reason": "Not a valid email address: 'nope'.", "values": ["nope", "Bad", ""]}
    ]


def test_the_job_detail_has_a_bounded_number_of_queries(
    marketer_client, django_assert_max_num_queries
):
    job_id = upload(marketer_client, csv_bytes(ROWS)).json()["id"]
    run(ImportJob.objects.get(pk=job_id))

    with django_assert_max_num_queries(4):  # session, user, job, first errors
        assert marketer_client.get(f"{URL}{job_id}/").status_code == 200


def test_errors_csv_lists_every_bad_row(marketer_client):
    rows = [["Email", "Name"], ["nope", "A, with comma"], ["ok@example.com", "Ok"], ["", "B"]]
    job_id = upload(marketer_client, csv_bytes(rows)).json()["id"]
    run(ImportJob.objects.get(pk=job_id))

    response = marketer_client.get(f"{URL}{job_id}/errors.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="import-{job_id}-errors.csv"'
    assert b"".join(response.streaming_content).decode() == (
        "row,reason,Email,Name\r\n"
        "2,Not a valid email address: 'nope'.,nope,\"A, with comma\"\r\n"
        "4,No email.,,B\r\n"
    )


def test_a_mapping_corrects_the_guess(marketer_client):
    mapping = json.dumps({"Name": "first_name", "Plan": ""})
    job_id = upload(marketer_client, csv_bytes(ROWS), mapping=mapping).json()["id"]

    job = run(ImportJob.objects.get(pk=job_id))

    assert job.mapping == ["email", "first_name", ""]
    assert list(Lead.objects.values_list("first_name", "traits")) == [("Ada", {})]


@pytest.mark.parametrize(
    "mapping, message",
    [
        ("[1, 2]", 'The mapping must be a JSON object {"column header": "target"}.'),
        ('{"Nope": "email"}', "No such column in the file: Nope."),
        ('{"Name": "owner"}', "Unknown targets: owner."),
    ],
)
def test_a_bad_mapping_is_refused(marketer_client, mapping, message):
    body = assert_error(
        upload(marketer_client, csv_bytes(ROWS), mapping=mapping),
        400,
        "invalid_mapping",
        {"mapping"},
    )
    assert body["message"] == message
    nothing_written()


def test_mapping_away_the_email_column_is_refused(marketer_client):
    response = upload(marketer_client, csv_bytes(ROWS), mapping='{"Email": "trait"}')

    assert_error(response, 400, "no_email_column")
    nothing_written()


def test_a_file_at_the_limit_is_accepted_and_one_byte_more_refused(marketer_client, settings):
    data = csv_bytes(ROWS)
    settings.LEADCRM_IMPORT_MAX_BYTES = len(data)

    assert upload(marketer_client, data).status_code == 202

    body = assert_error(upload(marketer_client, data + b"\n"), 413, "file_too_large")
    assert body["message"] == (
        f"The file is {len(data) + 1} bytes; the import limit is {len(data)} bytes."
    )
    assert ImportJob.objects.count() == 1


def test_a_body_far_over_the_limit_is_refused_unread(marketer_client, settings):
    settings.LEADCRM_IMPORT_MAX_BYTES = 10

    response = upload(marketer_client, b"email\n" + b"a@example.com\n" * 10_000)

    assert_error(response, 413, "file_too_large")
    nothing_written()


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("leads.csv", "email\na@example.com\n")
    return out.getvalue()


@pytest.mark.parametrize(
    "data, message",
    [
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
            "The file is not a CSV: it looks like a PNG image.",
        ),
        (
            _zip(),
            "The file is not a CSV: it looks like a ZIP archive"
            " (an Excel .xlsx file is one: save it as CSV).",
        ),
        (b"email\n\x00\x01\x02\x03garbage", "The file is not a CSV: it holds binary data."),
    ],
)
def test_a_file_that_is_not_a_csv_is_refused(marketer_client, data, message):
    body = assert_error(upload(marketer_client, data), 400, "not_csv")

    assert body["message"] == message
    nothing_written()


def test_an_empty_file_is_refused(marketer_client):
    assert_error(upload(marketer_client, b""), 400, "empty_file")
    nothing_written()


def test_a_file_without_an_email_column_is_refused(marketer_client):
    data = csv_bytes([["Name", "Company"], ["Ada", "Acme"]])

    assert_error(upload(marketer_client, data), 400, "no_email_column")
    nothing_written()


def test_an_email_column_is_found_by_its_values_when_its_header_says_nothing(marketer_client):
    data = csv_bytes([["Contact", "Name"], ["ada@example.com", "Ada"], ["bob@example.com", "Bob"]])

    job_id = upload(marketer_client, data).json()["id"]

    assert ImportJob.objects.get(pk=job_id).mapping == ["email", "trait"]


def test_missing_file_is_a_field_error(marketer_client):
    assert_error(marketer_client.post(URL, {}, format="multipart"), 400, "invalid", {"file"})
    nothing_written()


def test_anonymous_gets_401(anonymous):
    assert_error(upload(anonymous, csv_bytes(ROWS)), 401, "not_authenticated")
    nothing_written()


def test_a_rep_may_not_import(rep_client):
    assert_error(upload(rep_client, csv_bytes(ROWS)), 403, "permission_denied")
    nothing_written()


def test_a_rep_may_not_read_an_import(rep_client, marketer_client):
    job_id = upload(marketer_client, csv_bytes(ROWS)).json()["id"]

    assert_error(rep_client.get(f"{URL}{job_id}/"), 403, "permission_denied")
    assert_error(rep_client.get(f"{URL}{job_id}/errors.csv"), 403, "permission_denied")


def test_another_user_gets_404(marketer_client, manager_client):
    job_id = upload(marketer_client, csv_bytes(ROWS)).json()["id"]

    assert_error(manager_client.get(f"{URL}{job_id}/"), 404, "not_found")
    assert_error(manager_client.get(f"{URL}{job_id}/errors.csv"), 404, "not_found")


def test_an_admin_sees_every_job(marketer_client, admin_client_api):
    job_id = upload(marketer_client, csv_bytes(ROWS)).json()["id"]

    assert admin_client_api.get(f"{URL}{job_id}/").json()["id"] == job_id


def test_managers_may_import(manager_client):
    assert upload(manager_client, csv_bytes(ROWS)).status_code == 202


def test_anonymous_cannot_read_a_job(anonymous, marketer):
    job = ImportJob.objects.create(
        created_by=marketer, filename="a.csv", encoding="utf-8", delimiter=","
    )

    assert_error(anonymous.get(f"{URL}{job.pk}/"), 401, "not_authenticated")
    assert_error(anonymous.get(f"{URL}{job.pk}/errors.csv"), 401, "not_authenticated")


def test_semicolons_and_cp1252_through_the_api(marketer_client):
    data = "E-mail;Prénom\r\nzoe@example.com;Zoë\r\n".encode("cp1252")
    mapping = json.dumps({"Prénom": "first_name"})

    job_id = upload(marketer_client, data, mapping=mapping).json()["id"]
    run(ImportJob.objects.get(pk=job_id))

    assert list(Lead.objects.values_list("email", "first_name")) == [("zoe@example.com", "Zoë")]


def test_utf16_with_tabs_through_the_api(marketer_client):
    data = "Email\tFirst name\r\nada@example.com\tAdà\r\n".encode("utf-16")

    job_id = upload(marketer_client, data).json()["id"]
    job = run(ImportJob.objects.get(pk=job_id))

    assert (job.encoding, job.delimiter, job.status) == ("utf-16", "\t", "done")
    assert list(Lead.objects.values_list("email", "first_name")) == [("ada@example.com", "Adà")]


def test_cancel_stops_a_pending_import(marketer_client):
    job_id = upload(marketer_client, csv_bytes(ROWS)).json()["id"]

    response = marketer_client.post(f"{URL}{job_id}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    job = run(ImportJob.objects.get(pk=job_id))
    assert (job.status, job.processed, Lead.objects.count()) == ("cancelled", 0, 0)
    assert not ImportFile.objects.filter(job=job).exists()


def test_cancel_of_a_finished_import_is_a_conflict(marketer_client):
    job_id = upload(marketer_client, csv_bytes(ROWS)).json()["id"]
    run(ImportJob.objects.get(pk=job_id))

    assert_error(marketer_client.post(f"{URL}{job_id}/cancel/"), 409, "already_finished")
    assert ImportJob.objects.get(pk=job_id).status == "done"


def test_cancel_needs_the_owner(marketer_client, manager_client, rep_client, anonymous):
    job_id = upload(marketer_client, csv_bytes(ROWS)).json()["id"]

    assert_error(manager_client.post(f"{URL}{job_id}/cancel/"), 404, "not_found")
    assert_error(rep_client.post(f"{URL}{job_id}/cancel/"), 403, "permission_denied")
    assert_error(anonymous.post(f"{URL}{job_id}/cancel/"), 401, "not_authenticated")
    assert ImportJob.objects.get(pk=job_id).status == "pending"
