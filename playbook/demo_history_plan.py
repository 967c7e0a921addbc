"""The plan of the demo's six months of lead history: who came from where, and what each lead
went through. Pure (no ORM): `plan(now=...)` is the same list for the same `now` and seed.

Conversion and timing follow a small B2B funnel: about 30% of leads reach MQL (score over the
threshold) and some start a product trial (PQL); half the handed-off leads are accepted (SAL)
within days, the rest rejected back to nurture or disqualified; 40% of accepted leads qualify
(SQL) and 30% of those are won. Sales returns lost and not-ready leads to nurture (a recycle),
and a few nurtured leads come back and are recycled a second time. A step whose time lies in
the future has not happened: the lead waits in its stage, as a live funnel does.

Each lead also gets the activity that explains its path (events.Event rows: page views of
Pricing before an MQL, a product burst before a PQL, a demo request before a hand-off), so that
scoring the events with the default playbook gives the scores a marketer would expect, without
ever moving a lead past the stage its history says (see `_budget`).
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from leads.models import SourceChannel, Stage

SEED = 12
LEADS = 2000
DAYS = 182
MARKER = "hist-"  # external_id prefix of the history's leads: a second run finds them
MQL_RULE = "scoring: MQL threshold 50"
PQL_RULE = "scoring: PQL: 2× Project Created within 14 days and 20× Task Created within 14 days"
# Open SAL/SQL leads of the history a rep may hold: the reps' capacities (25, 25, 15) count them,
# and routing still needs room for the demo's own waiting leads.
OPEN_CAP = {"rep1": 5, "rep2": 5, "rep3": 11}
NURTURE_REASONS = ("bad_timing", "no_budget", "no_response")
REJECT_LABELS = {
    "bad_timing": "Bad timing",
    "no_budget": "No budget",
    "no_response": "No response",
    "not_a_fit": "Not a fit",
}

D, H, M = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


@dataclass(frozen=True)
class Channel:
    source: str
    weight: int
    mql: float  # IQL -> MQL by score
    trial: float  # IQL -> PQL by product use
    utm: tuple[tuple[str, str, str], ...]  # (utm_source, utm_medium, utm_campaign) choices


CHANNELS = (
    Channel(
        SourceChannel.ORGANIC_SEARCH,
        22,
        0.27,
        0.07,
        (("google", "organic", ""), ("bing", "organic", "")),
    ),
    Channel(
        SourceChannel.PAID_SEARCH,
        16,
        0.30,
        0.04,
        (
            ("google", "cpc", "brand-search"),
            ("google", "cpc", "lead-scoring-keywords"),
            ("bing", "cpc", "competitor-switch"),
        ),
    ),
    Channel(
        SourceChannel.SOCIAL,
        12,
        0.16,
        0.03,
        (("linkedin", "paid-social", "q3-launch"), ("twitter", "social", "funnel-threads")),
    ),
    Channel(
        SourceChannel.REFERRAL, 7, 0.45, 0.06, (("customer", "referral", "customer-referral"),)
    ),
    Channel(
        SourceChannel.GUEST_BLOG, 6, 0.24, 0.02, (("saasweekly", "blog", "guest-post-funnels"),)
    ),
    Channel(
        SourceChannel.LEAD_MAGNET,
        13,
        0.30,
        0.02,
        (("website", "ebook", "ebook-lead-scoring"), ("website", "template", "template-pack")),
    ),
    Channel(
        SourceChannel.DIRECT_OUTREACH, 6, 0.22, 0.0, (("outbound", "email", "outbound-fintech"),)
    ),
    Channel(SourceChannel.PARTNER, 5, 0.40, 0.03, (("agency", "partner", "partner-program"),)),
    Channel(
        SourceChannel.EVENT,
        6,
        0.35,
        0.0,
        (("saastr", "event", "saastr-booth"), ("website", "webinar", "webinar-funnel-metrics")),
    ),
    Channel(SourceChannel.IMPORT, 4, 0.12, 0.0, (("list", "import", "trade-show-list"),)),
    Channel(SourceChannel.OTHER, 3, 0.15, 0.02, (("", "", ""),)),
)

FIRST_NAMES = (  # noqa: SIM905 (a word list reads better as text)
    "Ada Aiden Alba Amir Ana Ben Bianca Carlos Chen Chloe Dana Daniel Elena Emil Eva Farah "
    "Felix Grace Hugo Ines Isaac Jana Jonas Julia Kai Kenji Lara Leo Lina Lucas Maja Marco "
    "Maria Mateo Mia Nadia Nina Noah Olga Omar Paula Pedro Priya Rafael Rosa Sami Sara Theo "
    "Vera Yara Zoe"
).split()
LAST_NAMES = (  # noqa: SIM905 (a word list reads better as text)
    "Adams Alvarez Bauer Becker Brooks Chen Costa Dubois Eriksen Fischer Garcia Hansen "
    "Hoffmann Ito Jansen Kaur Keller Kim Kowalski Lang Larsen Lopez Meyer Moreau Nakamura "
    "Novak Okafor Olsen Patel Perez Rossi Santos Schmidt Silva Singh Smith Suzuki Tanaka "
    "Vogel Wagner Weber Wong Young Zimmer"
).split()
COMPANY_WORDS = (  # noqa: SIM905 (a word list reads better as text)
    "Alder Amber Apex Arbor Aurora Beacon Birch Bright Cedar Cobalt Copper Crest Delta Ember "
    "Falcon Fern Granite Harbor Helix Indigo Juniper Keystone Lumen Maple Meridian Nimbus "
    "Northstar Onyx Orbit Pine Quartz Redwood Sable Sierra Summit Tidal Vertex Willow Zephyr"
).split()
COMPANY_KINDS = (  # noqa: SIM905 (a word list reads better as text)
    "Labs Analytics Logistics Health Systems Foods Media Robotics Capital Software Energy "
    "Retail Studio Cloud Bank"
).split()
# (title, weight): the senior ones earn the playbook's fit points.
TITLES = (
    ("Marketing Manager", 12),
    ("Head of Growth", 6),
    ("VP Marketing", 5),
    ("Sales Director", 4),
    ("Founder", 5),
    ("Chief Revenue Officer", 2),
    ("Operations Manager", 8),
    ("Software Engineer", 9),
    ("Product Manager", 8),
    ("Data Analyst", 7),
    ("Director of IT", 3),
    ("Office Manager", 4),
    ("Consultant", 5),
    ("Student", 2),
)
SENIOR = ("VP", "Head", "Director", "Chief", "Founder")
COUNTRIES = (
    ("United States", 30),
    ("United Kingdom", 12),
    ("Germany", 10),
    ("Austria", 2),
    ("Switzerland", 2),
    ("France", 7),
    ("Netherlands", 5),
    ("Spain", 5),
    ("Canada", 6),
    ("Australia", 5),
    ("Brazil", 4),
    ("India", 6),
    ("Japan", 3),
    ("Sweden", 3),
)
SIZES = (3, 8, 15, 25, 40, 60, 90, 150, 250, 400, 700, 1200, 3000)
SIZE_WEIGHTS = (6, 10, 12, 12, 10, 10, 9, 8, 7, 5, 4, 4, 3)

# Points of the default playbook's rules (playbook/scoring.py) for the events planned here.
POINTS = {
    "Pricing": 10,
    "Ebook Downloaded": 10,
    "Newsletter Subscribed": 10,
    "Webinar Attended": 15,
    "Demo Requested": 30,
    "Email Opened": 2,
    "Email Link Clicked": 5,
}
MQL_THRESHOLD = 50


@dataclass(frozen=True)
class Step:
    to: str
    delay: timedelta
    by: str | None = None
    rule: str = ""
    reason: str = ""
    rejected: str = ""  # a rep turned an assigned MQL lead down: the RejectReason


@dataclass
class Change:
    from_stage: str
    to_stage: str
    at: datetime
    by: str | None = None  # a demo username; None: the system (scoring, ingestion)
    rule: str = ""
    reason: str = ""


@dataclass
class Rejection:
    """A rep turned down an assigned MQL lead (back to nurture): the hand-off's rows."""

    rep: str
    assigned_at: datetime
    rejected_at: datetime
    reason: str


