"""The CSV import in Chromium: upload, correct a column, preview, start, watch the progress bar
finish, download the bad rows; under the CSP and at phone width."""

import os
from pathlib import Path

import pytest

from imports.models import ImportJob, ImportStatus
from leads.models import Lead
from tests.imports.conftest import csv_bytes, run
from tests.support import PHONE, scroll_width

pytestmark = pytest.mark.browser

ROWS = [
    ["Email", "Who", "Company", "Plan"],
    ["ada@example.com", "Ada", "Analytical", "Pro"],
    ["not-an-email", "Bob", "Nowhere", "Free"],
    ["ADA@example.com", "", "", "Team"],
]


def upload(page, rows=ROWS) -> ImportJob:
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
    page.wait_for_url("**/leads/import/")
    page.get_by_label("CSV file", exact=True).set_input_files(
        {"name": "spring-list.csv", "mimeType": "text/csv", "buffer": csv_bytes(rows)}
    )
    page.get_by_role("button", name="Upload and check").click()
    page.get_by_role("heading", name="Check the columns").wait_for()
    return ImportJob.objects.get()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("LEADCRM_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_import_a_csv_and_watch_it_finish(logged_in, marketer, published, tmp_path, shots):
    page = logged_in(marketer)
    job = upload(page)
    assert page.get_by_text("3 rows, read as utf-8, separated by commas.").is_visible()
    preview = page.locator("#preview table")
    assert preview.locator("thead th").all_inner_texts() == ["Line", "Email", "Company", "Traits"]

    # "Who" was guessed as a custom trait: make it the first name; the preview follows.
    page.get_by_label("Import “Who” as").select_option("first_name")
    preview.locator("thead th", has_text="First name").wait_for()
    page.screenshot(path=shots / "import-mapping-desktop.png", full_page=True)
    assert preview.locator("thead th").all_inner_texts() == [
        "Line",
        "Email",
        "First name",
        "Company",
        "Traits",
    ]
    assert preview.locator("tbody tr").first.inner_text().split("\t")[:3] == [
        "2",
        "ada@example.com",
        "Ada",
    ]
    assert "Refused: Not a valid email address: 'not-an-email'." in preview.inner_text()

    page.get_by_label("They agreed to receive our email").check()
    page.get_by_label("What they agreed to").fill("Send me the spring newsletter.")
    page.get_by_role("button", name="Start the import").click()

    page.get_by_role("heading", name="Importing…").wait_for()
    assert page.locator("#import-bar").get_attribute("value") == "0"
    assert published == [("imports.run", (job.pk,))]
    run(job)  # what the worker does with the task the page queued

    page.get_by_role("heading", name="Import done").wait_for(timeout=10_000)
    assert page.locator("#import-bar").get_attribute("value") == "100"
    counts = page.locator(".import-counts dd").all_inner_texts()
    assert counts == ["1", "1", "0", "1"]  # created, updated, skipped, bad rows
    assert page.locator("table.errors tbody tr").all_inner_texts() == [
        "3\tNot a valid email address: 'not-an-email'."
        "\tEmail not-an-email Who Bob Company Nowhere Plan Free"
    ]
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the 1 bad row (CSV)").click()
    saved = tmp_path / "errors.csv"
    download_info.value.save_as(saved)
    assert saved.read_bytes().decode() == (
        "row,reason,Email,Who,Company,Plan\r\n"
        "3,Not a valid email address: 'not-an-email'.,not-an-email,Bob,Nowhere,Free\r\n"
    )
    lead = Lead.objects.get()
    assert (lead.first_name, lead.company_name, lead.traits, lead.consent) == (
        "Ada",
        "Analytical",
        {"plan": "Team"},
        "given",
    )


def test_the_progress_bar_polls_while_the_job_runs(logged_in, marketer, settings):
    settings.IMPORT_BATCH_SIZE = 1
    page = logged_in(marketer)
    job = upload(page, [["Email"], ["a@example.com"], ["b@example.com"]])
    page.get_by_role("button", name="Start the import").click()
    page.get_by_role("heading", name="Importing…").wait_for()

    from imports import services

    services.job_run_step(job_id=job.pk, budget_seconds=0)  # one row of two

    page.get_by_text("1 of 2 rows processed (50%).").wait_for()
    assert page.locator("#import-bar").get_attribute("value") == "50"
    run(job)
    page.get_by_role("heading", name="Import done").wait_for()
    assert page.get_by_text("None: every row was used.").is_visible()


def test_import_pages_fit_a_phone(logged_in, marketer, shots):
    page = logged_in(marketer, viewport=PHONE)
    job = upload(page)
    page.screenshot(path=shots / "import-mapping-phone.png", full_page=True)
    assert scroll_width(page) <= PHONE["width"]

    page.get_by_role("button", name="Start the import").click()
    run(job)
    page.get_by_role("heading", name="Import done").wait_for()
    assert scroll_width(page) <= PHONE["width"]
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
