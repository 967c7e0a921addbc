"""The default playbook from the product brief, and `manage.py load_playbook`."""

import io

import pytest
from django.core.management import call_command

from playbook import scoring as playbook
from scoring import rules, selectors
from scoring.models import RescoreJob, ScoringRule, ScoringSettings

pytestmark = pytest.mark.django_db


def test_the_playbook_holds_the_briefs_rules():
    created = playbook.playbook_load()

    described = {r.name: rules.describe(r) for r in selectors.rules_active()}
    last = "(points last 90 days)."
    assert created == 12
    assert described == {
        "Viewed the pricing page": "+10 points for each view of the page “Pricing” "
        "(at most 3 times; points last 90 days).",
        "Subscribed to the newsletter": f"+10 points for each “Newsletter Subscribed” event {last}",
        "Downloaded an ebook": f"+10 points for each “Ebook Downloaded” event {last}",
        "Submitted a form": f"+10 points for each “Form Submitted” event {last}",
        "Attended a webinar": f"+15 points for each “Webinar Attended” event {last}",
        "Requested a demo": f"+30 points for each “Demo Requested” event {last}",
        "Opened an email": f"+2 points for each “Email Opened” event {last}",
        "Clicked a link in an email": f"+5 points for each “Email Link Clicked” event {last}",
        "Unsubscribed": f"-20 points for each “Unsubscribed” event {last}",
        "Senior title": "+15 points when title contains any of "
        "“VP”, “Head”, “Director”, “Chief”, “Founder”.",
        "Company of 50 or more": "+10 points when company size is at least 50.",
        "Free-mail address": "-10 points when email domain is one of "
        + ", ".join(f"“{d}”" for d in playbook.FREE_MAIL_DOMAINS)
        + ".",
    }
    thresholds = ScoringSettings.objects.get().thresholds()
    assert (thresholds.mql_threshold, thresholds.warm_at, thresholds.hot_at) == (50, 25, 50)
    assert rules.describe_pql(thresholds.pql_conditions) == (
        "PQL: 2× Project Created within 14 days and 20× Task Created within 14 days"
    )
    assert RescoreJob.objects.get().reason == "Default playbook loaded"


def test_loading_again_changes_nothing_and_keeps_edits(marketer):
    playbook.playbook_load()
    ScoringRule.objects.filter(key="email-open").update(is_active=False, name="Opens (off)")
    before = list(ScoringRule.objects.values_list("id", "name", "is_active", "current_version"))

    again = playbook.playbook_load()

    assert again == 0
    assert (
        list(ScoringRule.objects.values_list("id", "name", "is_active", "current_version"))
        == before
    )
    assert RescoreJob.objects.count() == 1


def test_the_command_loads_it():
    out = io.StringIO()

    call_command("load_playbook", stdout=out)
    call_command("load_playbook", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Playbook: 12 new scoring rules")
    assert lines[1].startswith("Playbook: 0 new scoring rules")
    assert ScoringRule.objects.count() == 12
