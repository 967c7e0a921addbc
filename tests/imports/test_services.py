"""Running an import (the task's service, in this process): modes, duplicates, bad rows,
consent, scoring, batches, cancel and a second run."""

from datetime import timedelta

import pytest
from django.utils import timezone

from imports import services
from imports.models import ImportFile, ImportJob, ImportRowError, ImportStatus
from leads.models import Consent, ConsentState, Lead, SourceChannel, Stage, StageChange
from playbook.scoring import playbook_load
from tests.factories import LeadFactory
from tests.imports.conftest import counts, csv_bytes, run

pytestmark = pytest.mark.django_db

HEADER = ["Email", "First name", "Last name", "Company", "Job title", "Plan"]


def errors_of(job: ImportJob) -> list[tuple[int, str, list[str]]]:
    return list(job.row_errors.order_by("row").values_list("row", "reason", "values"))


def test_new_leads_are_created_with_source_import(importing):
    job = importing([HEADER, ["ada@example.com", "Ada", "Lovelace", "Analytical", "CTO", "Pro"]])

    lead = Lead.objects.get()
    assert counts(job) == {
        "status": "done",
        "total": 1,
        "processed": 1,
        "created": 1,
        "updated": 0,
        "skipped": 0,
        "errors": 0,
    }
    assert (lead.email, lead.first_name, lead.last_name, lead.company_name, lead.title) == (
        "ada@example.com",
        "Ada",
        "Lovelace",
        "Analytical",
        "CTO",
    )
    assert (lead.source, lead.stage, lead.traits) == (
        SourceChannel.IMPORT,
        Stage.IQL,
        {"plan": "Pro"},
    )
    assert (lead.consent, lead.consent_required) == (ConsentState.UNKNOWN, True)
    history = StageChange.objects.get(lead=lead)
    assert (history.from_stage, history.to_stage, history.reason) == (
        "",
        "IQL",
        f"import #{job.pk}",
    )
    assert not ImportFile.objects.filter(job=job).exists()  # dropped once done
    assert job.finished_at is not None


def test_an_existing_lead_is_updated_by_email_ignoring_case(importing):
    lead = LeadFactory(email="ada@example.com", first_name="Ada", title="Engineer", traits={"a": 1})

    job = importing([HEADER, ["ADA@Example.com", "", "Byron", "", "CTO", "Pro"]])

    lead.refresh_from_db()
    assert (job.created, job.updated, Lead.objects.count()) == (0, 1, 1)
    # Non-empty cells overwrite; empty ones keep the lead's value; traits are merged.
    assert (lead.first_name, lead.last_name, lead.title) == ("Ada", "Byron", "CTO")
    assert lead.traits == {"a": 1, "plan": "Pro"}
    assert lead.source != SourceChannel.IMPORT  # where it first came from stays


def test_duplicates_within_the_file_update_instead_of_doubling(importing):
    rows = [
        HEADER,
        ["ada@example.com", "Ada", "", "", "", ""],
        ["bob@example.com", "Bob", "", "", "", ""],
        ["ADA@example.com", "", "Lovelace", "", "", "Pro"],
    ]

    job = importing(rows)

    assert (job.created, job.updated, job.skipped, Lead.objects.count()) == (2, 1, 0, 2)
    ada = Lead.objects.get(email="ada@example.com")
    assert (ada.first_name, ada.last_name, ada.traits) == ("Ada", "Lovelace", {"plan": "Pro"})


def test_duplicates_across_batches_update_too(importing, settings):
    settings.IMPORT_BATCH_SIZE = 2
    rows = [HEADER] + [[f"p{i}@example.com", f"P{i}", "", "", "", ""] for i in range(3)]
    rows.append(["P0@EXAMPLE.COM", "Again", "", "", "", ""])

    job = importing(rows)

    assert (job.created, job.updated, job.processed, Lead.objects.count()) == (3, 1, 4, 3)
    assert Lead.objects.get(email="p0@example.com").first_name == "Again"


def test_create_only_skips_existing_emails(importing):
    LeadFactory(email="old@example.com", first_name="Old")
    rows = [
        HEADER,
        ["old@example.com", "New", "", "", "", ""],
        ["new@example.com", "N", "", "", "", ""],
    ]
    rows.append(["NEW@example.com", "Twice", "", "", "", ""])

    job = importing(rows, mode="create_only")

    assert (job.created, job.updated, job.skipped) == (1, 0, 2)
    assert Lead.objects.get(email="old@example.com").first_name == "Old"
    assert Lead.objects.get(email="new@example.com").first_name == "N"