@dataclass
class PlannedLead:
    index: int
    first_name: str
    last_name: str
    email: str
    company_name: str
    company_domain: str
    title: str
    company_size: int
    country: str
    source: str
    utm: tuple[str, str, str]
    created_at: datetime
    changes: list[Change] = field(default_factory=list)
    owner: str | None = None
    recycle_count: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    events: list[tuple[str, str, datetime]] = field(default_factory=list)  # (type, name, at)

    @property
    def stage(self) -> str:
        return self.changes[-1].to_stage

    @property
    def external_id(self) -> str:
        return f"{MARKER}{self.index}"

    @property
    def fit(self) -> int:
        senior = any(word in self.title for word in SENIOR)
        return 15 * senior + 10 * (self.company_size >= 50)


def plan(*, now: datetime, count: int = LEADS, seed: int = SEED) -> list[PlannedLead]:
    rng = random.Random(seed)
    emails: set[str] = set()
    leads = []
    for index in range(count):
        lead = _person(rng, index, now, emails)
        channel = next(c for c in CHANNELS if c.source == lead.source)
        _walk(rng, lead, channel, now)
        leads.append(lead)
    _balance(leads)
    for lead in leads:
        _activity(rng, lead, now)
    return leads


def _person(rng: random.Random, index: int, now: datetime, emails: set[str]) -> PlannedLead:
    channel = rng.choices(CHANNELS, weights=[c.weight for c in CHANNELS])[0]
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}"
    domain = company.replace(" ", "").lower() + ".example"
    email = f"{first}.{last}@{domain}".lower()
    number = 2
    while email in emails:
        email = f"{first}.{last}{number}@{domain}".lower()
        number += 1
    emails.add(email)
    # More leads lately (the marketing grows): skewed towards now. Relative to `now` only, so
    # the plan (who reaches what, who waits) is the same whenever the demo is set up.
    created = now - 10 * M - DAYS * D * rng.random() ** 1.3
    return PlannedLead(
        index=index,
        first_name=first,
        last_name=last,
        email=email,
        company_name=company,
        company_domain=domain,
        title=rng.choices([t for t, _ in TITLES], weights=[w for _, w in TITLES])[0],
        company_size=rng.choices(SIZES, weights=SIZE_WEIGHTS)[0],
        country=rng.choices([c for c, _ in COUNTRIES], weights=[w for _, w in COUNTRIES])[0],
        source=channel.source,
        utm=rng.choice(channel.utm),
        created_at=created,
    )


