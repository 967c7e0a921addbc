"""The nurture part of the bench data (`manage.py seed_bench`): a few sequences with their steps,
enrollments of the seeded leads and the emails those steps sent, by INSERT ... SELECT.

Every lead enrolls in the big welcome sequence one minute after its creation (as a stage
trigger on IQL would enroll it), so its emails fall where its stage history starts and a
share of them is followed by an MQL or SQL entry within 30 days; two small sequences take a
few leads each. Each step is reached by its share of the enrollments (per mille), and only
once its time has come: an enrollment that has had every step is completed, one whose next
step is still ahead is active, the others left. An email is sent, bounced, left in review
(unknown), skipped or cancelled by weight; delivered ones are opened, clicked and
unsubscribed from at believable rates.
"""

from dataclasses import dataclass
from datetime import datetime

from leads.models import Stage
from nurturing.models import EnrollmentStatus, MessageStatus, Sequence, Step, TriggerKind


@dataclass(frozen=True)
class SequencePlan:
    key: str
    name: str
    per_mille: int  # of the seeded leads, enrolled
    steps: tuple[tuple[int, int], ...]  # (days after the enrollment, per mille reaching it)


BIG_KEY = "bench-welcome"
SEQUENCES = (
    SequencePlan(
        BIG_KEY, "Bench welcome", 1000, ((0, 1000), (3, 460), (7, 210), (14, 110), (21, 90))
    ),
    SequencePlan("bench-reengage", "Bench re-engagement", 30, ((0, 1000), (5, 600), (12, 300))),
    SequencePlan("bench-product", "Bench product tips", 10, ((0, 1000), (2, 700))),
)

# (status, weight per mille) of an email whose time has come.
STATUSES = (
    (MessageStatus.SENT, 940),
    (MessageStatus.BOUNCED, 30),
    (MessageStatus.UNKNOWN, 5),
    (MessageStatus.SKIPPED, 20),
    (MessageStatus.CANCELLED, 5),
)
assert sum(weight for _, weight in STATUSES) == 1000
OPENED, CLICKED, UNSUBSCRIBED = 0.30, 0.06, 0.006  # of the delivered emails


def seed_nurture(cursor, *, now: datetime, first_lead: int, leads: int) -> int:
    """The sequences of SEQUENCES over the leads first_lead .. first_lead + leads - 1;
    returns the number of emails made."""
    made = 0
    for plan in SEQUENCES:
        sequence = _sequence_create(plan, now)
        made += _sequence_fill(cursor, plan, sequence, now, first_lead, leads)
    cursor.execute("DROP TABLE IF EXISTS bench_enrol, bench_step")
    return made


def _sequence_create(plan: SequencePlan, now: datetime) -> Sequence:
    """The plan's sequence and steps; a database seeded before (--force) keeps its own."""
    found = Sequence.objects.filter(key=plan.key).first()
    if found is not None:
        return found
    sequence = Sequence.objects.create(
        key=plan.key,
        name=plan.name,
        trigger_kind=TriggerKind.STAGE,
        trigger_stage=Stage.IQL,
        activated_at=now,  # nothing before the seed is picked up by the trigger
    )
    Step.objects.bulk_create(
        Step(
            sequence=sequence,
            position=position,
            delay_minutes=days * 24 * 60,
            subject=f"{plan.name} {position}",
            body_text=f"Hello {{{{ first_name }}}}, this is {plan.name.lower()}, email {position}.",
        )
        for position, (days, _) in enumerate(plan.steps, start=1)
    )
    return sequence


def _sequence_fill(cursor, plan, sequence, now, first_lead, leads) -> int:
    cursor.execute("DROP TABLE IF EXISTS bench_enrol, bench_step")
    steps = sequence.steps.order_by("position")
    values = ", ".join(
        f"({step.pk}, {step.position}, {days}, {share}, '{step.subject}')"
        for step, (days, share) in zip(steps, plan.steps, strict=True)
    )
    cursor.execute(
        "CREATE TEMP TABLE bench_step (id bigint, position int, days int, share int, "
        f"subject text); INSERT INTO bench_step VALUES {values}"
    )
    params = {
        "now": now,
        "first": first_lead,
        "last": first_lead + leads - 1,
        "per_mille": plan.per_mille,
        "sequence": sequence.pk,
        "steps": len(plan.steps),
    }
    cursor.execute(_ENROL_SQL, params)
    cursor.execute(_ENROLLMENTS_SQL, params)
    # Without statistics of the tables just filled, the planner joins them as if empty: a
    # nested loop over 100,000 x 100,000 rows.
    cursor.execute("ANALYZE bench_enrol, bench_step, nurturing_enrollment")
    cursor.execute(_MESSAGES_SQL.format(status=_status_case()), params)
    return cursor.rowcount


def _status_case() -> str:
    parts, low = [], 0
    for status, weight in STATUSES:
        low += weight
        parts.append(f"WHEN u < {low / 1000} THEN '{status}'")
    return f"CASE {' '.join(parts)} END"


