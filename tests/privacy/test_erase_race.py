"""An erasure racing with ingestion leaves nothing personal behind (real PostgreSQL locks,
real transactions, two threads)."""

import threading
import time

import pytest
from django.db import connections

from core import hooks
from events import services as event_services
from leads import privacy
from leads.models import Lead
from tests.factories import SourceFactory, UserFactory
from tests.privacy.person import Person, identify_message, personal_data_left, track_message
from tests.support import race

pytestmark = pytest.mark.django_db(transaction=True)


def _person(n: int) -> Person:
    return Person(
        email=f"racer{n}.zq@brightwave.example",
        first_name=f"Racerfirst{n}",
        last_name=f"Racerlast{n}",
        phone=f"+44 20 7946 09{n:02d}",
        company=f"Racecorp{n}",
        ip=f"198.51.100.{n + 10}",
        anonymous_id=f"anon-race-{n}",
        user_id=f"usr-race-{n}",
        user_agent=f"RaceAgent/{n}",
    )


def _in_thread(work):
    def run():
        try:
            work()
        finally:
            connections.close_all()

    return threading.Thread(target=run)


def _batch(person: Person, n: int) -> list[dict]:
    return [
        identify_message(person, n=n, title="Racing title"),
        track_message(person, n=n),
    ]


def test_erase_and_ingestion_at_once_leave_nothing_personal():
    admin = UserFactory(username="race-admin", role="admin")
    source = SourceFactory(name="server")
    for n in range(8):
        person = _person(n)
        event_services.events_ingest(source=source, messages=[identify_message(person)])
        lead = Lead.objects.get(email=person.email)

        def work(i, lead=lead, person=person, n=n):
            if i == 0:
                return privacy.lead_erase(actor=admin, lead_id=lead.pk, reason="race")
            return event_services.events_ingest(source=source, messages=_batch(person, n + 1))

        results = race(work)

        assert not any(isinstance(r, Exception) for r in results), results
        assert personal_data_left(person) == {}, n
        assert Lead.objects.filter(erased_at__isnull=True).count() == 0  # none re-created


def test_ingestion_sent_during_an_erasure_waits_and_stores_nothing_personal():
    admin = UserFactory(username="race-admin", role="admin")
    source = SourceFactory(name="server")
    person = _person(50)
    event_services.events_ingest(source=source, messages=[identify_message(person)])
    lead = Lead.objects.get(email=person.email)
    inside, release = threading.Event(), threading.Event()

    def hold(_lead):  # an erasure receiver that keeps the erasure's transaction open
        inside.set()
        release.wait(10)
        return {}

    hooks.lead_erase.register(hold)
    try:
        eraser = _in_thread(lambda: privacy.lead_erase(actor=admin, lead_id=lead.pk, reason="held"))
        eraser.start()
        assert inside.wait(10)
        outcome: list = []
        ingester = _in_thread(
            lambda: outcome.append(
                event_services.events_ingest(source=source, messages=_batch(person, 1))
            )
        )
        ingester.start()
        time.sleep(0.5)
        assert ingester.is_alive()  # waiting for the erasure's locks
        release.set()
        eraser.join(10)
        ingester.join(10)
    finally:
        hooks.lead_erase._receivers.remove(hold)
        release.set()

    assert (outcome[0].accepted, outcome[0].stored) == (2, 0)
    assert personal_data_left(person) == {}
    assert Lead.objects.count() == 1


def test_erase_and_a_form_submission_at_once_leave_nothing_personal():
    from django.utils import timezone

    from web import services as web_services
    from web import validation
    from web.models import Form

    admin = UserFactory(username="race-admin", role="admin")
    form = Form.objects.create(
        slug="race",
        name="Race",
        title="Race",
        consent_text="Yes, email me.",
        double_opt_in=False,
        fields=[
            {"name": "email", "label": "Email"},
            {"name": "first_name", "label": "First name"},
            {"name": "phone", "label": "Phone"},
        ],
    )
    specs = validation.fields_parse(form.fields)
    source = SourceFactory(name="server")
    for n in range(6):
        person = _person(100 + n)
        event_services.events_ingest(source=source, messages=[identify_message(person)])
        lead = Lead.objects.get(email=person.email)
        values = {
            "email": person.email,
            "first_name": person.first_name,
            "phone": person.phone,
        }
        visit = web_services.Visit(
            ip=person.ip, user_agent=person.user_agent, anonymous_id=person.anonymous_id
        )

        def work(i, lead=lead, values=values, visit=visit):
            if i == 0:
                return privacy.lead_erase(actor=admin, lead_id=lead.pk, reason="race")
            return web_services._submission_store(
                form=form, specs=specs, values=values, visit=visit, now=timezone.now()
            )

        results = race(work)

        # The form either landed first (and was erased with the rest) or found the address
        # erased (refused): never a 500, never a new lead.
        assert all(
            not isinstance(r, Exception) or isinstance(r, privacy.AddressErased) for r in results
        ), results
        assert personal_data_left(person) == {}, n
        assert Lead.objects.filter(erased_at__isnull=True).count() == 0
