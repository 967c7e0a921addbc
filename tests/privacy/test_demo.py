"""demo_setup shows the audit log and an erased lead, and runs twice without adding rows."""

import io

import pytest
from django.core.management import call_command

from accounts.models import ApiToken
from audit.models import AuditEntry
from leads.models import Lead
from playbook.demo_privacy import ERASED_EMAIL, demo_privacy_ensure

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(300)]


def test_demo_setup_has_audit_rows_an_erased_lead_and_a_token():
    call_command("demo_setup", stdout=io.StringIO())

    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"lead.update", "user.update", "lead.erase", "token.create"} <= actions
    erased = Lead.objects.get(erased_at__isnull=False)
    assert erased.email == f"erased-{erased.pk}@invalid"
    assert not Lead.objects.filter(email=ERASED_EMAIL).exists()
    assert ApiToken.objects.filter(user__username="marketer").count() == 1

    assert demo_privacy_ensure() == 0
