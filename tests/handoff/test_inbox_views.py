"""The rep's inbox and the hand-off's actions as pages: without JavaScript (a form, a redirect)
and with htmx (fragments, the dialog); who may do what is the services' decision."""

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone

from handoff.models import Activity, Assignment, Discovery, Rejection, Task
from leads.models import Stage
from tests.factories import LeadFactory
from tests.handoff.inbox_data import accepted, task, waiting

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
CHECKLIST = {
    "product_fit": "on",
    "decision_makers": "The CFO and the head of IT",
    "decision_process": "A pilot, then procurement",
    "timeframe": "This quarter",
    "current_solution": "Spreadsheets",
    "budget": "20k a year",
}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def lead_names(page: str, section: str) -> list[str]:
    """The leads' links in one of the inbox's sections (by its heading id)."""
    part = page.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<a href="/leads/\d+/">([^<]+)</a>', part)


def flash(client) -> str:
    page = html(client.get("/inbox/"))
    return unescape(" ".join(re.findall(r'class="flash[^"]*"[^>]*>([^<]+)<', page)))


# --- anonymous and other users -------------------------------------------------------------------

ACTION_URLS = [
    "/leads/{id}/accept/",
    "/leads/{id}/reject/",
    "/leads/{id}/qualify/",
    "/leads/{id}/close/",
    "/leads/{id}/activities/new/",
    "/leads/{id}/tasks/new/",
    "/leads/{id}/tasks/1/done/",
]


@pytest.mark.parametrize("path", ["/inbox/", "/inbox/away/", *ACTION_URLS])
def test_anonymous_is_sent_to_log_in_and_nothing_changes(client, rep, path):
    lead = waiting(rep).lead
    path = path.format(id=lead.pk)

    response = client.post(path) if "accept" in path or "done" in path else client.get(path)

    assert (response.status_code, response["Location"]) == (302, f"/accounts/login/?next={path}")
    assert Assignment.objects.get(lead=lead).status == "pending"


@pytest.mark.parametrize("path", ACTION_URLS)
def test_other_reps_lead_is_not_theirs_to_act_on(rep, other_rep, path):
    lead = waiting(other_rep).lead
    client = logged_in(rep)

    response = client.post(path.format(id=lead.pk), {"reason": "not_a_fit", **CHECKLIST})

    assert (response.status_code, response["Location"]) == (302, "/inbox/")
    assert flash(client) == "That lead is not yours to act on (any more)."
    lead.refresh_from_db()
    assert (lead.stage, lead.owner, Assignment.objects.get(lead=lead).status) == (
        Stage.MQL,
        other_rep,
        "pending",
    )


def test_accept_needs_a_post(rep):
    lead = waiting(rep).lead

    assert logged_in(rep).get(f"/leads/{lead.pk}/accept/").status_code == 405


def test_actions_need_the_csrf_token(rep):
    lead = waiting(rep).lead
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)

    response = client.post(f"/leads/{lead.pk}/accept/")

    assert response.status_code == 403
    assert Assignment.objects.get(lead=lead).status == "pending"


# --- the inbox -----------------------------------------------------------------------------------


def test_inbox_lists_the_reps_waiting_leads_most_urgent_first(rep, other_rep):
    later = waiting(rep, due_in=timedelta(hours=3), first_name="Later")
    overdue = waiting(rep, due_in=timedelta(minutes=-5), first_name="Overdue")
    soon = waiting(rep, due_in=timedelta(minutes=10), first_name="Soon")
    waiting(other_rep, first_name="Theirs")

    page = html(logged_in(rep).get("/inbox/"))

    assert lead_names(page, "waiting-title") == ["Overdue Lead", "Soon Lead", "Later Lead"]
    deadlines = re.findall(r'<time datetime="([^"]+)" data-countdown data-state="(\w+)"', page)
    words = re.findall(r"<time [^>]*data-countdown[^>]*>([^<]+)<", page)
    assert deadlines == [
        (overdue.accept_due_at.isoformat(timespec="milliseconds"), "overdue"),
        (soon.accept_due_at.isoformat(timespec="milliseconds"), "soon"),
        (later.accept_due_at.isoformat(timespec="milliseconds"), "ok"),
    ]
    assert words == ["overdue by 5 min", "in 10 min", "in 3 h"]


