"""The pure rule layer: validation, meaning, bands, stages, explanations. No database."""

from datetime import UTC, datetime, timedelta

import pytest

from scoring import rules
from scoring.rules import Condition, EventFacts, Operator, PqlCondition, RuleDef, RuleKind

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _event_rule(**overrides) -> dict:
    return {
        "kind": "event",
        "event_type": "track",
        "event_name": "Demo Requested",
        "points": 30,
        **overrides,
    }


def test_event_rule_parses_with_defaults():
    rule = rules.rule_parse(_event_rule())

    assert rule == RuleDef(
        kind=RuleKind.EVENT, points=30, event_type="track", event_name="Demo Requested"
    )


def test_definition_round_trips():
    data = _event_rule(
        event_type="page",
        event_name="Pricing",
        conditions=[{"field": "plan", "operator": "in", "value": ["pro", 3]}],
        max_times=3,
        expires_after_days=90,
    )

    rule = rules.rule_parse(data)

    assert rules.rule_parse(rule.definition()) == rule
    assert rule.conditions == (Condition("plan", Operator.IN, ("pro", 3)),)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "other"}, "kind"),
        (_event_rule(points=0), "points"),
        (_event_rule(points=1001), "points"),
        (_event_rule(points="10"), "points"),
        (_event_rule(points=True), "points"),
        (_event_rule(event_name=""), "event_name"),
        (_event_rule(event_type="identify"), "event_type"),
        (_event_rule(max_times=0), "max_times"),
        (_event_rule(expires_after_days=-1), "expires_after_days"),
        (
            _event_rule(conditions=[{"field": "plan", "operator": "like", "value": "x"}]),
            "conditions",
        ),
        (
            _event_rule(conditions=[{"field": "a'b", "operator": "equals", "value": "x"}]),
            "conditions",
        ),
        (_event_rule(conditions=[{"field": "n", "operator": "gt", "value": "5"}]), "conditions"),
        (_event_rule(conditions=[{"field": "n", "operator": "in", "value": []}]), "conditions"),
        (
            _event_rule(conditions=[{"field": "n", "operator": "contains", "value": ""}]),
            "conditions",
        ),
        (_event_rule(conditions="plan=pro"), "conditions"),
        ({"kind": "attribute", "points": 5, "conditions": []}, "conditions"),
        (
            {
                "kind": "attribute",
                "points": 5,
                "conditions": [{"field": "password", "operator": "equals", "value": "x"}],
            },
            "conditions",
        ),
        (
            {
                "kind": "attribute",
                "points": 5,
                "conditions": [{"field": "title", "operator": "gt", "value": 3}],
            },
            "conditions",
        ),
        (
            {
                "kind": "attribute",
                "points": 5,
                "conditions": [{"field": "company_size", "operator": "contains", "value": "5"}],
            },
            "conditions",
        ),
        (
            {
                "kind": "attribute",
                "points": 5,
                "expires_after_days": 10,
                "conditions": [{"field": "title", "operator": "contains", "value": "VP"}],
            },
            "expires_after_days",
        ),
    ],
)
def test_invalid_rules_name_the_bad_field(data, field):
    with pytest.raises(rules.RuleError) as exc:
        rules.rule_parse(data)

    assert field in exc.value.fields


def _cond(op, value, field="v"):
    return Condition(field, Operator(op), value)


@pytest.mark.parametrize(
    ("op", "target", "value", "expected"),
    [
        ("equals", "Pro", "pro", True),
        ("equals", "Pro", "pro ", False),
        ("equals", "Pro", 5, False),
        ("equals", 5, 5.0, True),
        ("equals", 5, "5", False),
        ("equals", 1, True, False),
        ("equals", True, True, True),
        ("equals", True, 1, False),
        ("equals", "x", rules.MISSING, False),
        ("in", ("a", 2), "A", True),
        ("in", ("a", 2), 2, True),
        ("in", ("a", 2), "2", False),
        ("contains", ("VP", "Head"), "Head of Ops", True),
        ("contains", ("VP",), "svp sales", True),
        ("contains", ("VP",), 7, False),
        ("contains", ("É",), "é", False),  # only ASCII letters fold, as in our SQL
        ("gt", 50, 51, True),
        ("gt", 50, 50, False),
        ("gte", 50, 50, True),
        ("lt", 50, 49.5, True),
        ("lte", 50, 50, True),
        ("gt", 50, "60", False),
        ("lt", 50, "6", False),
        ("lt", 50, None, False),
        ("gt", 0, True, False),
    ],
)
def test_value_matching(op, target, value, expected):
    assert rules.value_matches(_cond(op, target), value) is expected


def test_event_matches_on_type_name_and_every_condition():
    rule = rules.rule_parse(
        _event_rule(
            event_type="page",
            event_name="Pricing",
            conditions=[
                {"field": "plan", "operator": "equals", "value": "pro"},
                {"field": "seats", "operator": "gte", "value": 10},
            ],
        )
    )
    hit = EventFacts(1, "page", "Pricing", T0, {"plan": "PRO", "seats": 10})

    assert rules.event_matches(rule, hit)
    assert not rules.event_matches(rule, EventFacts(1, "track", "Pricing", T0, hit.properties))
    assert not rules.event_matches(rule, EventFacts(1, "page", "pricing", T0, hit.properties))
    assert not rules.event_matches(rule, EventFacts(1, "page", "Pricing", T0, {"plan": "pro"}))


