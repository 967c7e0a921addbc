"""nurturing.selectors: the review list is for marketers and admins; a sequence's figures."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Forbidden
from leads.models import Stage, StageChange
from nurturing import selectors
from nurturing.models import Enrollment, Message, MessageStatus
from tests.factories import LeadFactory
from tests.nurturing.conftest import make_sequence

pytestmark = pytest.mark.django_db


def message(status: str, *, key: str, **lead_fields) -> Message:
    lead = LeadFactory(**lead_fields)
    sequence = make_sequence(key=key)
    now = timezone.now()
    enrollment = Enrollment.objects.create(
        lead=lead, sequence=sequence, trigger="manual", enrolled_at=now
    )
    return Message.objects.create(
        enrollment=enrollment,
        step=sequence.steps.get(),
        lead=lead,
        status=status,
        to_email=lead.email,
        due_at=now,
        created_at=now,
    )


def test_rep_may_not_list_emails_in_review_even_of_their_own_leads(rep):
    message(MessageStatus.UNKNOWN, key="own", owner=rep, stage="SAL")

    with pytest.raises(Forbidden) as caught:
        selectors.message_review_list(user=rep)

    assert (caught.value.status_code, caught.value.detail.code) == (403, "permission_denied")
    assert str(caught.value.detail) == "Only marketers and admins review emails."


@pytest.mark.parametrize("who", ["marketer", "admin_user"])
def test_marketers_and_admins_list_the_emails_in_review(request, who):
    unknown = message(MessageStatus.UNKNOWN, key="unknown")
    message(MessageStatus.SENT, key="sent")

    rows = selectors.message_review_list(user=request.getfixturevalue(who))

    assert [row.pk for row in rows] == [unknown.pk]


# --- sequence_figures -------------------------------------------------------------------------


def sent(step, lead, *, at, status=MessageStatus.SENT, **fields) -> Message:
    enrollment, _ = Enrollment.objects.get_or_create(
        lead=lead, sequence=step.sequence, defaults={"trigger": "manual", "enrolled_at": at}
    )
    return Message.objects.create(
        enrollment=enrollment,
        step=step,
        lead=lead,
        status=status,
        to_email=lead.email,
        due_at=at,
        created_at=at,
        sent_at=at if status in selectors._SENT else None,
        **fields,
    )


def entered(lead, stage: str, at) -> None:
    StageChange.objects.create(lead=lead, from_stage=Stage.IQL, to_stage=stage, changed_at=at)


def went_on(sequence) -> list[tuple[int, int]]:
    figures = selectors.sequence_figures(sequence=sequence)
    return [(row["to_mql"], row["to_sql"]) for row in figures["steps"]]


@pytest.mark.parametrize(
    ("after", "counted"),
    [
        (timedelta(0), False),  # at the instant it was sent: not after it
        (timedelta(microseconds=1), True),
        (timedelta(days=30), True),  # the 30th day's last instant
        (timedelta(days=30, microseconds=1), False),
        (-timedelta(microseconds=1), False),
    ],
)
@pytest.mark.parametrize("stage", [Stage.MQL, Stage.SQL])
def test_a_stage_counts_when_entered_strictly_after_the_email_and_within_30_days(
    stage, after, counted
):
    sequence = make_sequence(key="bounds")
    lead = LeadFactory()
    at = timezone.now() - timedelta(days=40)
    sent(sequence.steps.get(), lead, at=at)
    entered(lead, stage, at + after)

    expected = (int(counted), 0) if stage == Stage.MQL else (0, int(counted))
    assert went_on(sequence) == [expected]


def test_figures_of_a_hand_built_sequence_are_exact():
    sequence, other = make_sequence(key="hand", steps=3), make_sequence(key="other")
    first, second, third = sequence.steps.order_by("position")
    at = timezone.now() - timedelta(days=60)
    a, b, c, d, e = (LeadFactory() for _ in range(5))
    # a: sent, opened and clicked; entered MQL twice in the window (one email), then SQL.
    sent(first, a, at=at, opened_at=at, clicked_at=at)
    entered(a, Stage.MQL, at + timedelta(days=1))
    entered(a, Stage.MQL, at + timedelta(days=2))
    entered(a, Stage.SQL, at + timedelta(days=3))
    # a's second email, two and a half days later: the MQL entries before it, the SQL one after.
    sent(second, a, at=at + timedelta(days=2, hours=12))
    # b: bounced (sent, not delivered), then MQL: counted; SAL is not MQL / SQL.
    sent(first, b, at=at, status=MessageStatus.BOUNCED)
    entered(b, Stage.MQL, at + timedelta(days=29))
    entered(b, Stage.SAL, at + timedelta(days=29, hours=1))
    # c: in review (maybe sent), unsubscribed; d: skipped then MQL: not sent, not counted.
    sent(first, c, at=at, status=MessageStatus.UNKNOWN, opened_at=at, unsubscribed_at=at)
    entered(c, Stage.SQL, at + timedelta(days=31))
    sent(first, d, at=at, status=MessageStatus.SKIPPED)
    entered(d, Stage.MQL, at + timedelta(days=1))
    for status in (MessageStatus.CANCELLED, MessageStatus.FAILED, MessageStatus.QUEUED):
        sent(second, LeadFactory(), at=at, status=status)
    # e: another sequence's email, then MQL: not this sequence's.
    sent(other.steps.get(), e, at=at)
    entered(e, Stage.MQL, at + timedelta(days=1))
    Enrollment.objects.filter(lead=b).update(status="completed")
    Enrollment.objects.filter(lead=c).update(status="exited")

    figures = selectors.sequence_figures(sequence=sequence)

    rows = [[row[key] for key in selectors.FIGURE_KEYS] for row in figures["steps"]]
    assert [row["step"] for row in figures["steps"]] == [first, second, third]
    # reached, sent, delivered, opened, clicked, unsubscribed, bounced, -> MQL, -> SQL
    assert rows == [
        [4, 3, 2, 2, 1, 1, 1, 2, 1],
        [4, 1, 1, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
    assert [figures["totals"][key] for key in selectors.FIGURE_KEYS] == [
        8, 4, 3, 2, 1, 1, 1, 2, 2,
    ]  # fmt: skip
    assert (figures["enrolled"], figures["active"], figures["completed"]) == (7, 5, 1)


def test_figures_of_a_sequence_without_emails_are_zeros():
    sequence = make_sequence(key="empty", steps=2)

    figures = selectors.sequence_figures(sequence=sequence)

    assert [row["step"].position for row in figures["steps"]] == [1, 2]
    assert all(row[key] == 0 for row in figures["steps"] for key in selectors.FIGURE_KEYS)
    assert set(figures["totals"].values()) == {0}
    assert (figures["enrolled"], figures["active"], figures["completed"]) == (0, 0, 0)


def test_overview_counts_each_sequences_emails_and_enrollments():
    one, two = make_sequence(key="one", steps=2), make_sequence(key="two")
    make_sequence(key="three", steps=0)
    first, second = one.steps.order_by("position")
    at = timezone.now() - timedelta(days=3)
    a, b, c = (LeadFactory() for _ in range(3))
    sent(first, a, at=at, opened_at=at, clicked_at=at)
    sent(second, a, at=at, status=MessageStatus.BOUNCED)
    sent(first, b, at=at, status=MessageStatus.UNKNOWN, opened_at=at)
    sent(first, c, at=at, status=MessageStatus.SKIPPED)
    sent(two.steps.get(), c, at=at, status=MessageStatus.CANCELLED)

    rows = selectors.sequences_overview()

    assert [
        (r["sequence"].key, r["sequence"].enrolled, r["sequence"].step_count, r["sent"])
        for r in rows
    ] == [("one", 3, 2, 3), ("three", 0, 0, 0), ("two", 1, 1, 0)]
    assert [(r["opened"], r["clicked"]) for r in rows] == [(2, 1), (0, 0), (0, 0)]