def test_inbox_shows_accepted_leads_and_tasks_due_today(rep, other_rep):
    sal = accepted(rep, first_name="Sal", touch_due_in=timedelta(minutes=90))
    accepted(rep, first_name="Touched", stage=Stage.SQL, touch_due_in=None)
    accepted(other_rep, first_name="Theirs")
    task(rep, sal, "Call back", due_in=timedelta(hours=-1))
    task(rep, sal, "Send the deck", due_in=timedelta(minutes=-1))
    task(rep, sal, "Already done", due_in=timedelta(hours=-2), done=True)
    task(rep, sal, "Next week", due_in=timedelta(days=7))
    task(other_rep, sal, "Someone else's", due_in=timedelta(hours=-1))

    page = html(logged_in(rep).get("/inbox/"))

    assert lead_names(page, "mine-title") == ["Sal Lead", "Touched Lead"]
    assert "in 1 h 30 min" in page
    assert re.findall(r'<span class="task-title">([^<]+)</span>', page) == [
        "Call back",
        "Send the deck",
    ]


def test_pool_shows_only_in_pool_mode(rep, other_rep):
    LeadFactory(stage=Stage.MQL, first_name="Pooled")
    LeadFactory(stage=Stage.PQL, owner=other_rep, first_name="Owned")

    assert 'id="pool-title"' not in html(logged_in(rep).get("/inbox/"))


def test_pool_mode_lists_unclaimed_leads_oldest_first(rep, pool_mode):
    now = timezone.now()
    LeadFactory(stage=Stage.MQL, first_name="Newer", stage_entered_at=now)
    LeadFactory(stage=Stage.PQL, first_name="Older", stage_entered_at=now - timedelta(days=1))
    LeadFactory(stage=Stage.IQL, first_name="Early")

    page = html(logged_in(rep).get("/inbox/"))

    assert lead_names(page, "pool-title") == ["Older Lead", "Newer Lead"]
    assert page.count(">Claim<") == 2


def test_inbox_pages_the_queue_in_25s(rep):
    for minutes in range(30):
        waiting(rep, due_in=timedelta(minutes=minutes + 1), first_name=f"L{minutes:02d}")

    first = html(logged_in(rep).get("/inbox/"))
    second = html(logged_in(rep).get("/inbox/", {"page": 2}))

    assert lead_names(first, "waiting-title")[0] == "L00 Lead"
    assert len(lead_names(first, "waiting-title")) == 25
    assert lead_names(second, "waiting-title") == [f"L{n} Lead" for n in range(25, 30)]
    assert 'hx-get="/inbox/?page=2"' in first


def test_htmx_asks_the_inbox_for_its_lists_only(rep):
    waiting(rep, first_name="Ada")

    response = logged_in(rep).get("/inbox/", **HTMX)

    page = html(response)
    assert page.lstrip().startswith('<div id="queue"')
    assert "<html" not in page and "Ada Lead" in page
    assert response["Vary"] == "HX-Request, Cookie"


def test_inbox_queries_stay_few_with_a_thousand_waiting_leads(rep, django_assert_max_num_queries):
    for _ in range(1000):
        waiting(rep)
    accepted(rep)
    client = logged_in(rep)
    client.get("/inbox/")  # the settings row exists from now on

    # session, user, settings, queue count, queue page, accepted, tasks
    with django_assert_max_num_queries(7):
        page = html(client.get("/inbox/"))

    assert page.count('data-label="Accept"') == 25
    assert '<span class="count">1000</span>' in page


def test_pool_mode_adds_two_queries(rep, pool_mode, django_assert_max_num_queries):
    for _ in range(100):
        LeadFactory(stage=Stage.MQL)
    client = logged_in(rep)
    client.get("/inbox/")

    with django_assert_max_num_queries(9):
        page = html(client.get("/inbox/"))

    assert page.count(">Claim<") == 25
    assert '<span class="count">100</span>' in page


# --- accept --------------------------------------------------------------------------------------


def test_accept_without_javascript_redirects_to_the_inbox(rep):
    lead = waiting(rep, first_name="Ada").lead
    client = logged_in(rep)

    response = client.post(f"/leads/{lead.pk}/accept/", {"next": "inbox"})

    assert (response.status_code, response["Location"]) == (302, "/inbox/")
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.SAL, rep)
    assert Assignment.objects.get(lead=lead).status == "accepted"
    assert flash(client) == "Accepted Ada Lead."


def test_accept_with_htmx_answers_the_updated_lists(rep):
    lead = waiting(rep, first_name="Ada").lead

    response = logged_in(rep).post(f"/leads/{lead.pk}/accept/", {"next": "inbox"}, **HTMX)

    page = html(response)
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("#queue", "outerHTML")
    assert json.loads(response["HX-Trigger"]) == {"action-done": {}}
    assert lead_names(page, "waiting-title") == []
    assert lead_names(page, "mine-title") == ["Ada Lead"]
    assert re.search(r'<div id="flash" hx-swap-oob="innerHTML">\s*<p class="flash success"', page)
    assert "Accepted Ada Lead." in page