def _days(rng: random.Random, low: float, high: float) -> timedelta:
    """A delay between `low` and `high` days, most of them early (skewed like real waits)."""
    return (low + (high - low) * rng.random() ** 2) * D


_RECYCLE: dict[str, str] = {
    Stage.SAL: "Not ready to buy this quarter; back to nurture",
    Stage.SQL: "Lost to a competitor; nurture for the renewal",
}
_DQ: dict[str, str] = {
    Stage.IQL: "Not a business: student or job seeker",
    Stage.SAL: "No budget and no project",
    Stage.SQL: "Lost: no decision, project cancelled",
}


def _next(rng: random.Random, lead: PlannedLead, channel: Channel) -> Step | None:
    """The lead's next step from its stage, or None: it stays."""
    stage, owner, r = lead.stage, lead.owner, rng.random()
    entered_from = lead.changes[-1].from_stage
    if stage == Stage.IQL:
        if r < channel.trial:
            return Step(Stage.PQL, _days(rng, 1, 12), None, PQL_RULE, "PQL conditions met.")
        if r < channel.trial + channel.mql:
            return Step(Stage.MQL, _days(rng, 0.5, 40), None, MQL_RULE, "Score reached 50.")
        if r < channel.trial + channel.mql + 0.05:
            return Step(Stage.DISQUALIFIED, _days(rng, 1, 10), "marketer", "", _DQ[stage])
        return None
    if stage == Stage.PQL or (stage == Stage.MQL and entered_from == Stage.IQL):
        return _decision(rng, lead)  # newly qualified: routed to a rep
    if stage == Stage.MQL:  # in nurture, after a rejection or a recycle
        if lead.recycle_count < 2 and r < 0.08:
            return Step(Stage.PQL, _days(rng, 5, 40), None, PQL_RULE, "PQL conditions met.")
        if lead.recycle_count < 2 and r < 0.16:
            reason = "Re-engaged after the nurture emails"
            return Step(Stage.SAL, _days(rng, 15, 60), _rep(rng, lead), "", reason)
        return None
    if stage == Stage.SAL:
        if r < 0.4:
            return Step(Stage.SQL, _days(rng, 1, 10), owner, "", "Discovery checklist answered")
        if r < 0.75:
            return Step(Stage.MQL, _days(rng, 3, 15), owner, "", _RECYCLE[stage])
        return Step(Stage.DISQUALIFIED, _days(rng, 2, 10), owner, "", _DQ[stage])
    if stage == Stage.SQL:
        if r < 0.3:
            return Step(Stage.CUSTOMER, _days(rng, 5, 30), owner, "", "Contract signed")
        if r < 0.7:
            return Step(Stage.MQL, _days(rng, 7, 30), owner, "", _RECYCLE[stage])
        return Step(Stage.DISQUALIFIED, _days(rng, 7, 30), owner, "", _DQ[stage])
    return None  # customers and disqualified leads stay


