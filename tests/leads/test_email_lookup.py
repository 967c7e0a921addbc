"""Finding a lead by its email in any case goes through the case-insensitive unique index
(LOWER(email)). Django's `email__iexact` compares UPPER(email), which no index answers: every
lead was read on each form submission (84 ms at 100,000 leads, on a lock-taking query)."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from leads.models import Lead
from leads.selectors import lead_locked_by_email, leads_with_email
from tests.factories import LeadFactory
from tests.web.conftest import make_form, submit

pytestmark = pytest.mark.django_db


def plan(sql: str, params) -> str:
    """EXPLAIN with sequential scans priced out: an index that can answer is used."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_lookup_matches_any_case_through_the_index():
    lead = LeadFactory(email="Ada.Lovelace@Example.com")
    found = leads_with_email("ada.lovelace@EXAMPLE.COM")
    assert list(found) == [lead]
    # The WHERE is what the index must answer; the lead list's default order is the caller's
    # (PostgreSQL 18, on a table of one row, walks the created-at index backwards for it
    # and filters, rather than sort one row).
    sql, params = found.order_by().query.sql_with_params()
    assert "lead_email_ci_unique" in plan(sql, params)


def test_the_locked_lookup_matches_any_case_and_reads_only_a_lead_found():
    lead = LeadFactory(email="Ada.Lovelace@Example.com")
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert lead_locked_by_email("nobody@example.com") is None
        assert len(queries) == 1  # the lock's lookup alone: nothing found, nothing read
        found = lead_locked_by_email("ada.lovelace@EXAMPLE.COM")
    assert found == lead and found.email == "Ada.Lovelace@Example.com"
    assert "lead_email_ci_unique" in plan(queries.captured_queries[0]["sql"], None)


def test_a_form_submission_finds_its_lead_through_the_index(marketer):
    form = make_form(marketer)
    LeadFactory(email="known@example.com")
    with CaptureQueriesContext(connection) as queries:
        submission = submit(form, email="KNOWN@example.com")
    assert submission.lead.email == "known@example.com"
    lookups = [
        q["sql"] for q in queries.captured_queries
        if q["sql"].startswith(("SELECT id FROM leads_lead", 'SELECT "leads_lead"'))
        and "FOR UPDATE" in q["sql"]
    ]  # fmt: skip
    assert lookups, "the submission did not look its lead up"
    for sql in lookups:
        assert "lead_email_ci_unique" in plan(sql, None), sql
    assert Lead.objects.count() == 1


def test_the_list_search_goes_through_the_trigram_indexes():
    """The lead list's free-text search (icontains: UPPER(column) LIKE '%word%') is answered by
    the trigram indexes on those very expressions (leads migration 0010), not by reading every
    lead (280 ms at 100,000 leads before)."""
    from leads.filters import LeadFilter

    LeadFactory(last_name="Lovelace")
    found = LeadFilter({"q": "lovel"}, queryset=Lead.objects.all()).qs
    assert [lead.last_name for lead in found] == ["Lovelace"]
    sql, params = found.order_by().values("pk").query.sql_with_params()
    shown = plan(sql, params)
    for column in ("email", "first_name", "last_name", "company_name"):
        assert f"lead_search_{column}" in shown, shown
