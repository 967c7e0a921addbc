"""Activities (POST/GET /api/v1/leads/{id}/activities/, the first touch) and tasks
(/api/v1/tasks/, ?due=today)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from core.errors import ApiError
from handoff.models import Activity, Assignment, HandoffSettings, Task
from handoff.selectors import handoff_settings
from handoff.selectors.activities import task_list, today_end
from handoff.services import activities, decisions
from leads.models import Stage
from leads.selectors import lead_timeline
from tests.factories import AssignmentFactory, LeadFactory
from tests.handoff.decisions_helpers import snapshot, url
from tests.support import assert_error, race

pytestmark = pytest.mark.django_db

TASKS = "/api/v1/tasks/"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def accepted(rep):
    """An assignment the rep accepted at NOW - 1 hour."""
    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL))
    decisions.lead_accept(lead_id=assignment.lead_id, actor=rep, now=NOW - timedelta(hours=1))
    assignment.refresh_from_db()
    return assignment


def log(rep, lead_id: int, kind: str, at: datetime) -> Activity:
    return activities.activity_log(lead_id=lead_id, actor=rep, kind=kind, occurred_at=at, now=NOW)


# --- activities ---------------------------------------------------------------------------------


def test_the_owner_logs_an_activity_when_now_by_default(rep_client, rep, accepted):
    before = timezone.now()

    response = rep_client.post(
        url(accepted.lead_id, "activities"), {"kind": "note", "body": " Spoke to IT "}, "json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["body"], body["user"], body["user_name"]) == (
        "note",
        "Spoke to IT",
        rep.pk,
        "rep",
    )
    row = Activity.objects.get()
    assert before <= row.occurred_at <= timezone.now()


def test_activities_are_listed_newest_first_and_on_the_timeline(rep, rep_client, accepted):
    older = log(rep, accepted.lead_id, "call", NOW - timedelta(minutes=30))
    newer = log(rep, accepted.lead_id, "email", NOW - timedelta(minutes=10))

    response = rep_client.get(url(accepted.lead_id, "activities"))

    assert [row["id"] for row in response.json()["results"]] == [newer.pk, older.pk]
    kinds = [item["kind"] for item in lead_timeline(lead=accepted.lead)]
    assert "activity_call" in kinds and "activity_email" in kinds


def test_an_activity_may_be_now_but_not_in_the_future(rep, accepted):
    at_now = log(rep, accepted.lead_id, "note", NOW)
    assert at_now.occurred_at == NOW

    with pytest.raises(ApiError) as refused:
        log(rep, accepted.lead_id, "note", NOW + timedelta(microseconds=1))

    assert refused.value.fields == {"occurred_at": ["May not be in the future."]}
    assert Activity.objects.count() == 1


def test_a_future_activity_is_a_400_through_the_api(rep_client, accepted):
    future = (timezone.now() + timedelta(minutes=5)).isoformat()

    response = rep_client.post(
        url(accepted.lead_id, "activities"), {"kind": "call", "occurred_at": future}, "json"
    )

    assert_error(response, 400, "invalid", fields={"occurred_at"})
    assert not Activity.objects.exists()


def test_an_unknown_kind_is_a_400(rep_client, accepted):
    response = rep_client.post(url(accepted.lead_id, "activities"), {"kind": "fax"}, "json")

    assert_error(response, 400, "invalid", fields={"kind"})


@pytest.mark.parametrize("kind", ["call", "email", "meeting"])
def test_the_first_call_email_or_meeting_after_accept_is_the_first_touch(rep, accepted, kind):
    at = NOW - timedelta(minutes=20)

    log(rep, accepted.lead_id, kind, at)

    accepted.refresh_from_db()
    assert accepted.first_touched_at == at


def test_a_note_is_not_a_touch_and_a_later_touch_does_not_move_the_first(rep, accepted):
    log(rep, accepted.lead_id, "note", NOW - timedelta(minutes=50))
    first = log(rep, accepted.lead_id, "call", NOW - timedelta(minutes=40))
    log(rep, accepted.lead_id, "meeting", NOW - timedelta(minutes=30))

    accepted.refresh_from_db()
    assert accepted.first_touched_at == first.occurred_at


def test_a_touch_before_the_accept_does_not_count_but_one_at_its_instant_does(rep, accepted):
    log(rep, accepted.lead_id, "call", accepted.decided_at - timedelta(microseconds=1))
    accepted.refresh_from_db()
    assert accepted.first_touched_at is None

    log(rep, accepted.lead_id, "call", accepted.decided_at)

    accepted.refresh_from_db()
    assert accepted.first_touched_at == accepted.decided_at


def test_a_touch_on_a_lead_not_yet_accepted_is_no_first_touch(rep):
    pending = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL))

    log(rep, pending.lead_id, "call", NOW)

    assert Assignment.objects.get(pk=pending.pk).first_touched_at is None


def test_a_manager_logs_on_any_reps_lead(manager_client, accepted):
    response = manager_client.post(url(accepted.lead_id, "activities"), {"kind": "note"}, "json")

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("who", "method", "status", "code"),
    [
        ("other_rep_client", "post", 404, "not_found"),
        ("other_rep_client", "get", 404, "not_found"),
        ("marketer_client", "post", 403, "permission_denied"),
        ("anonymous", "post", 401, "not_authenticated"),
        ("anonymous", "get", 401, "not_authenticated"),
    ],
)
def test_activities_of_a_lead_belong_to_its_owner(request, accepted, who, method, status, code):
    client = request.getfixturevalue(who)
    before = snapshot(accepted.lead_id)

    response = getattr(client, method)(url(accepted.lead_id, "activities"), {"kind": "call"})

    assert_error(response, status, code)
    assert snapshot(accepted.lead_id) == before


def test_a_marketer_reads_the_activities(marketer_client, rep, accepted):
    log(rep, accepted.lead_id, "call", NOW)

    assert marketer_client.get(url(accepted.lead_id, "activities")).json()["count"] == 1


def test_in_pool_mode_a_pool_lead_is_claimed_before_logging(pool_mode, rep_client):
    lead = LeadFactory(stage=Stage.MQL)

    response = rep_client.post(url(lead.pk, "activities"), {"kind": "call"}, "json")

    assert_error(response, 403, "not_assigned")


def test_listing_activities_takes_a_bounded_number_of_queries(
    rep, rep_client, accepted, django_assert_max_num_queries
):
    for minutes in range(20):
        log(rep, accepted.lead_id, "note", NOW - timedelta(minutes=minutes))

    with django_assert_max_num_queries(3):
        response = rep_client.get(url(accepted.lead_id, "activities"))

    assert response.json()["count"] == 20


# --- tasks -------------------------------------------------------------------------------------


def test_a_rep_creates_a_task_on_their_lead(rep_client, rep, accepted):
    response = rep_client.post(
        TASKS,
        {"lead": accepted.lead_id, "title": " Send the proposal ", "due_at": "2026-03-03T09:00Z"},
        "json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["lead"], body["assignee"], body["title"], body["done"]) == (
        accepted.lead_id,
        rep.pk,
        "Send the proposal",
        False,
    )
    assert body["due_at"] == "2026-03-03T09:00:00Z"
    items = lead_timeline(lead=accepted.lead)
    assert any(i["kind"] == "task" and "Send the proposal" in i["title"] for i in items)


def test_a_managers_task_goes_to_the_leads_owner(manager_client, rep, accepted):
    response = manager_client.post(
        TASKS, {"lead": accepted.lead_id, "title": "Call back", "due_at": NOW.isoformat()}, "json"
    )

    assert response.json()["assignee"] == rep.pk


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("other_rep_client", 404, "not_found"),
        ("marketer_client", 403, "permission_denied"),
        ("anonymous", 401, "not_authenticated"),
    ],
)
def test_only_the_owner_adds_tasks(request, accepted, who, status, code):
    response = request.getfixturevalue(who).post(
        TASKS, {"lead": accepted.lead_id, "title": "x", "due_at": NOW.isoformat()}, "json"
    )

    assert_error(response, status, code)
    assert not Task.objects.exists()


def test_a_blank_title_is_refused(rep, accepted):
    with pytest.raises(ApiError):
        activities.task_create(lead_id=accepted.lead_id, actor=rep, title="  ", due_at=NOW)
    assert not Task.objects.exists()


def _task(assignee, due_at, **kw) -> Task:
    lead = kw.pop("lead", None) or LeadFactory(owner=assignee)
    return Task.objects.create(lead=lead, assignee=assignee, title="t", due_at=due_at, **kw)


def test_a_rep_lists_their_own_tasks_and_a_manager_everyones(
    rep, other_rep, rep_client, manager_client
):
    mine = _task(rep, NOW + timedelta(hours=2))
    sooner = _task(rep, NOW + timedelta(hours=1))
    theirs = _task(other_rep, NOW)

    mine_ids = [row["id"] for row in rep_client.get(TASKS).json()["results"]]
    all_ids = [row["id"] for row in manager_client.get(TASKS).json()["results"]]
    their_ids = [
        row["id"] for row in manager_client.get(TASKS, {"assignee": other_rep.pk}).json()["results"]
    ]

    assert mine_ids == [sooner.pk, mine.pk]
    assert all_ids == [theirs.pk, sooner.pk, mine.pk]
    assert their_ids == [theirs.pk]


def test_due_today_is_open_tasks_before_the_end_of_today_overdue_included(rep):
    HandoffSettings.objects.update_or_create(
        pk=1,
        defaults={
            "business_hours": {
                "time_zone": "Europe/Berlin",
                "days": [0, 1, 2, 3, 4],
                "start": "09:00",
                "end": "17:00",
            }
        },
    )
    end = today_end(NOW)  # midnight in Berlin: 23:00 UTC in March (CET)
    assert end == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    overdue = _task(rep, NOW - timedelta(days=3))
    last_instant = _task(rep, end - timedelta(microseconds=1))
    _task(rep, end)  # tomorrow
    _task(rep, NOW, done_at=NOW)  # done

    due = task_list(user=rep, due="today", now=NOW)

    assert list(due.values_list("pk", flat=True)) == [overdue.pk, last_instant.pk]
    assert list(task_list(user=rep, due="overdue", now=NOW)) == [overdue]


def test_due_must_be_today_or_overdue(rep_client):
    assert_error(rep_client.get(TASKS, {"due": "someday"}), 400, "invalid", {"due"})


def test_done_filter(rep, rep_client):
    open_task = _task(rep, NOW)
    _task(rep, NOW, done_at=NOW)

    response = rep_client.get(TASKS, {"done": "false"})

    assert [row["id"] for row in response.json()["results"]] == [open_task.pk]


def test_patch_marks_done_once_renames_moves_and_reopens(rep, rep_client):
    task = _task(rep, NOW)

    done = rep_client.patch(f"{TASKS}{task.pk}/", {"done": True}, format="json")
    first_done_at = Task.objects.get(pk=task.pk).done_at
    again = rep_client.patch(
        f"{TASKS}{task.pk}/", {"done": True, "title": "Renamed"}, format="json"
    )
    moved = rep_client.patch(f"{TASKS}{task.pk}/", {"due_at": "2026-04-01T08:00Z"}, "json")
    reopened = rep_client.patch(f"{TASKS}{task.pk}/", {"done": False}, format="json")

    assert done.json()["done"] is True and first_done_at is not None
    assert again.json()["done_at"] == first_done_at.isoformat().replace("+00:00", "Z")
    assert again.json()["title"] == "Renamed"
    assert moved.json()["due_at"] == "2026-04-01T08:00:00Z"
    assert (reopened.json()["done"], reopened.json()["done_at"]) == (False, None)


def test_task_complete_service(rep):
    task = _task(rep, NOW)

    assert activities.task_complete(task_id=task.pk, actor=rep, now=NOW).done_at == NOW
    assert activities.task_complete(task_id=task.pk, actor=rep).done_at == NOW


def test_a_rep_cannot_see_or_change_another_reps_task(rep, other_rep, other_rep_client):
    task = _task(rep, NOW)

    assert_error(other_rep_client.get(f"{TASKS}{task.pk}/"), 404, "not_found")
    assert_error(
        other_rep_client.patch(f"{TASKS}{task.pk}/", {"done": True}, format="json"),
        404,
        "not_found",
    )
    assert Task.objects.get(pk=task.pk).done_at is None
    with pytest.raises(Http404):
        activities.task_update(task_id=task.pk, actor=other_rep, title="mine")


def test_a_manager_reads_and_changes_a_reps_task(rep, manager_client):
    task = _task(rep, NOW)

    assert manager_client.get(f"{TASKS}{task.pk}/").json()["id"] == task.pk
    assert manager_client.patch(f"{TASKS}{task.pk}/", {"done": True}, "json").json()["done"]


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [("marketer_client", 403, "permission_denied"), ("anonymous", 401, "not_authenticated")],
)
def test_tasks_are_for_sales(request, who, status, code):
    assert_error(request.getfixturevalue(who).get(TASKS), status, code)


def test_listing_tasks_takes_a_bounded_number_of_queries(
    rep, rep_client, django_assert_max_num_queries
):
    for hours in range(20):
        _task(rep, timezone.now() - timedelta(hours=hours))
    handoff_settings()  # the settings row exists (its first read creates it)

    # the settings (today's time zone), the count, the page
    with django_assert_max_num_queries(3):
        response = rep_client.get(TASKS, {"due": "today"})

    assert response.json()["count"] == 20


@pytest.mark.django_db(transaction=True)
def test_two_touches_logged_at_once_set_the_first_touch_once(rep):
    assignment = AssignmentFactory(rep=rep, lead=LeadFactory(stage=Stage.MQL))
    decisions.lead_accept(lead_id=assignment.lead_id, actor=rep, now=NOW - timedelta(hours=1))
    times = [NOW - timedelta(minutes=20), NOW - timedelta(minutes=10)]

    results = race(lambda i: log(rep, assignment.lead_id, "call", times[i]))

    assert all(isinstance(result, Activity) for result in results), results
    assignment.refresh_from_db()
    assert assignment.first_touched_at in times
    assert Activity.objects.count() == 2
