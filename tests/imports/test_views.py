"""The import pages without a browser: who may open them, upload, preview, start, progress."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from imports.models import ImportJob, ImportStatus
from leads.models import Lead
from tests.imports.conftest import csv_bytes, run

pytestmark = pytest.mark.django_db

ROWS = [["Email", "Who", "Plan"], ["ada@example.com", "Ada", "Pro"], ["nope", "Bad", ""]]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def uploaded(client, data: bytes):
    return client.post("/leads/import/", {"file": SimpleUploadedFile("leads.csv", data)})


def start_data(**extra) -> dict:
    return {
        "action": "start",
        "column-0": "email",
        "column-1": "first_name",
        "column-2": "trait",
        "mode": "create_and_update",
        "consent": "unknown",
        **extra,
    }


@pytest.mark.parametrize("who", ["marketer", "manager", "admin_user"])
def test_the_upload_page_opens_for_marketing_managers_and_admins(request, who):
    response = client_for(request.getfixturevalue(who)).get("/leads/import/")

    assert response.status_code == 200
    assert b"Upload a CSV file" in response.content
    assert b'<a href="/leads/import/">Import</a>' in response.content


def test_a_rep_gets_403_and_no_nav_link(rep):
    client = client_for(rep)

    assert client.get("/leads/import/").status_code == 403
    assert uploaded(client, csv_bytes(ROWS)).status_code == 403
    assert b'href="/leads/import/"' not in client.get("/leads/").content
    assert ImportJob.objects.count() == 0


def test_anonymous_is_sent_to_log_in():
    response = Client().get("/leads/import/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/leads/import/"


def test_upload_makes_a_draft_and_shows_its_mapping_and_preview(marketer):
    client = client_for(marketer)

    response = uploaded(client, csv_bytes(ROWS))

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/leads/import/{job.pk}/"
    assert (job.status, job.mapping) == (ImportStatus.DRAFT, ["email", "trait", "trait"])
    page = client.get(f"/leads/import/{job.pk}/").content.decode()
    assert "2 rows, read as utf-8, separated by commas." in page
    assert "Refused: Not a valid email address: &#x27;nope&#x27;." in page
    assert '<span class="trait">who: Ada</span>' in page
    assert Lead.objects.count() == 0


def test_a_refused_upload_says_why_and_writes_nothing(marketer, settings):
    client = client_for(marketer)
    settings.LEADCRM_IMPORT_MAX_BYTES = 5

    too_big = uploaded(client, csv_bytes(ROWS))

    assert too_big.status_code == 413
    assert b"the import limit is 5 bytes." in too_big.content
    settings.LEADCRM_IMPORT_MAX_BYTES = 1000
    not_csv = uploaded(client, b"\x89PNG\r\n\x1a\n\x00\x00")
    assert not_csv.status_code == 400
    assert b"The file is not a CSV: it looks like a PNG image." in not_csv.content
    assert ImportJob.objects.count() == 0


def test_changing_a_column_refreshes_the_preview(marketer):
    client = client_for(marketer)
    uploaded(client, csv_bytes(ROWS))
    job = ImportJob.objects.get()

    response = client.post(
        f"/leads/import/{job.pk}/",
        {"action": "preview", "column-0": "email", "column-1": "first_name", "column-2": ""},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert '<th scope="col">First name</th>' in html
    assert '<td data-label="First name">Ada</td>' in html
    assert "who: Ada" not in html and "<html" not in html
    job.refresh_from_db()
    assert job.mapping == ["email", "trait", "trait"]  # a preview changes nothing


def test_a_mapping_without_email_is_shown_as_an_error(marketer):
    client = client_for(marketer)
    uploaded(client, csv_bytes(ROWS))
    job = ImportJob.objects.get()

    response = client.post(f"/leads/import/{job.pk}/", start_data(**{"column-0": "trait"}))

    assert response.status_code == 400
    assert b"No column is mapped to the email" in response.content
    job.refresh_from_db()
    assert job.status == ImportStatus.DRAFT


def test_start_queues_the_job_and_the_page_polls_until_done(
    marketer, django_capture_on_commit_callbacks, published
):
    client = client_for(marketer)
    uploaded(client, csv_bytes(ROWS))
    job = ImportJob.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/leads/import/{job.pk}/", start_data())

    assert response.status_code == 302
    assert published == [("imports.run", (job.pk,))]
    polling = client.get(
        f"/leads/import/{job.pk}/", headers={"HX-Request": "true"}
    ).content.decode()
    assert 'hx-trigger="every 1s"' in polling and "Importing…" in polling
    run(job)
    done = client.get(f"/leads/import/{job.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in done
    assert "Import done" in done
    assert f'href="/api/v1/imports/{job.pk}/errors.csv"' in done
    assert "<td>Not a valid email address: &#x27;nope&#x27;.</td>" in done
    assert list(Lead.objects.values_list("first_name", flat=True)) == ["Ada"]


def test_discarding_a_draft_cancels_it(marketer):
    client = client_for(marketer)
    uploaded(client, csv_bytes(ROWS))
    job = ImportJob.objects.get()

    response = client.post(f"/leads/import/{job.pk}/cancel/")

    assert response["Location"] == "/leads/import/"
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED


def test_another_users_job_is_404(marketer, manager):
    uploaded(client_for(marketer), csv_bytes(ROWS))
    job = ImportJob.objects.get()
    other = client_for(manager)

    assert other.get(f"/leads/import/{job.pk}/").status_code == 404
    assert other.post(f"/leads/import/{job.pk}/", start_data()).status_code == 404
    assert other.post(f"/leads/import/{job.pk}/cancel/").status_code == 404
    job.refresh_from_db()
    assert job.status == ImportStatus.DRAFT


def test_the_upload_page_lists_my_recent_imports(marketer, django_assert_max_num_queries):
    client = client_for(marketer)
    for _ in range(3):
        uploaded(client, csv_bytes(ROWS))

    with django_assert_max_num_queries(4):  # session, user, jobs (+ a savepoint-free render)
        page = client.get("/leads/import/").content.decode()

    assert page.count('<a href="/leads/import/') == 3 + 1  # three jobs and the nav link
