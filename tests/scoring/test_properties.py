"""Property-based tests (hypothesis) on the real database.

1. The set-based SQL engine gives exactly the ledger, scores, temperatures and stages that the
   pure definitions in scoring.rules give, for random rules, leads and events.
2. Incremental scoring (events arriving in random batches, linked to their lead late, scored in
   random batch sizes, fit rules re-checked, points expired) ends exactly where a full re-score
   ends: a re-score on top changes nothing, and a re-score from an empty ledger rebuilds it.
"""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.models import Event, PendingEvent
from events.pending import events_queue_for_scoring
from leads.models import Lead, StageChange
from scoring import rules, selectors, services
from scoring.models import LedgerEntry, ScoringRule
from tests.factories import LeadFactory, SourceFactory

pytestmark = pytest.mark.django_db

PROPERTY_RUNS = settings(
    max_examples=50,
    deadline=None,
    database=None,  # no .hypothesis folder in the work tree; failures print their example
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

EVENT_TARGETS = [
    ("track", "Demo Requested"),
    ("track", "Task Created"),
    ("track", "Project Created"),
    ("page", "Pricing"),
    ("track", "Pricing"),
]
KEYS = ["plan", "seats"]
TEXTS = ["pro", "Pro", "free", "pro-max", "PRO"]

text_value = st.sampled_from(TEXTS)
number_value = st.integers(-3, 12) | st.sampled_from([2.5, 7.0])
json_value = text_value | number_value | st.booleans()


@st.composite
def conditions(draw):
    key = draw(st.sampled_from(KEYS))
    op = draw(st.sampled_from(list(rules.Operator)))
    if op in rules.NUMERIC_OPERATORS:
        value = draw(number_value)
    elif op is rules.Operator.CONTAINS:
        value = draw(
            st.sampled_from(["pro", "PRO", "x"])
            | st.lists(st.sampled_from(["pro", "ree", "max"]), min_size=1, max_size=2)
        )
    elif op is rules.Operator.IN:
        value = draw(st.lists(text_value | number_value, min_size=1, max_size=3))
    else:
        value = draw(json_value)
    return {"field": key, "operator": op.value, "value": value}


@st.composite
def event_rules(draw):
    event_type, name = draw(st.sampled_from(EVENT_TARGETS[:4]))
    return {
        "kind": "event",
        "event_type": event_type,
        "event_name": name,
        "conditions": draw(st.lists(conditions(), max_size=2)),
        "points": draw(st.integers(-20, 30).filter(bool)),
        "max_times": draw(st.none() | st.integers(1, 3)),
        "expires_after_days": draw(st.none() | st.sampled_from([1, 30, 90])),
    }


fit_conditions = st.sampled_from(
    [
        {"field": "title", "operator": "contains", "value": ["VP", "Head", "chief"]},
        {"field": "title", "operator": "equals", "value": "engineer"},
        {"field": "company_size", "operator": "gte", "value": 50},
        {"field": "company_size", "operator": "lt", "value": 20},
        {"field": "email_domain", "operator": "in", "value": ["gmail.com", "yahoo.com"]},
        {"field": "traits.plan", "operator": "equals", "value": "trial"},
        {"field": "traits.seats", "operator": "gt", "value": 5},
    ]
)


@st.composite
def fit_rules(draw):
    return {
        "kind": "attribute",
        "conditions": draw(st.lists(fit_conditions, min_size=1, max_size=2)),
        "points": draw(st.integers(-15, 25).filter(bool)),
    }


leads_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "title": st.sampled_from(["VP Sales", "head of ops", "Engineer", "", "Chief of Staff"]),
            "company_size": st.none() | st.integers(1, 120),
            "domain": st.sampled_from(["gmail.com", "GMAIL.com", "acme.example", "yahoo.com"]),
            "traits": st.sampled_from(
                [{}, {"plan": "trial"}, {"plan": "Trial", "seats": 9}, {"seats": "9"}]
            ),
        }
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def events_strategy(draw, n_leads: int, targets: list):
    # Mostly the rules' own targets, so that caps, windows and conditions get exercised.
    return draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "lead": st.integers(0, n_leads - 1),
                    "target": st.sampled_from(targets * 3 + EVENT_TARGETS),
                    "properties": st.dictionaries(st.sampled_from(KEYS), json_value, max_size=2),
                    # Hours back from the test's base time, up to ~200 days; often whole days,
                    # so that windows and expiries meet events exactly on their boundaries.
                    "hours_ago": st.integers(0, 60).map(lambda d: d * 24) | st.integers(0, 4800),
                    "arrives": st.integers(0, 3),
                    "linked_late": st.booleans(),
                }
            ),
            min_size=2,
            max_size=30,
        )
    )


