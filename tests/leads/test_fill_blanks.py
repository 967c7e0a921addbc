"""leads.services.lead_fill_blanks: a writer that may add to a lead but never correct it (a
browser key's identify, a website form)."""

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from leads import services
from leads.models import Lead
from tests.factories import LeadFactory, UserFactory


def row(lead: Lead) -> dict:
    return Lead.objects.values().get(pk=lead.pk)


@pytest.mark.django_db
def test_fills_only_the_blank_fields_and_says_which():
    lead = LeadFactory(first_name="Nia", last_name="", title="", company_size=None, phone="")

    filled = services.lead_fill_blanks(
        lead_id=lead.pk,
        fields={
            "first_name": "Changed",
            "last_name": "  Nakamura ",
            "company_size": 40,
            "utm_source": "newsletter",
            "phone": "",
            "title": None,
        },
    )

    assert filled == ["last_name", "company_size", "utm_source"]
    lead.refresh_from_db()
    assert (lead.first_name, lead.last_name, lead.company_size, lead.utm_source) == (
        "Nia",
        "Nakamura",
        40,
        "newsletter",
    )
    assert (lead.phone, lead.title) == ("", "")


@pytest.mark.django_db
def test_traits_gain_only_the_keys_the_lead_lacks_or_holds_blank():
    lead = LeadFactory(traits={"plan": "pro", "seats": None, "note": ""})

    filled = services.lead_fill_blanks(
        lead_id=lead.pk,
        fields={"traits": {"plan": "free", "seats": 3, "note": "hi", "role": "cto", "x": ""}},
    )

    assert filled == ["traits"]
    lead.refresh_from_db()
    assert lead.traits == {"plan": "pro", "seats": 3, "note": "hi", "role": "cto"}


@pytest.mark.django_db
def test_nothing_to_fill_writes_nothing():
    lead = LeadFactory(first_name="Nia", traits={"plan": "pro"})
    before = row(lead)

    filled = services.lead_fill_blanks(
        lead_id=lead.pk, fields={"first_name": "Other", "last_name": "", "traits": {"plan": "x"}}
    )

    assert filled == []
    assert row(lead) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    ["email", "external_id", "owner", "stage", "score", "temperature", "consent", "source"],
)
def test_fields_that_are_not_blanks_to_fill_are_refused_and_nothing_changes(name):
    lead = LeadFactory(title="")
    before = row(lead)
    value = UserFactory(role="rep") if name == "owner" else "x"

    with pytest.raises(ValueError, match=name):
        services.lead_fill_blanks(lead_id=lead.pk, fields={"title": "CTO", name: value})

    assert row(lead) == before


@pytest.mark.django_db
def test_a_value_the_field_cannot_hold_is_refused_and_nothing_changes():
    lead = LeadFactory(title="", phone="")
    before = row(lead)

    with pytest.raises(ValidationError):
        services.lead_fill_blanks(lead_id=lead.pk, fields={"title": "CTO", "phone": "9" * 51})

    assert row(lead) == before
    # The field's own limit, exactly: 50 characters fit.
    assert services.lead_fill_blanks(lead_id=lead.pk, fields={"phone": "9" * 50}) == ["phone"]


@pytest.mark.django_db
def test_a_lead_that_is_gone_fills_nothing():
    assert services.lead_fill_blanks(lead_id=987654, fields={"title": "CTO"}) == []


@pytest.mark.django_db(transaction=True)
def test_an_edit_committed_while_it_waits_for_the_row_is_kept():
    """A person edits the title while the fill waits for their lock: the fill must see the
    committed value (it locks, then reads) and leave it."""
    lead = LeadFactory(title="")
    locked, result = threading.Event(), {}

    def person_edits():
        from django.db import connections

        try:
            with transaction.atomic():
                Lead.objects.select_for_update().get(pk=lead.pk)
                locked.set()
                time.sleep(0.3)
                Lead.objects.filter(pk=lead.pk).update(title="VP Sales")
        finally:
            connections.close_all()

    thread = threading.Thread(target=person_edits)
    thread.start()
    assert locked.wait(5)
    result["filled"] = services.lead_fill_blanks(lead_id=lead.pk, fields={"title": "CTO"})
    thread.join(5)

    lead.refresh_from_db()
    assert (result["filled"], lead.title) == ([], "VP Sales")
