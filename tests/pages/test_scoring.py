"""The scoring pages in Chromium, under the CSP: change the MQL threshold and read the preview
(the same number as the simulation of the same draft), publish and watch the re-score finish;
build a rule in the form and see it score a new event.

No worker runs beside the browser tests (tests/pages/conftest.py records what the pages
queue); the test runs each queued job's task body itself, as the worker would. The worker path
is tested in tests/scoring/test_worker.py.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from playbook import scoring as playbook
from scoring import rules, selectors, services, simulations
from scoring.models import RescoreJob, ScoringRule
from tests.factories import EventFactory, LeadFactory
from tests.support import PHONE, scroll_width

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("LEADCRM_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def queued(published, name: str) -> list[int]:
    return [args[0] for task, args in published if task == name]


def finish_rescores() -> None:
    for job in RescoreJob.objects.filter(status__in=["pending", "running"]):
        services.rescore_run(job_id=job.pk)


def webinar_leads() -> None:
    playbook.playbook_load()
    for count in (1, 2, 3, 4):
        lead = LeadFactory()
        for i in range(count):
            EventFactory(lead=lead, name="Webinar Attended", message_id=f"{lead.pk}-{i}")
    services.events_score_batch()
    finish_rescores()


def test_a_threshold_change_is_previewed_then_published_and_rescored(
    logged_in, marketer, published, shots
):
    webinar_leads()
    page = logged_in(marketer)
    page.goto("/scoring/rules/")
    page.get_by_role("link", name="Threshold, bands and PQL").click()

    page.get_by_label("MQL threshold").fill("30")
    page.get_by_role("button", name="Preview the effect").click()
    page.wait_for_url("**/scoring/previews/*/")
    expect(page.get_by_role("heading", name="Simulating over the real history…")).to_be_visible()
    (job_id,) = queued(published, "scoring.simulate_run")
    simulations.simulation_run(job_id=job_id)

    # The page polls until the job is done, then shows the numbers.
    figure = page.locator(".figure", has_text="would become MQL").locator(".value")
    expect(figure).to_have_text("2")  # 2, 3 and 4 webinars reach 30 (15 each); 4 was MQL
    same_draft = selectors.scoring_simulate(
        draft=selectors.rules_active(),
        thresholds=rules.thresholds_parse(
            {"mql_threshold": 30}, base=selectors.scoring_settings_get().thresholds()
        ),
    )
    would = sum(1 for c in same_draft["changed_leads"] if c["would_be"] == "MQL")
    assert figure.inner_text() == str(would)
    expect(page.locator("svg.chart title").first).to_have_text(
        "Leads per score range today (grey) and under the draft (blue)"
    )
    page.screenshot(path=shots / "scoring-preview-desktop.png", full_page=True)

    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/scoring/rules/")
    expect(page.get_by_role("heading", name="Re-scoring every lead")).to_be_visible()
    finish_rescores()
    expect(page.locator("#rescore")).to_contain_text("Last re-score: done")
    assert selectors.scoring_settings_get().mql_threshold == 30
    assert Lead.objects.filter(stage="MQL").count() == 3
    page.screenshot(path=shots / "scoring-rules-desktop.png", full_page=True)


def test_a_rule_built_in_the_form_scores_a_new_event(logged_in, marketer, published):
    page = logged_in(marketer)
    page.goto("/scoring/rules/new/")

    page.get_by_label("Name", exact=True).fill("Read a case study")
    page.get_by_label("Kind").select_option("event")
    page.get_by_label("Event type").select_option("track")
    page.get_by_label("Event name").fill("Case Study Read")
    page.get_by_label("Points").fill("25")
    page.get_by_label("Max times").fill("2")
    page.get_by_role("button", name="Preview the effect").click()
    page.wait_for_url("**/scoring/previews/*/")
    (job_id,) = queued(published, "scoring.simulate_run")
    simulations.simulation_run(job_id=job_id)
    expect(page.get_by_role("button", name="Publish")).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/scoring/rules/")
    finish_rescores()

    lead = LeadFactory()
    for i in range(3):
        EventFactory(lead=lead, name="Case Study Read", message_id=f"c{i}")
    services.events_score_batch()

    lead.refresh_from_db()
    assert lead.score == 50  # at most 2 times
    page.reload()
    row = page.locator("tr", has_text="Read a case study")
    expect(row).to_contain_text("+25 points for each “Case Study Read” event (at most 2 times).")
    assert ScoringRule.objects.get(name="Read a case study").is_active


def test_a_bad_rule_says_what_is_wrong_on_its_field(logged_in, marketer):
    page = logged_in(marketer)
    page.goto("/scoring/rules/new/")

    page.get_by_label("Name", exact=True).fill("Nothing")
    page.get_by_label("Event name").fill("")
    page.get_by_label("Points").fill("0")
    page.get_by_role("button", name="Preview the effect").click()

    expect(page.locator(".field.invalid", has_text="Points")).to_contain_text(
        "A rule worth 0 points does nothing."
    )
    assert not ScoringRule.objects.exists()


@pytest.mark.parametrize("path", ["/scoring/rules/", "/scoring/rules/new/", "/scoring/settings/"])
def test_scoring_pages_fit_a_phone(logged_in, marketer, path, shots):
    playbook.playbook_load()
    page = logged_in(marketer, PHONE)

    page.goto(path)

    assert scroll_width(page) <= PHONE["width"]
    if path == "/scoring/rules/":
        page.screenshot(path=shots / "scoring-rules-phone.png")