def test_accept_from_the_lead_page_goes_back_there(rep):
    lead = waiting(rep).lead
    client = logged_in(rep)

    plain = client.post(f"/leads/{lead.pk}/accept/", {"next": "lead"})

    assert plain["Location"] == f"/leads/{lead.pk}/"


def test_a_refused_accept_says_why_and_changes_nothing(rep, pool_mode):
    lead = LeadFactory(stage=Stage.SAL, owner=rep)
    client = logged_in(rep)

    response = client.post(f"/leads/{lead.pk}/accept/", {"next": "inbox"}, **HTMX)

    page = html(response)
    assert "This lead has already been accepted." in page
    assert 'class="flash error"' in page
    lead.refresh_from_db()
    assert lead.stage == Stage.SAL


# --- reject: a form (its own page without JavaScript, the dialog with htmx) ----------------------


def test_reject_form_is_a_page_without_javascript_and_a_fragment_with_htmx(rep):
    lead = waiting(rep, first_name="Ada").lead
    client = logged_in(rep)

    page = html(client.get(f"/leads/{lead.pk}/reject/?next=inbox"))
    fragment = client.get(f"/leads/{lead.pk}/reject/?next=inbox", **HTMX)

    assert "<html" in page and '<h2 id="dialog-title">Reject Ada Lead</h2>' in page
    assert '<a href="/inbox/">Cancel</a>' in page
    assert html(fragment).lstrip().startswith('<h2 id="dialog-title">Reject Ada Lead</h2>')
    assert "data-dialog-close" in html(fragment)
    options = re.findall(r'<option value="(\w+)"', html(fragment))
    assert options == [
        "bad_timing",
        "no_budget",
        "no_response",
        "not_a_fit",
        "competitor",
        "duplicate",
        "other",
    ]


def test_reject_with_a_reason_records_it_and_leaves_the_queue(rep):
    lead = waiting(rep, first_name="Ada").lead
    client = logged_in(rep)

    response = client.post(
        f"/leads/{lead.pk}/reject/",
        {"reason": "bad_timing", "note": "Budget opens in Q3", "next": "inbox"},
        **HTMX,
    )

    assert lead_names(html(response), "waiting-title") == []
    row = Rejection.objects.get(lead=lead)
    assert (row.rep, row.reason, row.note) == (rep, "bad_timing", "Budget opens in Q3")
    lead.refresh_from_db()
    assert lead.owner is None


def test_refused_reject_shows_the_services_words_in_the_dialog(rep):
    lead = waiting(rep).lead

    response = logged_in(rep).post(
        f"/leads/{lead.pk}/reject/", {"reason": "other", "note": "", "next": "inbox"}, **HTMX
    )

    page = html(response)
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("#dialog-body", "innerHTML")
    assert "HX-Trigger" not in response
    assert re.search(r'<div class="field invalid">.*name="note"', page, re.S)
    assert 'aria-invalid="true"' in page
    assert not Rejection.objects.exists()
    assert Assignment.objects.get(lead=lead).status == "pending"


def test_unknown_reason_is_refused_by_the_form(rep):
    lead = waiting(rep).lead

    page = html(logged_in(rep).post(f"/leads/{lead.pk}/reject/", {"reason": "bored"}))

    assert "Select a valid choice. bored is not one of the available choices." in page
    assert not Rejection.objects.exists()


# --- qualify, close, log, tasks ---------------------------------------------------------------


def test_qualify_keeps_the_checklist_and_shows_it_on_the_lead_page(rep):
    lead = accepted(rep)
    client = logged_in(rep)

    response = client.post(f"/leads/{lead.pk}/qualify/", {**CHECKLIST, "next": "lead"})

    assert response["Location"] == f"/leads/{lead.pk}/"
    lead.refresh_from_db()
    assert lead.stage == Stage.SQL
    discovery = Discovery.objects.get(lead=lead)
    assert (discovery.product_fit, discovery.budget, discovery.answered_by) == (
        True,
        "20k a year",
        rep,
    )
    page = html(client.get(f"/leads/{lead.pk}/"))
    assert "<dt>Who decides</dt><dd>The CFO and the head of IT</dd>" in page