thresholds_strategy = st.fixed_dictionaries(
    {
        "mql_threshold": st.sampled_from([10, 30, 50]),
        "pql_conditions": st.sampled_from(
            [
                [],
                [{"event_name": "Project Created", "min_count": 1, "within_days": 7}],
                [
                    {"event_name": "Project Created", "min_count": 2, "within_days": 14},
                    {"event_name": "Task Created", "min_count": 2, "within_days": 3},
                ],
            ]
        ),
    }
)


@st.composite
def worlds(draw):
    leads = draw(leads_strategy)
    behaviour = draw(st.lists(event_rules(), min_size=1, max_size=4))
    targets = [(r["event_type"], r["event_name"]) for r in behaviour]
    return {
        "rules": behaviour + draw(st.lists(fit_rules(), max_size=2)),
        "thresholds": draw(thresholds_strategy),
        "leads": leads,
        "events": draw(events_strategy(len(leads), targets)),
        "batch_limit": draw(st.integers(1, 6)),
    }


class _Rollback(Exception):
    """Ends an example, undoing everything it wrote."""


def in_rollback(check):
    try:
        with transaction.atomic():
            check()
            raise _Rollback
    except _Rollback:
        pass


def _setup(world):
    for i, definition in enumerate(world["rules"]):
        services.rule_create(actor=None, name=f"r{i}", definition=definition, rescore=False)
    services.scoring_settings_update(actor=None, data=world["thresholds"], rescore=False)
    return [
        LeadFactory(
            email=f"p{n}@{spec['domain']}",
            title=spec["title"],
            company_size=spec["company_size"],
            traits=spec["traits"],
        )
        for n, spec in enumerate(world["leads"])
    ]


def _event_rows(world, leads, base, *, group=None, linked=True):
    source = SourceFactory()
    rows = []
    for index, spec in enumerate(world["events"]):
        if group is not None and spec["arrives"] != group:
            continue
        event_type, name = spec["target"]
        occurred = base - timedelta(hours=spec["hours_ago"])
        lead = leads[spec["lead"]] if (linked and not spec["linked_late"]) else None
        rows.append(
            Event(
                source=source,
                message_id=f"{base.timestamp()}-{index}",
                type=event_type,
                name=name,
                lead=lead,
                user_id=f"user-{spec['lead']}",
                properties=spec["properties"],
                occurred_at=occurred,
                received_at=base,
            )
        )
    created = Event.objects.bulk_create(rows)
    events_queue_for_scoring(event_ids=[e.pk for e in created if e.lead_id])  # as ingestion does
    return created


def _full_rescore():
    job = services.rescore_start(actor=None, reason="property test")
    services.rescore_run(job_id=job.pk)


def _snapshot(*, stages: bool = True):
    ledger = sorted(
        LedgerEntry.objects.values_list(
            "lead_id", "version_id", "event_id", "points", "expires_at", "is_live"
        ),
        key=repr,
    )
    leads = list(
        Lead.objects.order_by("id").values_list(
            "id", "score", "temperature", *(["stage"] if stages else [])
        )
    )
    history = StageChange.objects.count() if stages else None
    return ledger, leads, history


