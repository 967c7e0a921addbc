"""One rule for which lead an event's ids belong to: ingestion's set-based insert and the Python
path (linking waiting events, following aliases) both follow events.identity.lead_of_ids_sql."""

import itertools

import pytest

from events import identity, services
from events.models import Event, Identity, IdentityKind
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

USER_IDS = ["linked-user", "external-only", "linked-both", "unknown-user", ""]
ANON_IDS = ["linked-anon", "unknown-anon", ""]


@pytest.fixture
def world():
    """A lead per way of being known, and the lead each id belongs to by the rule."""
    by_user_link, by_external, by_anon_link, clash = LeadFactory.create_batch(4)
    by_external.external_id = "external-only"
    by_external.save()
    # "linked-both" is a linked userId AND some other lead's external_id: the link wins.
    clash.external_id = "linked-both"
    clash.save()
    Identity.objects.create(kind=IdentityKind.USER, value="linked-user", lead=by_user_link)
    Identity.objects.create(kind=IdentityKind.USER, value="linked-both", lead=by_user_link)
    Identity.objects.create(kind=IdentityKind.ANONYMOUS, value="linked-anon", lead=by_anon_link)
    return {
        "linked-user": by_user_link.pk,
        "external-only": by_external.pk,
        "linked-both": by_user_link.pk,
        "linked-anon": by_anon_link.pk,
    }


def test_the_insert_and_the_python_path_give_every_pair_of_ids_the_same_lead(source, world):
    pairs = [(u, a) for u, a in itertools.product(USER_IDS, ANON_IDS) if u or a]
    messages = []
    for n, (user_id, anon_id) in enumerate(pairs):
        ids = {"userId": user_id} if user_id else {}
        ids |= {"anonymousId": anon_id} if anon_id else {}
        messages.append({"type": "track", "event": "Seen", "messageId": f"m{n}", **ids})

    services.events_ingest(source=source, messages=messages)

    stored = dict(Event.objects.values_list("message_id", "lead_id"))
    by_user, by_anon = identity.leads_for_ids(
        user_ids={u for u, _ in pairs if u}, anonymous_ids={a for _, a in pairs if a}
    )
    for n, (user_id, anon_id) in enumerate(pairs):
        python_path = by_user.get(user_id) or by_anon.get(anon_id)
        # The rule spelled out: the userId (link, then external_id) first, then the anonymousId.
        expected = world.get(user_id) or world.get(anon_id)
        assert (stored[f"m{n}"], python_path) == (expected, expected), (user_id, anon_id)


def test_the_python_path_knows_exactly_the_known_ids(world):
    by_user, by_anon = identity.leads_for_ids(
        user_ids={"linked-user", "external-only", "linked-both", "unknown-user", "linked-anon"},
        anonymous_ids={"linked-anon", "unknown-anon", "linked-user"},
    )

    assert by_user == {k: world[k] for k in ("linked-user", "external-only", "linked-both")}
    assert by_anon == {"linked-anon": world["linked-anon"]}