def test_qualify_names_every_missing_answer(rep):
    lead = accepted(rep)

    page = html(logged_in(rep).post(f"/leads/{lead.pk}/qualify/", {"decision_makers": "CFO"}))

    assert page.count('aria-invalid="true"') == 5
    lead.refresh_from_db()
    assert lead.stage == Stage.SAL
    assert not Discovery.objects.exists()


def test_close_as_won_makes_a_customer(rep):
    lead = accepted(rep, stage=Stage.SQL)

    logged_in(rep).post(f"/leads/{lead.pk}/close/", {"outcome": "won", "next": "lead"})

    lead.refresh_from_db()
    assert lead.stage == Stage.CUSTOMER


def test_log_a_call_from_the_lead_page_with_htmx_redirects_there(rep):
    lead = accepted(rep)

    response = logged_in(rep).post(
        f"/leads/{lead.pk}/activities/new/",
        {"kind": "call", "body": "Talked budgets", "next": "lead"},
        **HTMX,
    )

    assert response["HX-Redirect"] == f"/leads/{lead.pk}/"
    activity = Activity.objects.get(lead=lead)
    assert (activity.kind, activity.body, activity.user) == ("call", "Talked budgets", rep)
    assert Assignment.objects.get(lead=lead).first_touched_at == activity.occurred_at


def test_a_task_is_added_and_done(rep):
    lead = accepted(rep, first_name="Ada")
    client = logged_in(rep)
    due = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")

    client.post(f"/leads/{lead.pk}/tasks/new/", {"title": "Send the deck", "due_at": due})
    created = Task.objects.get(lead=lead)
    client.post(f"/leads/{lead.pk}/tasks/{created.pk}/done/", {"next": "inbox"})

    created.refresh_from_db()
    assert (created.title, created.assignee, created.done_at is not None) == (
        "Send the deck",
        rep,
        True,
    )
    assert flash(client) == "Task added on Ada Lead. Task done on Ada Lead."


def test_someone_elses_task_is_refused(rep, other_rep):
    lead = accepted(rep)
    theirs = task(other_rep, lead, "Theirs", due_in=timedelta(hours=1))
    client = logged_in(rep)

    client.post(f"/leads/{lead.pk}/tasks/{theirs.pk}/done/")

    theirs.refresh_from_db()
    assert theirs.done_at is None
    assert flash(client) == "That is not yours to act on (any more)."


# --- away ----------------------------------------------------------------------------------------


def test_away_with_an_end_and_back(rep):
    client = logged_in(rep)

    client.post("/inbox/away/", {"is_away": "on", "away_until": "2030-01-02T09:00"})
    rep.refresh_from_db()
    assert (rep.is_away, rep.away_until.isoformat()) == (True, "2030-01-02T09:00:00+00:00")
    assert "You are away</strong> until" in html(client.get("/inbox/"))

    response = client.post("/inbox/away/", {"is_away": ""}, **HTMX)
    rep.refresh_from_db()
    assert (rep.is_away, rep.away_until) == (False, None)
    page = html(response)
    assert page.lstrip().startswith('<form id="away"') and "<strong>Available</strong>" in page
    assert "Welcome back." in page


# --- the lead page's section ------------------------------------------------------------------


def test_lead_page_offers_accept_and_reject_to_the_assigned_rep(rep):
    assignment = waiting(rep)

    page = html(logged_in(rep).get(f"/leads/{assignment.lead_id}/"))

    assert '<h2 id="handoff-title">Hand-off</h2>' in page
    assert f'action="/leads/{assignment.lead_id}/accept/"' in page
    assert f'href="/leads/{assignment.lead_id}/reject/?next=lead"' in page
    assert "/qualify/" not in page


def test_lead_page_has_no_handoff_section_when_there_is_nothing_to_show(marketer):
    lead = LeadFactory(stage=Stage.IQL)

    assert "handoff-title" not in html(logged_in(marketer).get(f"/leads/{lead.pk}/"))


def test_lead_page_queries_stay_few(rep, django_assert_max_num_queries):
    lead = accepted(rep)
    for n in range(30):
        task(rep, lead, f"Task {n}", due_in=timedelta(hours=n))
        Activity.objects.create(lead=lead, user=rep, kind="note", occurred_at=timezone.now())
    client = logged_in(rep)
    client.get(f"/leads/{lead.pk}/")

    # the lead page's 16 (its timeline's hooks and consent evidence included), the audit's
    # field edits (1), the hand-off section's 4 (assignment, discovery, activities, tasks) and
    # the score breakdown's 1; the pool mode is read only for an unowned lead
    with django_assert_max_num_queries(20):
        page = html(client.get(f"/leads/{lead.pk}/"))

    assert page.count('<span class="task-title">') == 20