def _decision(rng: random.Random, lead: PlannedLead) -> Step:
    """Routing assigns a new MQL/PQL lead at once; the rep accepts or rejects it within minutes
    to a few days (rejected: back to nurture, or disqualified when not a fit)."""
    rep, r = _rep(rng, lead), rng.random()
    delay = (0.3 + 71.7 * rng.random() ** 3) * H
    accept = 0.6 if lead.stage == Stage.PQL else 0.5
    if r < accept:
        return Step(Stage.SAL, delay, rep, "", "Accepted")
    code = "not_a_fit" if r > 0.88 else rng.choice(NURTURE_REASONS)
    to = Stage.DISQUALIFIED if code == "not_a_fit" else Stage.MQL
    return Step(to, delay, rep, "", f"Rejected: {REJECT_LABELS[code]}", code)


def _rep(rng: random.Random, lead: PlannedLead) -> str:
    """The rep routing would pick (playbook.demo_handoff_routing's rules, rep4 away)."""
    if lead.country in ("Germany", "Austria", "Switzerland"):
        return rng.choice(("rep1", "rep2"))
    if lead.company_size >= 500:
        return rng.choice(("rep3", "rep1"))
    if lead.stage == Stage.PQL:
        return rng.choice(("rep2", "rep3"))
    return rng.choice(("rep1", "rep2"))


def _walk(rng: random.Random, lead: PlannedLead, channel: Channel, now: datetime) -> None:
    """The lead's stage history up to `now`, the rows lead_create and the services write."""
    creator = "marketer" if lead.source in (SourceChannel.IMPORT, SourceChannel.EVENT) else None
    lead.changes.append(Change("", Stage.IQL, lead.created_at, creator, "", "created"))
    while (step := _next(rng, lead, channel)) is not None:
        at = lead.changes[-1].at + step.delay
        if at >= now - M:
            return  # not happened yet: the lead waits where it is
        frm, to = lead.stage, step.to
        if step.rejected:  # routing assigned the lead a minute after it entered its stage
            rep = step.by or "rep1"
            lead.rejections.append(Rejection(rep, lead.changes[-1].at + M, at, step.rejected))
        lead.changes.append(Change(frm, to, at, step.by, step.rule, step.reason))
        if to == Stage.MQL and frm != Stage.IQL:
            lead.recycle_count += 1
            lead.owner = None
        elif to == Stage.SAL:
            lead.owner = step.by


def _balance(leads: list[PlannedLead]) -> None:
    """Keep each rep's open SAL/SQL leads from the history under OPEN_CAP, so that routing still
    has room for the demo's waiting leads: the excess goes to the rep with the fewest."""
    open_leads = [lead for lead in leads if lead.stage in (Stage.SAL, Stage.SQL)]
    load = {rep: 0 for rep in OPEN_CAP}
    for lead in sorted(open_leads, key=lambda lead: lead.changes[-1].at):
        rep = lead.owner or "rep1"
        if load[rep] >= OPEN_CAP[rep]:
            rep = min(OPEN_CAP, key=lambda r: load[r] - OPEN_CAP[r])
            _reown(lead, rep)
        load[rep] += 1


def _reown(lead: PlannedLead, rep: str) -> None:
    """Give the lead's current ownership (from its last acceptance on) to `rep`."""
    accepted = max(i for i, c in enumerate(lead.changes) if c.to_stage == Stage.SAL)
    for change in lead.changes[accepted:]:
        change.by = rep
    lead.owner = rep


# --- activity: the events that explain each lead's path ------------------------------------