# One row an enrolled lead: how many steps it reaches (by their shares) and how many are due.
_ENROL_SQL = """
CREATE TEMP TABLE bench_enrol AS
SELECT e.*,
    (SELECT count(*) FROM bench_step AS s WHERE s.share > e.pick) AS reached,
    (SELECT count(*) FROM bench_step AS s
        WHERE e.enrolled_at + interval '1 day' * s.days < %(now)s) AS due
FROM (
    SELECT l.id AS lead_id, l.email, l.created_at + interval '1 minute' AS enrolled_at,
        floor(random() * 1000)::int AS pick
    FROM leads_lead AS l
    WHERE l.id BETWEEN %(first)s AND %(last)s AND random() * 1000 < %(per_mille)s
) AS e
"""

_ENROLLMENTS_SQL = f"""
INSERT INTO nurturing_enrollment (lead_id, sequence_id, status, trigger, last_position,
    next_due_at, enrolled_at, enrolled_by_id, ended_at, exit_reason)
SELECT b.lead_id, %(sequence)s, x.status, '{TriggerKind.STAGE}', least(b.reached, b.due),
    CASE WHEN x.status = '{EnrollmentStatus.ACTIVE}' THEN
        b.enrolled_at + interval '1 day' * (SELECT days FROM bench_step WHERE position = b.due + 1)
    END,
    b.enrolled_at, NULL,
    CASE WHEN x.status <> '{EnrollmentStatus.ACTIVE}' THEN least(%(now)s,
        b.enrolled_at + interval '1 day' * (1 + (SELECT days FROM bench_step
            WHERE position = greatest(1, b.reached))))
    END,
    CASE WHEN x.status = '{EnrollmentStatus.EXITED}' THEN 'bench: left the sequence' ELSE '' END
FROM bench_enrol AS b
CROSS JOIN LATERAL (
    SELECT CASE WHEN b.reached = %(steps)s AND b.due = %(steps)s THEN '{EnrollmentStatus.COMPLETED}'
        WHEN b.reached > b.due THEN '{EnrollmentStatus.ACTIVE}'
        ELSE '{EnrollmentStatus.EXITED}' END AS status
) AS x
ORDER BY b.lead_id
"""

# The emails of each enrollment's steps that were reached and due, in the order they were sent.
_MESSAGES_SQL = f"""
INSERT INTO nurturing_message (enrollment_id, step_id, lead_id, status, to_email, subject,
    due_at, created_at, enqueued_at, claim_token, claimed_at, attempts, sent_at,
    message_id_header, opened_at, clicked_at, unsubscribed_at, detail)
SELECT enrollment_id, step_id, lead_id, status, email, subject, due, due, due, NULL,
    CASE WHEN sent_at IS NOT NULL THEN due + interval '2 seconds' END,
    CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END, sent_at,
    CASE WHEN sent_at IS NOT NULL THEN '<bench-' || enrollment_id || '-' || step_id
        || '@bench.example>' ELSE '' END,
    CASE WHEN delivered AND o < {OPENED} THEN least(%(now)s, sent_at + h * interval '2 days') END,
    CASE WHEN delivered AND o < {CLICKED}
        THEN least(%(now)s, sent_at + h * interval '2 days' + interval '3 minutes') END,
    CASE WHEN delivered AND c < {UNSUBSCRIBED}
        THEN least(%(now)s, sent_at + h * interval '3 days') END,
    CASE status WHEN '{MessageStatus.SKIPPED}' THEN 'bench: the step said no'
        WHEN '{MessageStatus.CANCELLED}' THEN 'bench: do not contact'
        WHEN '{MessageStatus.BOUNCED}' THEN '550 bench: no such user' ELSE '' END
FROM (
    SELECT r.*,
        CASE WHEN status IN ('{MessageStatus.SENT}', '{MessageStatus.UNKNOWN}',
            '{MessageStatus.BOUNCED}') THEN due + interval '5 seconds' END AS sent_at,
        status IN ('{MessageStatus.SENT}', '{MessageStatus.UNKNOWN}') AS delivered
    FROM (
        SELECT q.*, {{status}} AS status
        FROM (
            SELECT e.id AS enrollment_id, s.id AS step_id, b.lead_id, b.email, s.subject,
                least(%(now)s - interval '1 minute',
                    b.enrolled_at + interval '1 day' * s.days + random() * interval '1 hour')
                    AS due,
                random() AS u, random() AS o, random() AS c, random() AS h
            FROM bench_enrol AS b
            JOIN nurturing_enrollment AS e ON e.lead_id = b.lead_id
                AND e.sequence_id = %(sequence)s
            JOIN bench_step AS s ON s.position <= least(b.reached, b.due)
            ORDER BY e.id, s.position
        ) AS q
    ) AS r
) AS m
"""
