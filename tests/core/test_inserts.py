"""core.inserts.insert writes the row Model.objects.create() writes: every column, defaults,
auto_now_add, JSON and addresses included."""

from datetime import UTC, datetime

import pytest
from django.forms.models import model_to_dict

from accounts.models import Role
from core.inserts import insert
from leads.models import Consent, Lead, SavedView
from tests.factories import LeadFactory, UserFactory
from tests.web.conftest import make_form
from web.models import Submission

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def _row(model, pk) -> dict:
    obj = model.objects.get(pk=pk)
    row = {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}
    row.pop(model._meta.pk.attname)
    return row


def test_a_submission_inserted_is_the_row_create_writes():
    lead = LeadFactory()
    form = make_form(UserFactory(role=Role.MARKETER))
    values = dict(
        form=form,
        lead=lead,
        email="ada@example.com",
        data={"fields": {"email": "ada@example.com"}, "consent_text": "Yes, send it."},
        utm={"utm_source": "linkedin"},
        referrer="https://www.example.com/blog",
        anonymous_id="anon-1",
        ip="2001:db8::1",
        user_agent="Mozilla/5.0",
        status="confirmed",
        submitted_at=AT,
        confirmed_at=AT,
    )
    inserted = insert(Submission(**values))
    created = Submission.objects.create(**values)

    assert inserted.pk is not None and inserted.pk != created.pk
    assert not inserted._state.adding
    assert _row(Submission, inserted.pk) == _row(Submission, created.pk)
    assert _row(Submission, inserted.pk)["data"]["consent_text"] == "Yes, send it."


def test_defaults_and_auto_now_add_are_set_as_create_sets_them():
    user = UserFactory()
    inserted = insert(SavedView(user=user, name="Hot leads"))  # query: its default, ""
    stored = SavedView.objects.get(pk=inserted.pk)
    assert stored.query == "" and stored.created_at is not None
    assert model_to_dict(stored, exclude=["id"]) == model_to_dict(inserted, exclude=["id"])


def test_a_consent_row_with_no_address():
    lead = LeadFactory()
    inserted = insert(Consent(lead=lead, state="given", wording="Yes", source="form:x", at=AT))
    assert Consent.objects.get(pk=inserted.pk).ip is None
    assert Lead.objects.get(pk=lead.pk).consents.count() == 1


def test_several_rows_in_one_statement_get_their_own_ids_in_order():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from core.inserts import insert_all
    from leads.models import Stage

    leads = [
        Lead(email=f"lead{n}@example.com", stage=Stage.IQL, stage_entered_at=AT) for n in range(3)
    ]
    with CaptureQueriesContext(connection) as queries:
        assert insert_all(leads) is leads
    assert len(queries) == 1
    assert [Lead.objects.get(pk=lead.pk).email for lead in leads] == [
        "lead0@example.com",
        "lead1@example.com",
        "lead2@example.com",
    ]
    twin = Lead.objects.bulk_create(
        [Lead(email="twin@example.com", stage=Stage.IQL, stage_entered_at=AT)]
    )[0]
    ours, theirs = _row(Lead, leads[0].pk), _row(Lead, twin.pk)
    for row in (ours, theirs):
        row.pop("email"), row.pop("created_at"), row.pop("updated_at")
    assert ours == theirs
    assert insert_all([]) == []
