"""The set-based lead writes an import uses: create with history, overwrite given fields,
record declared consent."""

import pytest

from leads import services
from leads.models import Consent, ConsentState, Lead, SourceChannel, Stage, StageChange
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_create_imported_writes_leads_and_their_first_history_rows():
    rows = [
        {"email": "ada@example.com", "first_name": "Ada", "company_size": 40, "traits": {"p": "x"}},
        {"email": "bob@example.com", "traits": {}},
    ]

    created = services.leads_create_imported(
        rows=rows, source=SourceChannel.IMPORT, reason="import #7", consent_required=True
    )

    ada = Lead.objects.get(email="ada@example.com")
    assert created == {"ada@example.com": ada.pk, "bob@example.com": ada.pk + 1}
    assert (ada.first_name, ada.last_name, ada.company_size, ada.traits) == (
        "Ada",
        "",
        40,
        {"p": "x"},
    )
    assert (ada.source, ada.stage, ada.score, ada.consent, ada.consent_required) == (
        "import",
        Stage.IQL,
        0,
        ConsentState.UNKNOWN,
        True,
    )
    assert Lead.objects.get(email="bob@example.com").company_size is None
    history = StageChange.objects.order_by("lead_id").values_list(
        "lead_id", "from_stage", "to_stage", "reason"
    )
    assert list(history) == [
        (ada.pk, "", "IQL", "import #7"),
        (ada.pk + 1, "", "IQL", "import #7"),
    ]


def test_create_imported_leaves_out_an_email_another_lead_has():
    existing = LeadFactory(email="Ada@Example.com")

    created = services.leads_create_imported(
        rows=[{"email": "ada@example.com", "traits": {}}],
        source=SourceChannel.IMPORT,
        reason="import #1",
        consent_required=False,
    )

    assert created == {}
    assert list(Lead.objects.values_list("pk", flat=True)) == [existing.pk]
    assert StageChange.objects.filter(reason="import #1").count() == 0


def test_overwrite_sets_given_fields_and_merges_traits():
    lead = LeadFactory(first_name="Ada", title="Engineer", company_size=5, traits={"a": 1})

    assert services.leads_overwrite(changes={lead.pk: {"title": "CTO", "traits": {"b": 2}}}) == 1

    lead.refresh_from_db()
    assert (lead.first_name, lead.title, lead.company_size, lead.traits) == (
        "Ada",
        "CTO",
        5,
        {"a": 1, "b": 2},
    )


def test_overwrite_refuses_fields_it_may_not_set():
    lead = LeadFactory(email="ada@example.com")

    with pytest.raises(ValueError, match="leads_overwrite may not set: email, stage"):
        services.leads_overwrite(changes={lead.pk: {"email": "x@example.com", "stage": "MQL"}})

    lead.refresh_from_db()
    assert (lead.email, lead.stage) == ("ada@example.com", Stage.IQL)


def test_consent_record_writes_evidence_for_each_and_counts_changes():
    given = LeadFactory(consent=ConsentState.GIVEN)
    unknown = LeadFactory(do_not_contact=True, do_not_contact_reason="bounced")

    changed = services.leads_consent_record(
        lead_ids=[given.pk, unknown.pk], state=ConsentState.GIVEN, wording="Yes", source="import #3"
    )

    assert changed == 1
    unknown.refresh_from_db()
    assert (unknown.consent, unknown.do_not_contact) == (ConsentState.GIVEN, True)
    assert sorted(Consent.objects.values_list("lead_id", "state", "wording", "source")) == [
        (given.pk, "given", "Yes", "import #3"),
        (unknown.pk, "given", "Yes", "import #3"),
    ]


def test_consent_record_needs_wording_to_give():
    lead = LeadFactory()

    with pytest.raises(ValueError, match="exact wording"):
        services.leads_consent_record(lead_ids=[lead.pk], state="given", wording=" ", source="x")
    with pytest.raises(ValueError, match="given or withdrawn"):
        services.leads_consent_record(lead_ids=[lead.pk], state="unknown", wording="", source="x")

    assert Consent.objects.count() == 0
