"""The transition table itself: every legal and illegal move, for every actor. No database."""

import itertools

import pytest

from leads import lifecycle
from leads.lifecycle import Actor, MoveKind
from leads.models import Stage

ALL_PAIRS = list(itertools.permutations(Stage.values, 2))

EXPECTED = {
    ("IQL", "MQL"): (MoveKind.ADVANCE, {"system", "marketer", "admin"}, False),
    ("IQL", "PQL"): (MoveKind.ADVANCE, {"system", "marketer", "admin"}, False),
    ("MQL", "PQL"): (MoveKind.ADVANCE, {"system", "marketer", "admin"}, False),
    ("MQL", "SAL"): (MoveKind.ACCEPT, {"rep", "manager", "admin"}, False),
    ("PQL", "SAL"): (MoveKind.ACCEPT, {"rep", "manager", "admin"}, False),
    ("SAL", "SQL"): (MoveKind.QUALIFY, {"rep", "manager", "admin"}, False),
    ("SQL", "CUSTOMER"): (MoveKind.WIN, {"rep", "manager", "admin"}, False),
    ("PQL", "MQL"): (MoveKind.RECYCLE, {"rep", "manager", "marketer", "admin"}, True),
    ("SAL", "MQL"): (MoveKind.RECYCLE, {"rep", "manager", "marketer", "admin"}, True),
    ("SQL", "MQL"): (MoveKind.RECYCLE, {"rep", "manager", "marketer", "admin"}, True),
    ("IQL", "DISQUALIFIED"): (MoveKind.DISQUALIFY, {"rep", "manager", "marketer", "admin"}, True),
    ("MQL", "DISQUALIFIED"): (MoveKind.DISQUALIFY, {"rep", "manager", "marketer", "admin"}, True),
    ("PQL", "DISQUALIFIED"): (MoveKind.DISQUALIFY, {"rep", "manager", "marketer", "admin"}, True),
    ("SAL", "DISQUALIFIED"): (MoveKind.DISQUALIFY, {"rep", "manager", "marketer", "admin"}, True),
    ("SQL", "DISQUALIFIED"): (MoveKind.DISQUALIFY, {"rep", "manager", "marketer", "admin"}, True),
    ("DISQUALIFIED", "IQL"): (MoveKind.REOPEN, {"marketer", "admin"}, True),
}


@pytest.mark.parametrize(("frm", "to"), ALL_PAIRS)
@pytest.mark.parametrize("actor", list(Actor))
def test_every_pair_for_every_actor_matches_the_table(frm, to, actor):
    expected = EXPECTED.get((frm, to))
    reason = "because"
    if expected is None:
        with pytest.raises(lifecycle.IllegalMove):
            lifecycle.check_move(from_stage=frm, to_stage=to, actor=actor, reason=reason)
        return
    kind, actors, _ = expected
    if actor.value not in actors:
        with pytest.raises(lifecycle.MoveNotAllowed):
            lifecycle.check_move(from_stage=frm, to_stage=to, actor=actor, reason=reason)
        return
    assert (
        lifecycle.check_move(from_stage=frm, to_stage=to, actor=actor, reason=reason).kind == kind
    )


@pytest.mark.parametrize(("pair", "spec"), [(p, s) for p, s in EXPECTED.items() if s[2]])
def test_moves_that_need_a_reason_refuse_a_blank_one(pair, spec):
    actor = Actor(sorted(spec[1])[0])
    with pytest.raises(lifecycle.MoveNeedsReason):
        lifecycle.check_move(from_stage=pair[0], to_stage=pair[1], actor=actor, reason="  ")


def test_automatic_moves_only_go_forward():
    for (frm, to), move in lifecycle.MOVES.items():
        if Actor.SYSTEM in move.actors:
            assert lifecycle.is_forward(frm, to), (frm, to)


def test_nothing_leaves_customer():
    assert lifecycle.allowed_targets(from_stage="CUSTOMER", actor=Actor.ADMIN) == []
