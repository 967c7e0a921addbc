"""Scoring in the Django admin: edits go through the services (versions, re-scores)."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Role, User
from scoring.models import RescoreJob, RuleVersion, ScoringRule, ScoringSettings
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-for-tests"))
    return client


@pytest.fixture
def staff_rep_client(client):
    """A sales rep with every admin permission on scoring: the services refuse."""
    perms = [
        f"scoring.{verb}_{model}"
        for verb in ("view", "add", "change")
        for model in ("scoringrule", "scoringsettings", "rescorejob")
    ]
    client.force_login(StaffFactory(username="staff-rep", role=Role.REP, perms=perms))
    return client


REFUSED = "A sales rep may not change scoring rules or settings."


def _form(rule: ScoringRule, **changes) -> dict:
    version = rule.current_version
    data = {
        "name": rule.name,
        "is_active": "on" if rule.is_active else "",
        "kind": version.kind,
        "event_type": version.event_type,
        "event_name": version.event_name,
        "conditions": "[]",
        "points": version.points,
        "max_times": version.max_times or "",
        "expires_after_days": version.expires_after_days or "",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_editing_a_rule_in_the_admin_makes_a_version_and_a_rescore(
    superuser_client, default_playbook
):
    rule = ScoringRule.objects.get(key="demo-request")
    jobs = RescoreJob.objects.count()

    response = superuser_client.post(
        reverse("admin:scoring_scoringrule_change", args=[rule.pk]), _form(rule, points=35)
    )

    assert response.status_code == 302, response.content[:2000]
    rule.refresh_from_db()
    assert (rule.current_version.number, rule.current_version.points) == (2, 35)
    assert RescoreJob.objects.count() == jobs + 1


def test_an_invalid_rule_in_the_admin_shows_the_error_and_changes_nothing(
    superuser_client, default_playbook
):
    rule = ScoringRule.objects.get(key="demo-request")

    response = superuser_client.post(
        reverse("admin:scoring_scoringrule_change", args=[rule.pk]),
        _form(rule, points=0),
    )

    assert response.status_code == 200
    assert "A rule worth 0 points does nothing." in response.content.decode()
    rule.refresh_from_db()
    assert (rule.versions.count(), rule.current_version.points) == (1, 30)


def test_adding_a_rule_in_the_admin(superuser_client):
    response = superuser_client.post(
        reverse("admin:scoring_scoringrule_add"),
        {
            "name": "Trial",
            "is_active": "on",
            "kind": "attribute",
            "conditions": '[{"field": "traits.plan", "operator": "equals", "value": "trial"}]',
            "points": "5",
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.content[:2000]
    rule = ScoringRule.objects.get(name="Trial")
    assert (rule.current_version.number, rule.current_version.points) == (1, 5)


def test_settings_in_the_admin_refuse_crossed_bands(superuser_client):
    response = superuser_client.post(
        reverse("admin:scoring_scoringsettings_add"),
        {"mql_threshold": "50", "warm_at": "60", "hot_at": "50", "pql_conditions": "[]"},
    )

    assert response.status_code == 200
    assert "warm_at must be below hot_at." in response.content.decode()
    assert ScoringSettings.objects.count() == 0


def test_staff_rep_cannot_edit_a_rule_in_the_admin(staff_rep_client, default_playbook):
    rule = ScoringRule.objects.get(key="demo-request")
    versions, jobs = RuleVersion.objects.count(), RescoreJob.objects.count()

    response = staff_rep_client.post(
        reverse("admin:scoring_scoringrule_change", args=[rule.pk]), _form(rule, points=35)
    )

    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    rule.refresh_from_db()
    assert (rule.current_version.number, rule.current_version.points) == (1, 30)
    assert (RuleVersion.objects.count(), RescoreJob.objects.count()) == (versions, jobs)


def test_staff_rep_cannot_add_a_rule_in_the_admin(staff_rep_client):
    response = staff_rep_client.post(
        reverse("admin:scoring_scoringrule_add"),
        {
            "name": "Sneaky",
            "is_active": "on",
            "kind": "event",
            "event_type": "track",
            "event_name": "Anything",
            "conditions": "[]",
            "points": "50",
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    assert (ScoringRule.objects.count(), RescoreJob.objects.count()) == (0, 0)


def test_staff_rep_cannot_change_scoring_settings_in_the_admin(staff_rep_client):
    row = ScoringSettings.objects.create(pk=1, mql_threshold=50, warm_at=20, hot_at=60)

    response = staff_rep_client.post(
        reverse("admin:scoring_scoringsettings_change", args=[row.pk]),
        {"mql_threshold": "5", "warm_at": "20", "hot_at": "60", "pql_conditions": "[]"},
    )

    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    row.refresh_from_db()
    assert (row.mql_threshold, RescoreJob.objects.count()) == (50, 0)


def test_staff_rep_cannot_start_a_rescore_from_the_admin(staff_rep_client):
    old = RescoreJob.objects.create(reason="Earlier", total_leads=0)

    response = staff_rep_client.post(
        reverse("admin:scoring_rescorejob_changelist"),
        {"action": "start_rescore", "_selected_action": [old.pk]},
    )

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [REFUSED]
    assert list(RescoreJob.objects.values_list("pk", "status")) == [(old.pk, old.status)]
