"""The SLA demo data: met and missed deadlines, a lead taken back, consistent with the job."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from handoff.models import Assignment, SlaNotice
from handoff.selectors.reports_sla import sla_report
from handoff.services import sla
from leads.models import Lead
from playbook.demo import demo_users_ensure
from playbook.demo_handoff_sla import demo_sla_ensure

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setattr("core.publish.publish", lambda *args, **kwargs: True)
    demo_users_ensure()
    return demo_sla_ensure()


def test_the_demo_has_met_missed_and_taken_back_assignments_once(demo):
    assert demo == 7
    assert demo_sla_ensure() == 0  # idempotent
    statuses = Counter(Assignment.objects.values_list("status", flat=True))
    assert statuses == {"accepted": 4, "pending": 2, "reassigned": 1}
    taken = Assignment.objects.get(status="reassigned")
    assert Lead.objects.get(pk=taken.lead_id).owner_id is None
    assert Counter(SlaNotice.objects.values_list("kind", flat=True)) == {
        "accept": 3,
        "touch": 1,
        "reassigned": 1,
    }
    assert not SlaNotice.objects.filter(sent_at__isnull=True).exists()


def test_the_job_finds_nothing_left_to_do_in_the_demo(demo):
    assert sla.sla_check() == {
        "accept_breaches": 0,
        "touch_breaches": 0,
        "reassigned": 0,
        "notices_requeued": 0,
    }


def test_the_waiting_lead_is_taken_back_once_its_reassign_deadline_passes(demo):
    waiting = Assignment.objects.get(lead__email="ivo.kral@tatra.example")

    result = sla.sla_check(now=waiting.reassign_due_at)

    # By then the on-time lead's accept deadline has passed as well.
    assert (result["accept_breaches"], result["reassigned"]) == (1, 1)
    assert Assignment.objects.get(pk=waiting.pk).status == "reassigned"


def test_the_sla_report_over_the_demo(demo, manager):
    today = timezone.localdate()

    report = sla_report(user=manager, first=today - timedelta(days=29), last=today)

    by_rep = {row["username"]: row for row in report["reps"]}
    assert report["total"]["assignments"] == 7
    assert (by_rep["rep1"]["assignments"], by_rep["rep2"]["assignments"]) == (4, 3)
    assert by_rep["rep1"]["accept"]["measured"] == 3  # the lead with time left is not counted
    assert by_rep["rep1"]["accept"]["within_sla"] == 1
    assert by_rep["rep2"]["accept"]["within_sla"] == 2
    assert by_rep["rep1"]["first_touch"]["share"] == 1.0
    assert by_rep["rep2"]["first_touch"]["share"] == 0.5