@pytest.mark.parametrize(
    ("field", "op", "value", "lead", "expected"),
    [
        ("title", "contains", ["VP", "Founder"], {"title": "Co-founder"}, True),
        ("title", "contains", ["VP", "Founder"], {"title": "Engineer"}, False),
        ("company_size", "gte", 50, {"company_size": 50}, True),
        ("company_size", "gte", 50, {"company_size": None}, False),
        ("email_domain", "in", ["gmail.com"], {"email": "a@GMail.com"}, True),
        ("email_domain", "in", ["gmail.com"], {"email": "a@mygmail.com"}, False),
        ("traits.plan", "equals", "trial", {"traits": {"plan": "Trial"}}, True),
        ("traits.plan", "equals", "trial", {"traits": {}}, False),
    ],
)
def test_lead_matches(field, op, value, lead, expected):
    rule = rules.rule_parse(
        {
            "kind": "attribute",
            "points": 5,
            "conditions": [{"field": field, "operator": op, "value": value}],
        }
    )

    assert rules.lead_matches(rule, lead) is expected


def test_capped_rule_awards_the_first_events_in_time():
    rule = rules.rule_parse(_event_rule(event_type="page", event_name="Pricing", max_times=2))
    events = [EventFacts(i, "page", "Pricing", T0 - timedelta(days=i)) for i in range(1, 5)]

    assert [e.id for e in rules.awarded_events(rule, events)] == [4, 3]


def test_points_expire_whole_days_after_the_event():
    rule = rules.rule_parse(_event_rule(expires_after_days=90))

    assert rules.expires_at(rule, T0) == T0 + timedelta(days=90)
    assert rules.expires_at(rules.rule_parse(_event_rule()), T0) is None


@pytest.mark.parametrize(
    ("score", "band"), [(-5, "cold"), (24, "cold"), (25, "warm"), (49, "warm"), (50, "hot")]
)
def test_temperature_bands(score, band):
    assert rules.temperature_for(score, rules.Thresholds()) == band


PQL = (PqlCondition("Project Created", 2, 14), PqlCondition("Task Created", 20, 14))


def _pql_events(projects: list[int], tasks: list[int]):
    return [("Project Created", T0 + timedelta(days=d)) for d in projects] + [
        ("Task Created", T0 + timedelta(days=d)) for d in tasks
    ]


def test_pql_met_when_all_conditions_fall_in_one_window():
    assert rules.pql_met(PQL, _pql_events([0, 3], [5] * 20))


def test_pql_window_is_inclusive_of_exactly_d_days():
    assert rules.pql_met(PQL, _pql_events([0, 14], [14] * 20))
    assert not rules.pql_met(PQL, _pql_events([0, 14], [0] * 10 + [15] * 10))


def test_pql_not_met_when_conditions_hold_in_different_windows():
    assert not rules.pql_met(PQL, _pql_events([0, 1], [30] * 20))
    assert not rules.pql_met(PQL, _pql_events([0], [0] * 20))
    assert not rules.pql_met((), _pql_events([0, 1], [0] * 20))


@pytest.mark.parametrize(
    ("stage", "score", "pql", "expected"),
    [
        ("IQL", 49, False, "IQL"),
        ("IQL", 50, False, "MQL"),
        ("IQL", 0, True, "PQL"),
        ("MQL", 90, True, "PQL"),
        ("MQL", 10, False, "MQL"),
        ("SAL", 90, True, "SAL"),
        ("DISQUALIFIED", 90, True, "DISQUALIFIED"),
    ],
)
def test_next_stage_only_moves_forward_out_of_iql_and_mql(stage, score, pql, expected):
    assert (
        rules.next_stage(stage=stage, score=score, pql=pql, thresholds=rules.Thresholds())
        == expected
    )


def test_thresholds_validation():
    with pytest.raises(rules.RuleError) as exc:
        rules.thresholds_parse({"warm_at": 60, "hot_at": 50})
    assert "warm_at" in exc.value.fields
    with pytest.raises(rules.RuleError) as exc:
        rules.thresholds_parse(
            {"pql_conditions": [{"event_name": "X", "min_count": 0, "within_days": 3}]}
        )
    assert "pql_conditions" in exc.value.fields
    assert rules.thresholds_parse({"mql_threshold": 70}) == rules.Thresholds(mql_threshold=70)


def test_describe_reads_as_one_sentence():
    pricing = rules.rule_parse(
        _event_rule(
            event_type="page", event_name="Pricing", points=10, max_times=3, expires_after_days=90
        )
    )
    title = rules.rule_parse(
        {
            "kind": "attribute",
            "points": 15,
            "conditions": [{"field": "title", "operator": "contains", "value": ["VP", "Head"]}],
        }
    )

    assert (
        rules.describe(pricing)
        == "+10 points for each view of the page “Pricing” (at most 3 times; points last 90 days)."
    )
    assert rules.describe(title) == "+15 points when title contains any of “VP”, “Head”."
    assert (
        rules.describe_pql(PQL)
        == "PQL: 2× Project Created within 14 days and 20× Task Created within 14 days"
    )