def test_update_only_skips_unknown_emails(importing):
    LeadFactory(email="old@example.com", first_name="Old")
    rows = [
        HEADER,
        ["old@example.com", "New", "", "", "", ""],
        ["new@example.com", "N", "", "", "", ""],
    ]
    rows.append(["new@example.com", "N2", "", "", "", ""])

    job = importing(rows, mode="update_only")

    assert (job.created, job.updated, job.skipped) == (0, 1, 2)
    assert list(Lead.objects.values_list("email", "first_name")) == [("old@example.com", "New")]


def test_bad_rows_are_reported_exactly_and_the_rest_imported(importing):
    rows = [
        HEADER,
        ["ok@example.com", "Ok", "", "", "", ""],
        ["not an email", "Bad", "", "", "", ""],
        ["", "No email", "", "", "", ""],
        ["long@example.com", "L" * 151, "", "", "", ""],
        ["extra@example.com", "E", "", "", "", "", "surplus"],
    ]

    job = importing(rows)

    assert counts(job) == {
        "status": "done",
        "total": 5,
        "processed": 5,
        "created": 1,
        "updated": 0,
        "skipped": 0,
        "errors": 4,
    }
    assert errors_of(job) == [
        (3, "Not a valid email address: 'not an email'.", rows[2]),
        (4, "No email.", rows[3]),
        (5, "first_name is longer than 150 characters.", rows[4]),
        (6, "The row has 7 values; the header has 6.", rows[5]),
    ]
    assert list(Lead.objects.values_list("email", flat=True)) == ["ok@example.com"]


def test_declared_consent_is_recorded_with_its_evidence(importing):
    existing = LeadFactory(email="old@example.com")
    rows = [
        HEADER,
        ["old@example.com", "", "", "", "", ""],
        ["new@example.com", "", "", "", "", ""],
    ]

    job = importing(rows, consent="given", consent_wording="Send me the newsletter.")

    assert set(Lead.objects.values_list("email", "consent")) == {
        ("old@example.com", "given"),
        ("new@example.com", "given"),
    }
    evidence = Consent.objects.order_by("lead_id")
    assert [(c.lead_id, c.state, c.wording, c.source) for c in evidence] == [
        (existing.pk, "given", "Send me the newsletter.", f"import #{job.pk}"),
        (
            Lead.objects.get(email="new@example.com").pk,
            "given",
            "Send me the newsletter.",
            f"import #{job.pk}",
        ),
    ]


def test_unknown_consent_records_no_evidence(importing):
    importing([HEADER, ["new@example.com", "", "", "", "", ""]])

    assert Consent.objects.count() == 0


def test_given_consent_needs_its_wording(marketer):
    with pytest.raises(services.ApiError) as refused:
        services.job_create(
            actor=marketer, filename="a.csv", data=csv_bytes([HEADER]), consent="given"
        )

    assert refused.value.fields == {
        "consent_wording": ["Give the exact wording the people agreed to."]
    }
    assert ImportJob.objects.count() == 0


def test_imported_leads_are_scored_by_their_attributes(importing):
    playbook_load()  # senior title +15, company of 50 or more +10, free mail -10
    header = ["Email", "Job title", "Employees"]
    rows = [header, ["vp@acme.com", "VP Sales", "120"], ["dev@gmail.com", "Developer", "5"]]

    importing(rows)

    scores = dict(Lead.objects.values_list("email", "score"))
    assert scores == {"vp@acme.com": 25, "dev@gmail.com": -10}


def test_updated_leads_are_rescored(importing):
    playbook_load()
    lead = LeadFactory(email="boss@acme.com", title="Engineer")

    importing([["Email", "Job title"], ["boss@acme.com", "Head of IT"]])

    lead.refresh_from_db()
    assert (lead.title, lead.score) == ("Head of IT", 15)


def test_a_second_run_of_a_finished_job_changes_nothing(importing):
    job = importing([HEADER, ["ada@example.com", "Ada", "", "", "", ""]])

    assert services.job_run_step(job_id=job.pk) is False

    job.refresh_from_db()
    assert (job.status, job.processed, job.created, Lead.objects.count()) == ("done", 1, 1, 1)


