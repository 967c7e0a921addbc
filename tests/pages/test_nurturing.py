"""The nurture pages in Chromium, under the CSP: preview a step for a real lead and send a test
to yourself (caught by a real SMTP server); the pages fit a phone."""

import os
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from nurturing.models import Enrollment, Message
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence
from tests.support import PHONE, scroll_width, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("LEADCRM_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_preview_a_step_for_a_lead_and_send_a_test(logged_in, marketer, smtp_mailer, shots):
    sequence = make_sequence(key="welcome", steps=2)
    LeadFactory(email="grace@navy.example", first_name="Grace", company_name="US Navy")
    lead = LeadFactory(email="newest@acme.example", first_name="", company_name="")
    now = timezone.now()
    enrollment = Enrollment.objects.create(
        lead=lead, sequence=sequence, trigger="manual", enrolled_at=now
    )
    Message.objects.create(
        enrollment=enrollment, step=sequence.steps.get(position=1), lead=lead, status="sent",
        to_email=lead.email, due_at=now, created_at=now, sent_at=now, opened_at=now,
    )  # fmt: skip
    page = logged_in(marketer)
    page.goto("/nurturing/sequences/")
    page.get_by_role("link", name="Welcome").click()
    page.screenshot(path=shots / "nurture-sequence-desktop.png", full_page=True)
    page.get_by_role("link", name="welcome step 1 for {{ first_name }}").click()

    # The newest lead first: its blank first name falls back to "there".
    expect(page.locator("dd.subject")).to_have_text("welcome step 1 for there")
    page.get_by_label("Lead (email or id)").fill("grace@navy.example")
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.locator("dd.subject")).to_have_text("welcome step 1 for Grace")
    frame = page.frame_locator("iframe.body-html")
    expect(frame.locator("p")).to_contain_text("Hello Grace, step 1")
    page.screenshot(path=shots / "nurture-step-desktop.png", full_page=True)

    page.get_by_role("button", name="Send a test to marketer@example.com").click()

    expect(page.get_by_role("status")).to_contain_text(
        "Test sent to marketer@example.com, rendered for grace@navy.example."
    )
    assert wait_for(lambda: len(smtp_mailer.sink.snapshot()) == 1, timeout=5)
    (received,) = smtp_mailer.sink.snapshot()
    assert str(received.message["Subject"]) == "[Test] welcome step 1 for Grace"


@pytest.mark.parametrize("path", ["/nurturing/sequences/", "{seq}", "{step}"])
def test_nurture_pages_fit_a_phone(logged_in, marketer, path):
    sequence = make_sequence(key="a-rather-long-sequence-key-for-phones", steps=2)
    step = sequence.steps.get(position=1)
    LeadFactory()
    page = logged_in(marketer, PHONE)

    page.goto(
        path.format(
            seq=f"/nurturing/sequences/{sequence.pk}/",
            step=f"/nurturing/sequences/{sequence.pk}/steps/{step.pk}/",
        )
    )

    assert scroll_width(page) <= PHONE["width"]
