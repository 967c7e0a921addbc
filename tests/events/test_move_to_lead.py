"""Merging duplicates: events and identities given to the kept lead (events.services)."""

import pytest

from events import services
from events.models import Event, Identity, IdentityKind, PendingEvent
from tests.factories import EventFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_events_move_with_their_scoring_queue_rows():
    keep, other = LeadFactory(), LeadFactory()
    scored = EventFactory(lead=other, pending=False)
    waiting = EventFactory(lead=other)
    kept = EventFactory(lead=keep)

    moved = services.events_move_to_lead(from_lead_id=other.pk, to_lead_id=keep.pk)

    assert moved == 2
    assert set(Event.objects.filter(lead=keep).values_list("pk", flat=True)) == {
        scored.pk,
        waiting.pk,
        kept.pk,
    }
    assert set(PendingEvent.objects.values_list("event_id", flat=True)) == {waiting.pk, kept.pk}


def test_identities_move_so_later_events_join_the_kept_lead():
    keep, other = LeadFactory(), LeadFactory()
    Identity.objects.create(kind=IdentityKind.USER, value="u-1", lead=other)
    Identity.objects.create(kind=IdentityKind.ANONYMOUS, value="a-1", lead=other)
    Identity.objects.create(kind=IdentityKind.USER, value="u-2", lead=keep)

    assert services.identities_move_to_lead(from_lead_id=other.pk, to_lead_id=keep.pk) == 2
    assert sorted(Identity.objects.filter(lead=keep).values_list("value", flat=True)) == [
        "a-1",
        "u-1",
        "u-2",
    ]
