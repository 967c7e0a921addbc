"""A person with personal data in every table that can hold some, and a scan of the whole
database for it (the erasure's proof)."""

from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps
from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.utils import timezone

from events import services as event_services
from handoff.models import Activity, Discovery, Merge, Rejection, Task
from leads import services as lead_services
from leads.models import Lead
from nurturing.models import Enrollment, Message, Sequence, Step, Suppression
from scoring.models import LedgerEntry, ScoringRule
from scoring.services import rule_create
from tests.factories import AssignmentFactory, SourceFactory
from web.models import Form, Submission


@dataclass(frozen=True)
class Person:
    email: str = "zoltanna.quist@brightwave.example"
    first_name: str = "Zoltanna"
    last_name: str = "Quistwright"
    phone: str = "+33 6 12 34 56 78"
    title: str = "Chief Zoltanna Officer"
    company: str = "Brightwave Zeta"
    ip: str = "203.0.113.77"
    anonymous_id: str = "anon-7f3e9b21"
    user_id: str = "usr-8842-zq"
    user_agent: str = "ZqBrowser/9.1"

    def needles(self) -> list[str]:
        return [
            self.email,
            self.first_name,
            self.last_name,
            self.phone,
            self.company,
            self.ip,
            self.anonymous_id,
            self.user_id,
            self.user_agent,
        ]


PERSON = Person()


def identify_message(person: Person = PERSON, *, n: int = 0, **traits) -> dict:
    return {
        "type": "identify",
        "messageId": f"identify-{person.user_id}-{n}",
        "userId": person.user_id,
        "anonymousId": person.anonymous_id,
        "traits": {
            "email": person.email,
            "firstName": person.first_name,
            "lastName": person.last_name,
            "phone": person.phone,
            "company": person.company,
            "favourite_colour": "teal",
            **traits,
        },
        "context": {"ip": person.ip, "userAgent": person.user_agent},
        "timestamp": timezone.now().isoformat(),
    }


def track_message(person: Person = PERSON, *, n: int = 0) -> dict:
    return {
        "type": "track",
        "event": "Pricing Viewed",
        "messageId": f"track-{person.user_id}-{n}",
        "userId": person.user_id,
        "anonymousId": person.anonymous_id,
        "properties": {"plan": "team", "contact": person.email},
        "context": {"ip": person.ip, "userAgent": person.user_agent},
        "timestamp": timezone.now().isoformat(),
    }


def person_everywhere(*, admin, rep, person: Person = PERSON) -> Lead:
    """The person's lead, with rows in every app: events (linked and waiting), identities,
    consent, points, an email sent, a suppression, a hand-off history, a form submission, and
    audit rows of edits and an export."""
    source = SourceFactory(name="server")
    event_services.events_ingest(source=source, messages=[identify_message(person)])
    lead = Lead.objects.get(email=person.email)
    # An anonymous page view not linked to the lead (another source, before the link).
    event_services.events_ingest(
        source=SourceFactory(name="browser-like"),
        messages=[
            {
                "type": "page",
                "name": "Home",
                "messageId": "page-orphan-1",
                "anonymousId": person.anonymous_id,
                "context": {"ip": person.ip},
            }
        ],
    )
    event_services.events_ingest(source=source, messages=[track_message(person)])
    lead_services.lead_update(lead=lead, actor=admin, title=person.title, owner=rep)
    lead_services.lead_consent_give(
        lead_id=lead.pk, wording="Yes, email me.", source="form:demo", ip=person.ip
    )
    _scoring(lead)
    _nurture(lead, person)
    _handoff(lead, rep, person)
    _web(lead, person)
    return lead


def _scoring(lead: Lead) -> None:
    rule = rule_create(
        actor=None,
        name="Pricing",
        definition={"kind": "event", "event_name": "Pricing Viewed", "points": 10},
        rescore=False,
    )
    rule = ScoringRule.objects.get(pk=rule.pk)
    event = lead.events.get(name="Pricing Viewed")
    LedgerEntry.objects.create(
        lead=lead,
        rule=rule,
        version=rule.current_version,
        event=event,
        points=10,
        occurred_at=event.occurred_at,
        created_at=timezone.now(),
    )


def _nurture(lead: Lead, person: Person) -> None:
    now = timezone.now()
    sequence = Sequence.objects.create(key="welcome", name="Welcome", activated_at=now)
    step = Step.objects.create(sequence=sequence, position=1, subject="Hi", body_text="Hello")
    enrollment = Enrollment.objects.create(
        lead=lead, sequence=sequence, trigger="manual", enrolled_at=now
    )
    Message.objects.create(
        enrollment=enrollment,
        step=step,
        lead=lead,
        status="sent",
        to_email=person.email,
        subject=f"Hi {person.first_name}",
        due_at=now,
        created_at=now,
        sent_at=now,
        detail=f"250 ok {person.email}",
    )
    Suppression.objects.create(email=person.email.upper(), reason="bounced")


def _handoff(lead: Lead, rep, person: Person) -> None:
    now = timezone.now()
    assignment = AssignmentFactory(lead=lead, rep=rep)
    Activity.objects.create(
        lead=lead, user=rep, kind="call", body=f"Called {person.first_name}", occurred_at=now
    )
    Task.objects.create(
        lead=lead, assignee=rep, title=f"Call {person.last_name}", due_at=now + timedelta(days=1)
    )
    Rejection.objects.create(
        lead=lead,
        rep=rep,
        assignment=assignment,
        reason="other",
        note=f"{person.first_name} not ready",
        source=lead.source,
        stage="MQL",
        rejected_at=now,
    )
    Discovery.objects.create(
        lead=lead,
        product_fit=True,
        decision_makers=f"{person.first_name} {person.last_name}",
        decision_process="board",
        timeframe="Q3",
        current_solution="spreadsheets",
        budget=f"call {person.phone}",
        answered_at=now,
    )
    Merge.objects.create(
        lead=lead,
        merged_lead_id=999999,
        merged_email=f"{person.first_name}@old.example",
        merged_at=now,
    )


def _web(lead: Lead, person: Person) -> None:
    form = Form.objects.create(slug="demo", name="Demo", title="Demo", consent_text="Yes")
    Submission.objects.create(
        form=form,
        lead=lead,
        email=person.email,
        data={"fields": {"email": person.email, "first_name": person.first_name}},
        utm={"utm_source": "newsletter"},
        referrer=f"https://brightwave.example/?who={person.last_name}",
        anonymous_id=person.anonymous_id,
        ip=person.ip,
        user_agent=person.user_agent,
        submitted_at=timezone.now(),
    )


_TEXT_FIELDS = (
    models.CharField,
    models.TextField,
    models.JSONField,
    models.GenericIPAddressField,
    ArrayField,
)


def personal_data_left(person: Person = PERSON) -> dict[str, list[str]]:
    """Every table and column (text, JSON, IP and array columns of every installed model) that
    still holds one of the person's values, case-insensitively: {value: ["table.column"]}."""
    found: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            if model._meta.proxy or not model._meta.managed:
                continue
            table = model._meta.db_table
            for field in model._meta.concrete_fields:
                if not isinstance(field, _TEXT_FIELDS):
                    continue
                column = connection.ops.quote_name(field.column)
                for needle in person.needles():
                    cursor.execute(
                        f"SELECT 1 FROM {connection.ops.quote_name(table)} "
                        f"WHERE {column}::text ILIKE %s LIMIT 1",
                        [f"%{needle}%"],
                    )
                    if cursor.fetchone():
                        found.setdefault(needle, []).append(f"{table}.{field.column}")
    return found