def test_a_step_hands_over_when_its_budget_is_spent(marketer, settings):
    settings.IMPORT_BATCH_SIZE = 1
    rows = [HEADER] + [[f"p{i}@example.com", "", "", "", "", ""] for i in range(3)]
    job = services.job_create(actor=marketer, filename="a.csv", data=csv_bytes(rows))

    assert services.job_run_step(job_id=job.pk, budget_seconds=0) is True

    job.refresh_from_db()
    assert (job.status, job.cursor, job.processed, Lead.objects.count()) == ("running", 1, 1, 1)
    job = run(job)
    assert (job.status, job.processed, job.created, Lead.objects.count()) == ("done", 3, 3, 3)


def test_a_runner_whose_cursor_moved_stops(marketer, settings):
    settings.IMPORT_BATCH_SIZE = 1
    rows = [HEADER] + [[f"p{i}@example.com", "", "", "", "", ""] for i in range(2)]
    job = services.job_create(actor=marketer, filename="a.csv", data=csv_bytes(rows))
    services.job_run_step(job_id=job.pk, budget_seconds=0)

    # Another delivery of the task, which still thinks no row is done.
    records = [next(iter(services.parsing.records(csv_bytes(rows).decode(), ",")))]
    assert services._batch_apply(job.pk, 0, records) is None

    job.refresh_from_db()
    assert (job.cursor, job.created, Lead.objects.count()) == (1, 1, 1)


def test_a_cancelled_job_stops_at_its_next_batch(marketer, settings):
    settings.IMPORT_BATCH_SIZE = 1
    rows = [HEADER] + [[f"p{i}@example.com", "", "", "", "", ""] for i in range(3)]
    job = services.job_create(actor=marketer, filename="a.csv", data=csv_bytes(rows))
    services.job_run_step(job_id=job.pk, budget_seconds=0)

    assert services.job_cancel(job=job) is True
    assert services.job_run_step(job_id=job.pk) is False

    job.refresh_from_db()
    assert (job.status, job.processed, Lead.objects.count()) == (ImportStatus.CANCELLED, 1, 1)
    assert services.job_cancel(job=job) is False


def test_a_draft_is_started_with_the_chosen_mapping(
    marketer, django_capture_on_commit_callbacks, published
):
    data = csv_bytes([["Contact", "Who"], ["ada@example.com", "Ada"]])
    job = services.job_upload(actor=marketer, filename="a.csv", data=data)
    assert (job.status, job.mapping) == ("draft", ["email", "trait"])

    with django_capture_on_commit_callbacks(execute=True):
        services.job_start(
            job=job, mapping=["email", "first_name"], mode="create_only", consent="unknown"
        )

    assert published == [("imports.run", (job.pk,))]
    job = run(job)
    assert Lead.objects.get().first_name == "Ada"
    with pytest.raises(services.JobNotDraft):
        services.job_start(job=job, mapping=["email", ""], mode="create_only", consent="unknown")


def test_error_rows_are_counted_once_per_row(importing):
    job = importing([HEADER, ["bad", "", "", "", "", ""], ["bad", "", "", "", "", ""]])

    assert (job.errors, ImportRowError.objects.filter(job=job).count()) == (2, 2)


def test_a_lead_created_meanwhile_by_someone_else_is_updated(importing, monkeypatch):
    # Between the batch's lookup and its insert, another writer creates the lead.
    real = services._existing
    calls = []

    def racing(emails):
        calls.append(emails)
        if len(calls) == 1:
            LeadFactory(email="ada@example.com", first_name="Other")
            return {}
        return real(emails)

    monkeypatch.setattr(services, "_existing", racing)

    job = importing([HEADER, ["ada@example.com", "", "Lovelace", "", "", ""]])

    assert (job.created, job.updated, Lead.objects.count()) == (0, 1, 1)
    assert list(Lead.objects.values_list("first_name", "last_name")) == [("Other", "Lovelace")]


def test_resume_queues_jobs_nothing_runs(marketer, django_capture_on_commit_callbacks, published):
    data = csv_bytes([HEADER, ["ada@example.com", "", "", "", "", ""]])
    stale = services.job_create(actor=marketer, filename="a.csv", data=data)
    fresh = services.job_create(actor=marketer, filename="b.csv", data=data)
    beating = services.job_create(actor=marketer, filename="c.csv", data=data)
    old = timezone.now() - timedelta(seconds=181)
    ImportJob.objects.filter(pk__in=[stale.pk, beating.pk]).update(created_at=old)
    ImportJob.objects.filter(pk=beating.pk).update(status="running", heartbeat_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        assert services.jobs_resume() == [stale.pk]

    assert published == [("imports.run", (stale.pk,))]
    assert fresh.pk not in [args[0] for _, args in published]
