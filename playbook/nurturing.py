"""The default nurture sequences from the product brief's journey.

- Welcome series for new IQLs: a thank-you with the content they asked for at once, then
  helpful content after 2 and after 5 days, while they are still IQLs.
- MQL offer series: the offers the brief names for marketing-qualified leads (a case study, a
  product demo, a free consultation), until sales accepts the lead.
- Re-engagement series for leads that sales recycled back to nurture.

Links point at example.com: replace them with your own content (admin or API) before going live.
"""

from django.db import transaction
from django.utils import timezone

from leads.models import Stage
from nurturing.models import Sequence, StageEntry, Step, TriggerKind

DAY = 24 * 60

_SIGN_OFF = "\n\n{{ owner_name }}\n"
_HTML_SIGN_OFF = "<p>{{ owner_name }}</p>"


def _step(position, delay, subject, text, html, **conditions):
    return {
        "position": position,
        "delay_minutes": delay,
        "subject": subject,
        "body_text": text + _SIGN_OFF,
        "body_html": html + _HTML_SIGN_OFF,
        **conditions,
    }


SEQUENCES = [
    {
        "key": "welcome-iql",
        "name": "Welcome series (new IQLs)",
        "description": "Thank new leads, deliver what they asked for, then help for a week.",
        "trigger_kind": TriggerKind.STAGE,
        "trigger_stage": Stage.IQL,
        "exit_stages": [Stage.MQL, Stage.PQL],
        "steps": [
            _step(
                1,
                0,
                "Welcome, {{ first_name }}: here is your download",
                "Hi {{ first_name }},\n\nthanks for your interest. Your guide is here:\n"
                "https://example.com/guides/getting-started",
                "<p>Hi {{ first_name }},</p><p>thanks for your interest. "
                '<a href="https://example.com/guides/getting-started">Download your guide</a>.</p>',
            ),
            _step(
                2,
                2 * DAY,
                "{{ first_name }}, three ideas teams like {{ company }} start with",
                "Hi {{ first_name }},\n\nhere are three quick wins other teams started with:\n"
                "https://example.com/blog/three-quick-wins",
                "<p>Hi {{ first_name }},</p><p>here are "
                '<a href="https://example.com/blog/three-quick-wins">three quick wins</a> '
                "other teams started with.</p>",
            ),
            _step(
                3,
                3 * DAY,
                "The checklist we wish we had on day one",
                "Hi {{ first_name }},\n\nour most-read checklist, for {{ company }}:\n"
                "https://example.com/guides/checklist",
                "<p>Hi {{ first_name }},</p><p>our most-read "
                '<a href="https://example.com/guides/checklist">checklist</a>, '
                "for {{ company }}.</p>",
            ),
        ],
    },
    {
        "key": "mql-offer",
        "name": "Offer series (MQLs)",
        "description": "Case study, demo, consultation: the brief's offers for MQLs.",
        "trigger_kind": TriggerKind.STAGE,
        "trigger_stage": Stage.MQL,
        "trigger_stage_entry": StageEntry.NEW,
        "steps": [
            _step(
                1,
                60,
                "How a team like {{ company }} did it",
                "Hi {{ first_name }},\n\na short case study you may find useful:\n"
                "https://example.com/customers/case-study",
                "<p>Hi {{ first_name }},</p><p>a short "
                '<a href="https://example.com/customers/case-study">case study</a> '
                "you may find useful.</p>",
            ),
            _step(
                2,
                2 * DAY,
                "{{ first_name }}, want to see it with your own data?",
                "Hi {{ first_name }},\n\nbook a 20-minute product demo:\nhttps://example.com/demo",
                "<p>Hi {{ first_name }},</p><p>"
                '<a href="https://example.com/demo">Book a 20-minute product demo</a>.</p>',
                send_unless_event="Demo Requested",
            ),
            _step(
                3,
                3 * DAY,
                "A free consultation for {{ company }}",
                "Hi {{ first_name }},\n\nlet one of our specialists look at your setup, free:\n"
                "https://example.com/consultation",
                "<p>Hi {{ first_name }},</p><p>let one of our specialists look at your setup, "
                '<a href="https://example.com/consultation">free</a>.</p>',
                send_unless_event="Demo Requested",
            ),
        ],
    },
    {
        "key": "recycled-reengagement",
        "name": "Re-engagement series (recycled leads)",
        "description": "Stay helpful, without pressure, after sales handed the lead back.",
        "trigger_kind": TriggerKind.STAGE,
        "trigger_stage": Stage.MQL,
        "trigger_stage_entry": StageEntry.RECYCLED,
        "steps": [
            _step(
                1,
                7 * DAY,
                "What's new since we last talked, {{ first_name }}",
                "Hi {{ first_name }},\n\nhere is what changed recently:\n"
                "https://example.com/changelog",
                "<p>Hi {{ first_name }},</p><p>here is "
                '<a href="https://example.com/changelog">what changed recently</a>.</p>',
            ),
            _step(
                2,
                14 * DAY,
                "An idea for {{ company }}",
                "Hi {{ first_name }},\n\none idea teams in your position found useful:\n"
                "https://example.com/blog/ideas",
                "<p>Hi {{ first_name }},</p><p>"
                '<a href="https://example.com/blog/ideas">One idea</a> '
                "teams in your position found useful.</p>",
            ),
            _step(
                3,
                30 * DAY,
                "Should we stay in touch?",
                "Hi {{ first_name }},\n\nif now is not the time, no problem. When it is:\n"
                "https://example.com/contact",
                "<p>Hi {{ first_name }},</p><p>if now is not the time, no problem. When it is, "
                '<a href="https://example.com/contact">we are here</a>.</p>',
            ),
        ],
    },
]


@transaction.atomic
def playbook_load() -> int:
    """Create the default sequences if missing; idempotent. Returns how many were created."""
    created = 0
    for spec in SEQUENCES:
        spec = dict(spec)
        steps = spec.pop("steps")
        sequence, new = Sequence.objects.get_or_create(
            key=spec["key"], defaults={**spec, "activated_at": timezone.now()}
        )
        if not new:
            continue
        Step.objects.bulk_create(Step(sequence=sequence, **step) for step in steps)
        created += 1
    return created
