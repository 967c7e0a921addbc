"""Merging duplicates moves a lead's form submissions and consent evidence to the kept lead."""

import pytest
from django.test import Client

from handoff.services import merge
from leads.models import Consent, ConsentState, Lead
from tests.factories import LeadFactory
from tests.web.conftest import make_form, submit
from web import emails
from web.models import SubmissionStatus

pytestmark = pytest.mark.django_db


def test_a_merge_moves_submissions_and_consent_evidence(marketer):
    form = make_form(marketer)
    keep = LeadFactory(email="ada.lovelace@example.com")
    given = submit(form, email="ada@example.com")
    other = given.lead

    row = merge.lead_merge(lead_id=keep.pk, other_id=other.pk, actor=marketer)

    assert row.moved["submissions"] == 1
    given.refresh_from_db()
    assert given.lead_id == keep.pk
    assert Consent.objects.get().lead_id == keep.pk
    keep.refresh_from_db()
    assert keep.consent == ConsentState.GIVEN  # the state of its latest evidence


def test_a_double_opt_in_confirmed_after_a_merge_confirms_the_kept_lead(marketer):
    form = make_form(marketer, slug="doi", double_opt_in=True)
    keep = LeadFactory(email="ada.lovelace@example.com")
    pending = submit(form, email="ada@example.com")

    merge.lead_merge(lead_id=keep.pk, other_id=pending.lead_id, actor=marketer)
    Client().post(f"/f/confirm/{emails.confirm_token(pending.pk)}/")

    pending.refresh_from_db()
    assert (pending.status, pending.lead_id) == (SubmissionStatus.CONFIRMED, keep.pk)
    assert Lead.objects.get(pk=keep.pk).consent == ConsentState.GIVEN