@PROPERTY_RUNS
@given(world=worlds())
def test_sql_engine_matches_the_pure_rules(world):
    def check():
        base = timezone.now()
        leads = _setup(world)
        _event_rows(world, leads, base)
        _full_rescore()

        active = selectors.rules_active()
        thresholds = rules.thresholds_parse(world["thresholds"])
        now = timezone.now()
        expected_ledger = []
        for lead in leads:
            lead.refresh_from_db()
            events = [
                rules.EventFacts(e.id, e.type, e.name, e.occurred_at, e.properties)
                for e in Event.objects.filter(lead=lead)
            ]
            awards = rules.lead_awards(
                active, lead.pk, Lead.objects.filter(pk=lead.pk).values().get(), events
            )
            expected_ledger += [
                (a.lead_id, a.version_id, a.event_id, a.points, a.expires_at, a.live(now))
                for a in awards
            ]
            score = sum(a.points for a in awards if a.live(now))
            pql = rules.pql_met(
                thresholds.pql_conditions,
                [(e.name, e.occurred_at) for e in events if e.type == "track"],
            )
            stage = rules.next_stage(stage="IQL", score=score, pql=pql, thresholds=thresholds)
            assert (lead.score, lead.temperature, lead.stage) == (
                score,
                rules.temperature_for(score, thresholds),
                stage,
            ), lead.pk
        actual = LedgerEntry.objects.values_list(
            "lead_id", "version_id", "event_id", "points", "expires_at", "is_live"
        )
        assert sorted(actual, key=repr) == sorted(expected_ledger, key=repr)

    in_rollback(check)


@PROPERTY_RUNS
@given(
    world=worlds(),
    fit_step=st.integers(0, 3),
    retitle=st.sampled_from(["CEO", "VP Growth", "engineer"]),
)
def test_incremental_scoring_equals_a_full_rescore(world, fit_step, retitle):
    def check():
        base = timezone.now()
        leads = _setup(world)
        limit = world["batch_limit"]
        for group in range(4):
            _event_rows(world, leads, base, group=group)
            # Events that arrived unlinked (in this or an earlier group) join their lead now,
            # as ingestion's identity linking does: lead set, back in scoring's queue.
            for index, spec in enumerate(world["events"]):
                if spec["linked_late"] and spec["arrives"] <= group:
                    late = Event.objects.filter(
                        message_id=f"{base.timestamp()}-{index}", lead__isnull=True
                    )
                    ids = list(late.values_list("id", flat=True))
                    late.update(lead=leads[spec["lead"]])
                    events_queue_for_scoring(event_ids=ids)
            if group == fit_step:
                Lead.objects.filter(pk=leads[0].pk).update(title=retitle)
                services.leads_fit_refresh(lead_ids=[lead.pk for lead in leads])
            while services.events_score_batch(limit=limit).events:
                pass
        services.leads_fit_refresh(lead_ids=[lead.pk for lead in leads])
        services.points_expire()
        incremental = _snapshot()
        assert not PendingEvent.objects.exists()

        _full_rescore()
        assert _snapshot() == incremental, (
            "a re-score on top of incremental scoring changed something"
        )

        LedgerEntry.objects.all().delete()
        Lead.objects.update(score=0, temperature="cold")
        _full_rescore()
        assert _snapshot(stages=False) == _snapshot_without_stages(incremental)

    in_rollback(check)


def _snapshot_without_stages(snapshot):
    ledger, leads, _ = snapshot
    return ledger, [row[:3] for row in leads], None


def test_property_strategies_produce_valid_rules():
    # The generators must only produce definitions the API would accept, or the property
    # tests above would be checking errors rather than scoring.
    @settings(max_examples=200, database=None)
    @given(st.lists(event_rules(), min_size=1) | st.lists(fit_rules(), min_size=1))
    def check(definitions):
        for definition in definitions:
            rules.rule_parse(definition)

    check()
    assert ScoringRule.objects.count() == 0
