"""Django admin: every registered model's pages load for a superuser."""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import User
from leads.models import Stage
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

REGISTERED = sorted(
    (model._meta.app_label, model._meta.model_name) for model in admin.site._registry
)


@pytest.fixture
def superuser_client(client):
    user = User.objects.create_superuser("root", "root@example.com", "pw-for-tests")
    client.force_login(user)
    return client


def _model_admin(app_label: str, model_name: str):
    return next(
        model_admin
        for model, model_admin in admin.site._registry.items()
        if (model._meta.app_label, model._meta.model_name) == (app_label, model_name)
    )


def test_every_app_with_models_is_in_the_admin():
    assert {"accounts", "leads"} <= {app for app, _ in REGISTERED}


@pytest.mark.parametrize(("app_label", "model_name"), REGISTERED)
def test_changelist_loads(superuser_client, app_label, model_name):
    LeadFactory(stage=Stage.MQL)  # so lead-related changelists have a row to render

    response = superuser_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))

    assert response.status_code == 200


@pytest.mark.parametrize(("app_label", "model_name"), REGISTERED)
def test_add_page_loads_where_adding_is_allowed(superuser_client, rf, app_label, model_name):
    request = rf.get("/admin/")
    request.user = User.objects.get(username="root")
    allowed = _model_admin(app_label, model_name).has_add_permission(request)

    response = superuser_client.get(reverse(f"admin:{app_label}_{model_name}_add"))

    assert response.status_code == (200 if allowed else 403)


def test_lead_change_page_shows_its_history_read_only(superuser_client):
    lead = LeadFactory(email="ada@example.com", stage=Stage.MQL)

    response = superuser_client.get(reverse("admin:leads_lead_change", args=[lead.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "ada@example.com" in html
    assert 'name="stage"' not in html  # stage changes only through leads.services


def test_non_staff_cannot_open_the_admin(client, marketer):
    client.force_login(marketer)

    response = client.get(reverse("admin:leads_lead_changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
