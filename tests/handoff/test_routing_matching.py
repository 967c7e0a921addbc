"""handoff.matching: which rule takes a lead and which rep gets it. Pure: no database."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from handoff.matching import LeadFacts, RepSlot, Rule, plan, rep_pick, rule_for, rule_matches

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def lead(
    n: int = 1,
    *,
    country: str = "Germany",
    company_size: int | None = 50,
    source: str = "referral",
    stage: str = "MQL",
    score: int = 60,
) -> LeadFacts:
    return LeadFacts(
        id=n, country=country, company_size=company_size, source=source, stage=stage, score=score
    )


def slots(*specs) -> dict[int, RepSlot]:
    """(id, capacity, load) each."""
    return {rep_id: RepSlot(id=rep_id, capacity=cap, load=load) for rep_id, cap, load in specs}


# --- conditions -------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "matches"), [(9, False), (10, True), (50, True), (51, False)])
def test_size_range_includes_both_bounds(size, matches):
    rule = Rule(id=1, rep_ids=(1,), size_min=10, size_max=50)
    assert rule_matches(rule, lead(company_size=size)) is matches


@pytest.mark.parametrize(("score", "matches"), [(39, False), (40, True), (80, True), (81, False)])
def test_score_range_includes_both_bounds(score, matches):
    rule = Rule(id=1, rep_ids=(1,), score_min=40, score_max=80)
    assert rule_matches(rule, lead(score=score)) is matches


def test_unknown_company_size_matches_no_size_range_but_any_rule_without_one():
    assert not rule_matches(Rule(id=1, rep_ids=(1,), size_min=1), lead(company_size=None))
    assert rule_matches(Rule(id=1, rep_ids=(1,)), lead(company_size=None))


def test_country_ignores_case_and_spaces_and_lists_any_of():
    rule = Rule(id=1, rep_ids=(1,), countries=frozenset({"germany", "austria"}))
    assert rule_matches(rule, lead(country=" GERMANY "))
    assert rule_matches(rule, lead(country="Austria"))
    assert not rule_matches(rule, lead(country="France"))
    assert not rule_matches(rule, lead(country=""))


def test_sources_and_stages_must_each_hold():
    rule = Rule(id=1, rep_ids=(1,), sources=frozenset({"event"}), stages=frozenset({"PQL"}))
    assert rule_matches(rule, lead(source="event", stage="PQL"))
    assert not rule_matches(rule, lead(source="event", stage="MQL"))
    assert not rule_matches(rule, lead(source="social", stage="PQL"))


def test_first_rule_by_order_wins_and_the_default_catches_the_rest():
    default = Rule(id=9, rep_ids=(9,), is_default=True)
    german = Rule(id=1, rep_ids=(1,), countries=frozenset({"germany"}))
    anything = Rule(id=2, rep_ids=(2,))
    rules = [default, german, anything]  # the default rule is tried last wherever it stands
    assert rule_for(rules, lead(country="Germany")) is german
    assert rule_for(rules, lead(country="France")) is anything
    assert rule_for([default, german], lead(country="France")) is default
    assert rule_for([german], lead(country="France")) is None


# --- picking a rep ----------------------------------------------------------------------------


@pytest.mark.parametrize(("load", "picked"), [(4, True), (5, False)])
def test_capacity_n_minus_one_takes_one_more_capacity_n_takes_none(load, picked):
    slot = RepSlot(id=1, capacity=5, load=load)
    assert (rep_pick([slot], lead(), set()) is slot) is picked


def test_most_free_capacity_wins():
    group = slots((1, 10, 8), (2, 10, 3), (3, 4, 0))
    assert rep_pick(group.values(), lead(), set()).id == 2


def test_ties_go_to_never_assigned_then_least_recently_assigned_then_lowest_id():
    group = slots((1, 5, 0), (2, 5, 0), (3, 5, 0))
    group[1].last = (NOW - timedelta(minutes=1), 0)
    group[2].last = (NOW - timedelta(minutes=5), 0)
    assert rep_pick(group.values(), lead(), set()).id == 3  # never assigned
    group[3].last = (NOW, 0)
    assert rep_pick(group.values(), lead(), set()).id == 2  # least recently


def test_lapsed_rep_is_skipped():
    group = slots((1, 10, 0), (2, 10, 5))
    assert rep_pick(group.values(), lead(), {1}).id == 2
    assert rep_pick([group[1]], lead(), {1}) is None


def test_territory_limits_who_gets_the_lead():
    group = slots((1, 10, 0), (2, 10, 5))
    group[1].countries = frozenset({"france"})
    group[1].size_min, group[1].size_max = 100, 200
    assert rep_pick(group.values(), lead(country="Germany"), set()).id == 2
    assert rep_pick(group.values(), lead(country="France", company_size=200), set()).id == 1
    assert rep_pick(group.values(), lead(country="France", company_size=201), set()).id == 2


# --- a whole pass -----------------------------------------------------------------------------


def test_equal_capacity_is_a_round_robin_within_one():
    group = slots(*((rep_id, 100, 0) for rep_id in range(1, 8)))
    result = plan(
        leads=[lead(n) for n in range(500)],
        rules=[Rule(id=1, rep_ids=tuple(group), is_default=True)],
        slots=group,
        lapsed={},
        now=NOW,
    )
    counts = Counter(rep for _, rep, _ in result.picks)
    assert sum(counts.values()) == 500
    assert max(counts.values()) - min(counts.values()) <= 1


def test_free_capacity_weights_the_round_robin():
    # Rep 1 has 10 free, rep 2 has 4: rep 1 gets leads until both have 4 free, then they
    # alternate (rep 2 first: never assigned before).
    group = slots((1, 10, 0), (2, 10, 6))
    result = plan(
        leads=[lead(n) for n in range(8)],
        rules=[Rule(id=1, rep_ids=(1, 2))],
        slots=group,
        lapsed={},
        now=NOW,
    )
    assert [rep for _, rep, _ in result.picks] == [1, 1, 1, 1, 1, 1, 2, 1]
    assert (group[1].free, group[2].free, result.free) == (3, 3, 6)


def test_nobody_free_leaves_the_lead_out():
    group = slots((1, 1, 0))
    result = plan(
        leads=[lead(1), lead(2)],
        rules=[Rule(id=1, rep_ids=(1,))],
        slots=group,
        lapsed={},
        now=NOW,
    )
    assert result.picks == [(1, 1, 1)]
    assert result.free == 0


def test_reps_not_offered_as_slots_are_skipped():
    # Away, inactive or non-rep members are not in `slots` (the selector leaves them out).
    result = plan(
        leads=[lead(1)],
        rules=[Rule(id=1, rep_ids=(1, 2))],
        slots=slots((2, 3, 0)),
        lapsed={},
        now=NOW,
    )
    assert result.picks == [(1, 2, 1)]
