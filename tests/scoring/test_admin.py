"""Scoring in the Django admin: edits go through the services (versions, re-scores)."""

import pytest
from django.urls import reverse

from accounts.models import User
from scoring.models import RescoreJob, ScoringRule, ScoringSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-for-tests"))
    return client


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
