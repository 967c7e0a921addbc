"""leads_owner_release: the hand-off takes leads back from a rep, in one statement."""

import pytest

from leads.models import Lead, Stage
from leads.services import leads_owner_release
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_releases_leads_still_owned_by_the_rep_they_are_taken_from():
    rep = UserFactory(username="rep", role="rep")
    other = UserFactory(username="other_rep", role="rep")
    taken = [LeadFactory(owner=rep, stage=Stage.MQL) for _ in range(2)]
    moved_on = LeadFactory(owner=other, stage=Stage.MQL)  # a manager gave it to someone else
    untouched = LeadFactory(owner=rep, stage=Stage.MQL)
    before = Lead.objects.get(pk=taken[0].pk).updated_at

    released = leads_owner_release(
        owners={taken[1].pk: rep.pk, taken[0].pk: rep.pk, moved_on.pk: rep.pk}
    )

    assert released == sorted(lead.pk for lead in taken)
    owners = dict(Lead.objects.values_list("pk", "owner_id"))
    assert owners == {
        taken[0].pk: None,
        taken[1].pk: None,
        moved_on.pk: other.pk,
        untouched.pk: rep.pk,
    }
    lead = Lead.objects.get(pk=taken[0].pk)
    assert lead.stage == Stage.MQL  # the stage does not move
    assert lead.updated_at > before
    assert lead.stage_changes.count() == 1


def test_releasing_nothing_changes_nothing():
    lead = LeadFactory(owner=UserFactory(username="rep", role="rep"))

    assert leads_owner_release(owners={}) == []
    assert Lead.objects.get(pk=lead.pk).owner_id is not None