FILLER_PAGES = ("Home", "Blog", "Features", "Integrations", "Customers")
# What a lead does on its way to MQL, in the order tried until the score reaches the threshold.
MQL_MENU = (
    ("page", "Pricing"),
    ("track", "Webinar Attended"),
    ("page", "Pricing"),
    ("track", "Newsletter Subscribed"),
    ("track", "Email Link Clicked"),
    ("page", "Pricing"),
    ("track", "Ebook Downloaded"),
)


def _activity(rng: random.Random, lead: PlannedLead, now: datetime) -> None:
    events = lead.events
    first = lead.created_at + M
    if lead.source == SourceChannel.LEAD_MAGNET:
        events.append(("track", "Ebook Downloaded", first))
    else:
        page = "Blog" if lead.source in (SourceChannel.GUEST_BLOG, "organic_search") else "Home"
        events.append(("page", page, first))
    until = lead.changes[1].at if len(lead.changes) > 1 else now - M
    for _ in range(rng.randrange(1, 5)):
        events.append(("page", rng.choice(FILLER_PAGES), _between(rng, first, until)))
    for previous, change in zip(lead.changes, lead.changes[1:], strict=False):
        _before(rng, lead, previous.at, change)
        if change.to_stage == Stage.MQL and change.from_stage != Stage.IQL:
            _nurture(rng, lead, change.at, _next_at(lead, change, now))
        if change.to_stage == Stage.CUSTOMER:
            for _ in range(rng.randrange(2, 6)):
                events.append(("track", "Feature Used", _between(rng, change.at, now - M)))
    if lead.stage == Stage.IQL:
        _iql_extra(rng, lead, now)


def _before(rng: random.Random, lead: PlannedLead, start: datetime, change: Change) -> None:
    """The activity right before a move: the points of an MQL, the burst of a PQL, the demo
    request of a hand-off."""
    end = change.at - M
    if change.rule == MQL_RULE:
        for kind, name in MQL_MENU:
            if _points(lead) >= MQL_THRESHOLD - lead.fit:
                break
            lead.events.append((kind, name, _between(rng, start, end)))
    elif change.rule == PQL_RULE:
        begin = max(start + M, end - _days(rng, 1, 9))
        names = ["Project Created"] * rng.randrange(2, 5) + ["Task Created"] * rng.randrange(20, 31)
        for name in names:
            lead.events.append(("track", name, _between(rng, begin, end)))
        lead.events.append(("track", "Task Created", end))
    elif change.to_stage == Stage.SAL and rng.random() < 0.5:
        lead.events.append(("page", "Pricing", _between(rng, start, end)))
        lead.events.append(("track", "Demo Requested", end))


def _nurture(rng: random.Random, lead: PlannedLead, start: datetime, end: datetime) -> None:
    for _ in range(rng.randrange(1, 4)):
        lead.events.append(("track", "Email Opened", _between(rng, start, end)))
    if rng.random() < 0.3:
        lead.events.append(("track", "Email Link Clicked", _between(rng, start, end)))


def _iql_extra(rng: random.Random, lead: PlannedLead, now: datetime) -> None:
    """Some interest, but never enough for the MQL threshold: scoring must not move a lead the
    history leaves at IQL (49 points at most, whichever of its rows have expired)."""
    budget = MQL_THRESHOLD - 1 - lead.fit - _points(lead)
    start, end = lead.created_at + M, min(lead.created_at + _days(rng, 1, 30), now - M)
    if budget >= 10 and rng.random() < 0.35:
        lead.events.append(("page", "Pricing", _between(rng, start, end)))
        budget -= 10
    for _ in range(min(rng.randrange(0, 4), budget // 2)):
        lead.events.append(("track", "Email Opened", _between(rng, start, end)))


def _points(lead: PlannedLead) -> int:
    pricing = sum(1 for _, name, _ in lead.events if name == "Pricing")
    other = sum(POINTS.get(name, 0) for _, name, _ in lead.events if name != "Pricing")
    return other + 10 * min(pricing, 3)  # the pricing rule counts three views at most


def _next_at(lead: PlannedLead, change: Change, now: datetime) -> datetime:
    later = [c.at for c in lead.changes if c.at > change.at]
    return later[0] - M if later else now - M


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    if end <= start:
        return start
    return start + (end - start) * rng.random()
