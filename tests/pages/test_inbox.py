"""The rep's inbox in Chromium: accept, reject with a reason, qualify, log a call, tasks and the
away status, in a dialog without leaving the page; by keyboard; on a phone; without JavaScript."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from handoff.models import Activity, Assignment, Discovery, Rejection, Task
from leads.models import Stage
from nurturing import tasks as nurture_tasks
from tests.handoff.inbox_data import accepted, task, waiting
from tests.support import PHONE, log_in, scroll_width

pytestmark = pytest.mark.browser


def stay_on_page(page) -> None:
    """Mark the loaded document: `still_on_page` is true only if no navigation happened since."""
    page.evaluate("window.__same_document = true")


def still_on_page(page) -> bool:
    return page.evaluate("window.__same_document === true")


def test_accept_a_lead_without_leaving_the_page(logged_in, rep, published, monkeypatch):
    asked: list[list[int]] = []  # what nurturing was asked to enroll (its kick: the broker's)
    monkeypatch.setattr(nurture_tasks, "_STAGE_ENTERED", lambda lead_ids: asked.append(lead_ids))
    lead = waiting(rep, first_name="Ada").lead
    page = logged_in(rep)
    page.goto("/inbox/")
    stay_on_page(page)

    page.get_by_role("button", name="Accept Ada Lead").click()

    mine = page.locator("section", has=page.locator("#mine-title"))
    mine.get_by_role("link", name="Ada Lead", exact=True).wait_for()
    assert page.get_by_role("status").inner_text() == "Accepted Ada Lead."
    assert page.locator("#waiting-title .count").inner_text() == "0"
    assert still_on_page(page)
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.SAL, rep)
    # the lead's stage move asked nurturing to enroll it, after the commit
    assert [lead.pk] in asked


def test_reject_with_a_reason_in_the_dialog(logged_in, rep):
    lead = waiting(rep, first_name="Ada").lead
    waiting(rep, first_name="Bob")
    page = logged_in(rep)
    page.goto("/inbox/")
    stay_on_page(page)

    page.get_by_role("link", name="Reject Ada Lead").click()
    dialog = page.get_by_role("dialog", name="Reject Ada Lead")
    dialog.get_by_label("Reason").select_option("not_a_fit")
    dialog.get_by_label("Note").fill("A student project")
    dialog.get_by_role("button", name="Reject").click()

    dialog.wait_for(state="hidden")
    assert page.get_by_role("status").inner_text() == "Rejected Ada Lead."
    assert page.locator("#queue").get_by_role("link", name="Ada Lead").count() == 0
    assert page.locator("#queue").get_by_role("link", name="Bob Lead", exact=True).is_visible()
    assert still_on_page(page)
    row = Rejection.objects.get(lead=lead)
    assert (row.reason, row.note) == ("not_a_fit", "A student project")


def test_a_refused_reject_stays_in_the_dialog_with_the_reason_why(logged_in, rep):
    lead = waiting(rep, first_name="Ada").lead
    page = logged_in(rep)
    page.goto("/inbox/")

    page.get_by_role("link", name="Reject Ada Lead").click()
    dialog = page.get_by_role("dialog", name="Reject Ada Lead")
    dialog.get_by_label("Reason").select_option("other")
    dialog.get_by_role("button", name="Reject").click()

    note = dialog.get_by_label("Note")
    note.and_(page.locator("[aria-invalid=true]")).wait_for()
    assert note.evaluate("field => field === document.activeElement")
    assert not Rejection.objects.exists()
    note.fill("They asked us to call in spring")
    dialog.get_by_role("button", name="Reject").click()
    dialog.wait_for(state="hidden")
    assert Rejection.objects.get(lead=lead).note == "They asked us to call in spring"


def test_qualify_with_the_discovery_checklist(logged_in, rep):
    lead = accepted(rep, first_name="Ada")
    page = logged_in(rep)
    page.goto("/inbox/")

    page.get_by_role("link", name="Qualify Ada Lead").click()
    dialog = page.get_by_role("dialog", name="Qualify Ada Lead")
    dialog.get_by_label("Our product fits what they need").check()
    dialog.get_by_label("Who decides").fill("The CFO")
    dialog.get_by_label("How they decide").fill("A pilot, then procurement")
    dialog.get_by_label("When they want to start").fill("This quarter")
    dialog.get_by_label("What they use today").fill("Spreadsheets")
    dialog.get_by_label("Budget").fill("20k a year")
    dialog.get_by_role("button", name="Qualify: SQL").click()

    dialog.wait_for(state="hidden")
    assert page.get_by_role("status").inner_text() == "Ada Lead is sales qualified."
    lead.refresh_from_db()
    assert lead.stage == Stage.SQL
    assert Discovery.objects.get(lead=lead).decision_makers == "The CFO"
    page.get_by_role("link", name="Ada Lead", exact=True).click()
    assert page.locator("dl.discovery").inner_text().split("\n")[:4] == [
        "Product fit",
        "Yes",
        "Who decides",
        "The CFO",
    ]


def test_log_a_call_on_the_lead_page(logged_in, rep):
    lead = accepted(rep, first_name="Ada")
    page = logged_in(rep)
    page.goto(f"/leads/{lead.pk}/")

    page.get_by_role("link", name="Log a call or note Ada Lead").click()
    dialog = page.get_by_role("dialog", name="Log a call or note: Ada Lead")
    dialog.get_by_label("Kind").select_option("call")
    dialog.get_by_label("What happened").fill("Talked about the pilot")
    dialog.get_by_role("button", name="Log").click()

    page.locator("ol.activities").get_by_text("Talked about the pilot").wait_for()
    assert page.get_by_role("status").inner_text() == "Logged on Ada Lead."
    assert Activity.objects.get(lead=lead).kind == "call"
    assert Assignment.objects.get(lead=lead).first_touched_at is not None


def test_add_a_task_on_the_lead_page_and_tick_it_off_in_the_inbox(logged_in, rep):
    lead = accepted(rep, first_name="Ada")
    page = logged_in(rep)
    page.goto(f"/leads/{lead.pk}/")
    # overdue already, so "due today" whatever the time of day the test runs at
    due = (timezone.localtime() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")

    page.get_by_role("link", name="Add a task Ada Lead").click()
    dialog = page.get_by_role("dialog", name="New task: Ada Lead")
    dialog.get_by_label("Title").fill("Send the deck")
    dialog.get_by_label("Due (UTC)").fill(due)
    dialog.get_by_role("button", name="Add the task").click()
    page.locator("ul.tasks .task-title").get_by_text("Send the deck").wait_for()
    page.goto("/inbox/")
    page.get_by_role("button", name="Done: Send the deck").click()

    page.get_by_text("Nothing due today.").wait_for()
    assert Task.objects.get(lead=lead).done_at is not None


def test_away_and_back(logged_in, rep):
    page = logged_in(rep)
    page.goto("/inbox/")

    page.get_by_label("Back on (UTC, optional)").fill("2030-01-02T09:00")
    page.get_by_role("button", name="Go away").click()
    page.get_by_text("You are away until").wait_for()
    rep.refresh_from_db()
    assert (rep.is_away, rep.away_until) == (True, datetime(2030, 1, 2, 9, tzinfo=UTC))

    page.get_by_role("button", name="I am back").click()
    page.get_by_text("Available").wait_for()
    rep.refresh_from_db()
    assert rep.is_away is False


def test_the_inbox_by_keyboard_alone(logged_in, rep):
    lead = waiting(rep, first_name="Ada").lead
    page = logged_in(rep)
    page.goto("/inbox/")

    for _ in range(40):  # Tab from the top of the page to the lead's Reject link
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Reject Ada Lead":
            break
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Reject Ada Lead")
    dialog.wait_for()
    assert page.evaluate("document.activeElement.name") == "reason"  # focus moved in
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.textContent") == "Reject Ada Lead"  # and back

    page.keyboard.press("Enter")
    dialog.wait_for()
    page.keyboard.press("ArrowDown")  # bad_timing -> no_budget
    page.keyboard.press("Tab")
    page.keyboard.type("Next year")
    page.keyboard.press("Tab")  # the duplicate's lead number
    page.keyboard.press("Tab")  # the Reject button
    page.keyboard.press("Enter")

    dialog.wait_for(state="hidden")
    row = Rejection.objects.get(lead=lead)
    assert (row.reason, row.note) == ("no_budget", "Next year")


def test_countdowns_tick_every_30_seconds(new_page, rep):
    due = timezone.now().replace(microsecond=0) + timedelta(minutes=10)
    Assignment.objects.filter(pk=waiting(rep).pk).update(accept_due_at=due)
    page = new_page()
    page.clock.install(time=due - timedelta(minutes=9, seconds=40))
    log_in(page, rep)
    page.goto("/inbox/")
    deadline = page.locator("time[data-countdown]")

    assert deadline.inner_text() == "in 10 min"
    page.clock.run_for(60_000)
    assert (deadline.inner_text(), deadline.get_attribute("data-state")) == ("in 9 min", "soon")
    page.clock.run_for(10 * 60_000)
    assert (deadline.inner_text(), deadline.get_attribute("data-state")) == (
        "overdue by 1 min",
        "overdue",
    )


def test_the_inbox_fits_a_phone_and_so_does_its_dialog(logged_in, rep):
    waiting(rep, first_name="Ada", company_name="A Company With Quite A Long Name Indeed")
    accepted(rep, first_name="Bob")
    page = logged_in(rep, PHONE)
    page.goto("/inbox/")

    assert scroll_width(page) <= PHONE["width"]
    page.get_by_role("link", name="Reject Ada Lead").click()
    dialog = page.get_by_role("dialog", name="Reject Ada Lead")
    dialog.wait_for()
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_every_action_works_without_javascript(browser, live_server, rep):
    lead = waiting(rep, first_name="Ada").lead
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = log_in(context.new_page(), rep)
    page.goto("/inbox/")

    page.get_by_role("link", name="Reject Ada Lead").click()
    page.wait_for_url(f"**/leads/{lead.pk}/reject/?next=inbox")
    page.get_by_label("Reason").select_option("no_response")
    page.get_by_role("button", name="Reject").click()

    page.wait_for_url("**/inbox/")
    assert page.get_by_role("status").inner_text() == "Rejected Ada Lead."
    assert Rejection.objects.get(lead=lead).reason == "no_response"
    context.close()


def test_tasks_due_today_are_listed_with_their_deadlines(logged_in, rep):
    lead = accepted(rep, first_name="Ada")
    task(rep, lead, "Call back", due_in=timedelta(hours=-1))
    page = logged_in(rep)

    page.goto("/inbox/")

    item = page.locator("#queue ul.tasks li")
    assert item.locator(".task-title").inner_text() == "Call back"
    assert item.locator("time").inner_text() == "overdue by 1 h"
