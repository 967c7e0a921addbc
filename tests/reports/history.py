"""A hand-built stage history for the reports' tests: every figure the funnel and the sources
report give for it is worked out by hand in the tests.

Period: March and April 2026 (from=2026-03-01, to=2026-04-30: [START, END) in UTC). Days are
counted from START; each lead's moves are (stage, day) after its "" -> first-stage row.

    A  day 0 (START: in)  paid_search "spring"  IQL 0 > MQL 2 > SAL 5 > SQL 9 > CUSTOMER 19
    B  day 1              paid_search "spring"  IQL 1 > PQL 2 > SAL 4 > SQL 6 > MQL 10 (recycled)
    C  day 3              social                IQL 3 > MQL 4 > PQL 6 > SAL 7 > DISQUALIFIED 8
    D  day 10             social "fall"         IQL 10 > MQL 16 > MQL 17 (rejected: back to nurture)
    J  day 12             referral              MQL 12 (created at MQL: no IQL) > SAL 14
    E  day 31 (April)     organic_search        IQL 31 > DISQUALIFIED 33
    F  day 40             paid_search "summer", owned by the rep: IQL 40 > MQL 70 (after the period)
    G  END - 1 µs: in     event                 IQL
    H  END: out           paid_search "spring"  IQL > MQL, and a rejection
    I  START - 1 µs: out  paid_search           IQL
"""

from datetime import UTC, datetime, timedelta

from handoff.models import Rejection
from leads.models import Lead, Stage, StageChange
from tests.factories import LeadFactory

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 5, 1, tzinfo=UTC)
PERIOD = {"from": "2026-03-01", "to": "2026-04-30"}
TICK = timedelta(microseconds=1)


def day(number: float) -> datetime:
    return START + timedelta(days=number)


def make_lead(name, created, first, moves, *, source, campaign="", owner=None) -> Lead:
    lead = LeadFactory(
        email=f"{name.lower()}@example.com",
        first_name=name,
        stage=first,
        stage_entered_at=created,
        source=source,
        utm_campaign=campaign,
        owner=owner,
    )
    previous = first
    for stage, at in moves:
        StageChange.objects.create(lead=lead, from_stage=previous, to_stage=stage, changed_at=at)
        previous = stage
    Lead.objects.filter(pk=lead.pk).update(created_at=created, stage=previous)
    return lead


def reject(lead: Lead, rep, at: datetime) -> None:
    Rejection.objects.create(
        lead=lead, rep=rep, reason="no_budget", source=lead.source, stage=Stage.MQL, rejected_at=at
    )


def build(rep) -> dict[str, Lead]:
    S = Stage
    leads = {
        "A": make_lead(
            "A",
            START,
            S.IQL,
            [(S.MQL, day(2)), (S.SAL, day(5)), (S.SQL, day(9)), (S.CUSTOMER, day(19))],
            source="paid_search",
            campaign="spring",
        ),
        "B": make_lead(
            "B",
            day(1),
            S.IQL,
            [(S.PQL, day(2)), (S.SAL, day(4)), (S.SQL, day(6)), (S.MQL, day(10))],
            source="paid_search",
            campaign="spring",
        ),
        "C": make_lead(
            "C",
            day(3),
            S.IQL,
            [(S.MQL, day(4)), (S.PQL, day(6)), (S.SAL, day(7)), (S.DISQUALIFIED, day(8))],
            source="social",
        ),
        "D": make_lead(
            "D",
            day(10),
            S.IQL,
            [(S.MQL, day(16)), (S.MQL, day(17))],
            source="social",
            campaign="fall",
        ),
        "J": make_lead("J", day(12), S.MQL, [(S.SAL, day(14))], source="referral"),
        "E": make_lead("E", day(31), S.IQL, [(S.DISQUALIFIED, day(33))], source="organic_search"),
        "F": make_lead(
            "F",
            day(40),
            S.IQL,
            [(S.MQL, day(70))],
            source="paid_search",
            campaign="summer",
            owner=rep,
        ),
        "G": make_lead("G", END - TICK, S.IQL, [], source="event"),
        "H": make_lead(
            "H",
            END,
            S.IQL,
            [(S.MQL, END + timedelta(days=1))],
            source="paid_search",
            campaign="spring",
        ),
        "I": make_lead("I", START - TICK, S.IQL, [], source="paid_search"),
    }
    reject(leads["D"], rep, day(17))
    reject(leads["H"], rep, END + timedelta(days=2))
    return leads
