"""Triggers (stage, recycled, score, filter), exits, the playbook and the timeline."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from leads import services as lead_services
from leads.models import Lead
from leads.selectors import lead_timeline
from nurturing import services, tasks
from nurturing.models import Enrollment, EnrollmentStatus, Sequence
from playbook.nurturing import playbook_load
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.NURTURE_SEND_RATE_PER_MINUTE = 0


def active_keys(lead) -> list[str]:
    return sorted(
        Enrollment.objects.filter(lead=lead, status=EnrollmentStatus.ACTIVE).values_list(
            "sequence__key", flat=True
        )
    )


def test_playbook_loads_the_three_series_once():
    assert playbook_load() == 3
    assert playbook_load() == 0

    welcome = Sequence.objects.get(key="welcome-iql")
    assert list(welcome.steps.values_list("delay_minutes", flat=True)) == [0, 2 * 1440, 3 * 1440]
    offer = Sequence.objects.get(key="mql-offer")
    assert [s.subject.split()[0] for s in offer.steps.all()] == ["How", "{{", "A"]
    assert Sequence.objects.get(key="recycled-reengagement").trigger_stage_entry == "recycled"


def test_creating_a_lead_asks_nurturing_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        lead = lead_services.lead_create(actor=None, email="hook@example.com")

    hooks = [c for c in callbacks if getattr(c, "func", None) is tasks.stage_entered_hook]
    assert [h.args for h in hooks] == [([lead.pk], True)]  # (the leads, created)


def test_new_iql_joins_the_welcome_series_once():
    playbook_load()
    lead = lead_services.lead_create(actor=None, email="w@example.com")

    first = services.leads_stage_entered(lead_ids=[lead.pk])
    second = services.leads_stage_entered(lead_ids=[lead.pk])

    assert (first, second) == (1, 0)
    assert active_keys(lead) == ["welcome-iql"]
    assert Enrollment.objects.get().next_due_at <= timezone.now()


def test_becoming_mql_leaves_welcome_and_starts_the_offer_series(marketer):
    playbook_load()
    lead = lead_services.lead_create(actor=None, email="m@example.com")
    services.leads_stage_entered(lead_ids=[lead.pk])

    lead_services.lead_transition(lead_id=lead.pk, to="MQL", actor=marketer)
    services.leads_stage_entered(lead_ids=[lead.pk])

    assert active_keys(lead) == ["mql-offer"]
    welcome = Enrollment.objects.get(sequence__key="welcome-iql")
    assert (welcome.status, welcome.exit_reason) == (EnrollmentStatus.EXITED, "reached MQL")


def test_recycled_lead_gets_re_engagement_not_the_offer_series(rep):
    playbook_load()
    lead = LeadFactory(stage="SAL", owner=rep)

    lead_services.lead_transition(lead_id=lead.pk, to="MQL", actor=rep, reason="not now")
    services.leads_stage_entered(lead_ids=[lead.pk])

    assert active_keys(lead) == ["recycled-reengagement"]


def test_sales_accepting_the_lead_ends_its_nurture(rep):
    playbook_load()
    lead = LeadFactory(stage="MQL")
    services.leads_stage_entered(lead_ids=[lead.pk])
    assert active_keys(lead) == ["mql-offer"]

    lead_services.lead_transition(lead_id=lead.pk, to="SAL", actor=rep)
    services.leads_stage_entered(lead_ids=[lead.pk])

    assert active_keys(lead) == []
    assert Enrollment.objects.get().exit_reason == "reached SAL"


def test_many_leads_entering_stages_at_once_take_a_bounded_number_of_queries(
    rep, marketer, django_assert_max_num_queries
):
    """A re-score moves thousands of leads in one go: each lead gets what it would alone."""
    playbook_load()
    new_iql = [lead_services.lead_create(actor=None, email=f"n{i}@example.com") for i in range(5)]
    to_mql = [LeadFactory(stage="IQL") for _ in range(5)]
    for lead in to_mql:
        services.leads_stage_entered(lead_ids=[lead.pk])  # in the welcome series
        lead_services.lead_transition(lead_id=lead.pk, to="MQL", actor=marketer)
    recycled = [LeadFactory(stage="SAL", owner=rep) for _ in range(5)]
    for lead in recycled:
        lead_services.lead_transition(lead_id=lead.pk, to="MQL", actor=rep, reason="not now")
    blocked = LeadFactory(do_not_contact=True, do_not_contact_reason="bounced")
    everyone = [lead.pk for lead in new_iql + to_mql + recycled + [blocked]]

    with django_assert_max_num_queries(20):
        enrolled = services.leads_stage_entered(lead_ids=everyone)

    assert enrolled == 15
    assert all(active_keys(lead) == ["welcome-iql"] for lead in new_iql)
    assert all(active_keys(lead) == ["mql-offer"] for lead in to_mql)
    assert all(active_keys(lead) == ["recycled-reengagement"] for lead in recycled)
    assert active_keys(blocked) == []
    exited = Enrollment.objects.filter(status=EnrollmentStatus.EXITED)
    assert sorted(exited.values_list("lead_id", "exit_reason")) == [
        (lead.pk, "reached MQL") for lead in to_mql
    ]
    assert services.leads_stage_entered(lead_ids=everyone) == 0


def test_do_not_contact_lead_is_never_enrolled_by_a_trigger():
    playbook_load()
    lead = LeadFactory(do_not_contact=True, do_not_contact_reason="unsubscribed")

    assert services.leads_stage_entered(lead_ids=[lead.pk]) == 0
    assert services.triggers_match() == 0
    assert Enrollment.objects.count() == 0


def test_one_active_enrollment_per_lead_and_sequence_is_a_database_rule():
    lead, sequence = LeadFactory(), make_sequence(key="uniq")
    now = timezone.now()
    Enrollment.objects.create(lead=lead, sequence=sequence, trigger="manual", enrolled_at=now)

    with pytest.raises(IntegrityError):
        Enrollment.objects.create(lead=lead, sequence=sequence, trigger="manual", enrolled_at=now)


def test_ended_enrollment_allows_a_new_one():
    lead, sequence = LeadFactory(), make_sequence(key="again")
    now = timezone.now()
    Enrollment.objects.create(
        lead=lead, sequence=sequence, trigger="manual", enrolled_at=now, status="completed"
    )

    services.enrollment_create(lead_id=lead.pk, sequence_id=sequence.pk, actor=None)

    assert Enrollment.objects.filter(lead=lead).count() == 2


def test_score_trigger_enrolls_each_lead_once():
    sequence = make_sequence(key="hot", trigger_kind="score", trigger_score=50)
    hot, cold = LeadFactory(score=60), LeadFactory(score=10)

    first, second = services.triggers_match(), services.triggers_match()

    assert (first, second) == (1, 0)
    assert list(sequence.enrollments.values_list("lead_id", flat=True)) == [hot.pk]
    Lead.objects.filter(pk=cold.pk).update(score=55)
    assert services.triggers_match() == 1


def test_filter_trigger_uses_the_lead_list_filters():
    make_sequence(
        key="events", trigger_kind="filter", trigger_filter={"source": ["event"], "score_min": 5}
    )
    wanted = LeadFactory(source="event", score=9)
    LeadFactory(source="event", score=1)
    LeadFactory(source="social", score=9)

    assert services.triggers_match() == 1
    assert Enrollment.objects.get().lead_id == wanted.pk


def test_stage_matcher_backs_up_the_kick_but_does_not_replay_history():
    sequence = make_sequence(key="stage", trigger_kind="stage", trigger_stage="IQL")
    old = LeadFactory(stage_entered_at=sequence.activated_at - timedelta(hours=1))
    new = LeadFactory(stage_entered_at=timezone.now())

    assert services.triggers_match() == 1
    assert list(Enrollment.objects.values_list("lead_id", flat=True)) == [new.pk]
    assert not Enrollment.objects.filter(lead=old).exists()


def test_inactive_sequence_enrolls_nobody():
    make_sequence(key="off", trigger_kind="score", trigger_score=0, is_active=False)
    LeadFactory(score=10)

    assert services.triggers_match() == 0


def test_timeline_shows_enrollments_and_emails():
    lead = LeadFactory()
    now = timezone.now()
    Enrollment.objects.create(
        lead=lead,
        sequence=make_sequence(key="tl"),
        trigger="manual",
        enrolled_at=now,
        next_due_at=now,
    )
    services.due_dispatch()
    services.messages_send(
        message_ids=list(lead.nurture_enrollments.get().messages.values_list("pk", flat=True))
    )

    kinds = [(item["kind"], item["title"]) for item in lead_timeline(lead=lead)]

    assert ("nurture_enrolled", "Enrolled in Tl") in kinds
    assert ("nurture_email", "Email sent") in kinds
    assert ("nurture_completed", "Completed Tl") in kinds


def test_periodic_matcher_enrolls_and_queues_what_is_due_at_once():
    make_sequence(key="hot2", trigger_kind="score", trigger_score=50)
    lead = LeadFactory(score=70)

    enrolled = tasks.nurture_match_triggers()

    assert enrolled == 1
    message = lead.nurture_enrollments.get().messages.get()
    assert message.status == "queued"
