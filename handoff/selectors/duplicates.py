"""Leads that may be duplicates of a lead, and why each matched.

Three signals, compared on normalised values computed in SQL: the same email ignoring case
and a `+tag` (the case-insensitive unique index already forbids two leads with the same email
in different cases), the same phone number as digits (at least 7 of them), and the same company
domain with a similar company name (no pg_trgm: names are compared in Python, after dropping
case, punctuation and legal suffixes, by equality, prefix, or difflib's ratio).
"""

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from django.db.models import Case, F, Func, Q, Value, When
from django.db.models.functions import Lower, Trim

from accounts.models import User
from leads.models import Lead
from leads.selectors import lead_list

# Most candidates returned (the most recently updated first).
LIMIT = 50
# Fewer digits than this is not a phone number worth matching on.
MIN_PHONE_DIGITS = 7
# difflib's ratio from which two normalised company names count as similar.
NAME_SIMILARITY = 0.8

_LEGAL_SUFFIXES = frozenset(
    [
        "inc",
        "incorporated",
        "ltd",
        "limited",
        "llc",
        "llp",
        "gmbh",
        "ag",
        "kg",
        "sa",
        "sas",
        "sarl",
        "bv",
        "nv",
        "plc",
        "corp",
        "corporation",
        "co",
        "company",
        "group",
        "holding",
        "holdings",
        "the",
    ]
)


@dataclass
class Candidate:
    lead: Lead
    reasons: list[dict[str, str]] = field(default_factory=list)


def _regexp_replace(expression, pattern: str, replacement: str, flags: str = "") -> Func:
    args = [expression, Value(pattern), Value(replacement)] + ([Value(flags)] if flags else [])
    return Func(*args, function="regexp_replace")


def _email_key_sql():
    return _regexp_replace(Lower("email"), r"\+[^@]*@", "@")


def _phone_key_sql():
    return _regexp_replace(F("phone"), r"[^0-9]", "", "g")


def _domain_key_sql():
    return _regexp_replace(Lower(Trim("company_domain")), r"^(https?://)?(www\.)?|/+$", "", "g")


def email_key(email: str) -> str:
    return re.sub(r"\+[^@]*@", "@", email.lower(), count=1)


def phone_key(phone: str) -> str:
    return re.sub(r"[^0-9]", "", phone)


def domain_key(domain: str) -> str:
    return re.sub(r"^(https?://)?(www\.)?|/+$", "", domain.strip().lower())


def name_key(name: str) -> str:
    words = re.sub(r"[^\w\s]", " ", name.lower()).split()
    return " ".join(word for word in words if word not in _LEGAL_SUFFIXES)


def names_similar(first: str, second: str) -> bool:
    """Whether two company names look like the same company ("Acme, Inc." ~ "ACME")."""
    a, b = name_key(first), name_key(second)
    if not a or not b:
        return False
    if a == b or (min(len(a), len(b)) >= 3 and (a.startswith(b) or b.startswith(a))):
        return True
    return SequenceMatcher(None, a, b).ratio() >= NAME_SIMILARITY


def lead_duplicates(*, user: User, lead: Lead) -> list[Candidate]:
    """The leads `user` may see that look like duplicates of `lead`, with why; one query."""
    keys = {"email": email_key(lead.email)}
    strong = Q(email_key=keys["email"])
    if len(phone_key(lead.phone)) >= MIN_PHONE_DIGITS:
        keys["phone"] = phone_key(lead.phone)
        strong |= Q(phone_key=keys["phone"])
    wanted = strong
    if domain_key(lead.company_domain):
        keys["domain"] = domain_key(lead.company_domain)
        wanted = strong | Q(domain_key=keys["domain"])
    rows = (
        lead_list(user=user)
        .exclude(pk=lead.pk)
        .annotate(email_key=_email_key_sql(), phone_key=_phone_key_sql())
        .annotate(domain_key=_domain_key_sql())
        .filter(wanted)
        # Email and phone matches first: a busy domain must not crowd them out of the limit.
        .annotate(strong=Case(When(strong, then=Value(1)), default=Value(0)))
        .order_by("-strong", "-updated_at", "-id")
    )
    found = [_candidate(lead, row, keys) for row in rows[: LIMIT * 4]]
    return [c for c in found if c.reasons][:LIMIT]


def _candidate(lead: Lead, row: Any, keys: dict[str, str]) -> Candidate:
    """`row`: a Lead annotated with email_key, phone_key and domain_key."""
    candidate = Candidate(row)
    if row.email_key == keys["email"]:
        candidate.reasons.append(
            {"field": "email", "detail": f"Same email ignoring case and +tags: {row.email}"}
        )
    if row.phone_key == keys.get("phone"):
        candidate.reasons.append(
            {"field": "phone", "detail": f"Same phone number: {row.phone} ({row.phone_key})"}
        )
    if row.domain_key == keys.get("domain") and names_similar(lead.company_name, row.company_name):
        candidate.reasons.append(
            {
                "field": "company",
                "detail": f"Same company domain {row.domain_key} and a similar name: "
                f"{row.company_name!r} ~ {lead.company_name!r}",
            }
        )
    return candidate


# Candidates the lead's page shows (the strongest first).
SECTION_SHOWN = 10


def may_merge(*, user: User, keep: Lead, other: Lead) -> bool:
    """Whether the page offers `user` to merge `other` into `keep`: marketers, sales managers
    and admins merge any two leads, a rep two leads they own (handoff.services.merge decides)."""
    return user.sees_all_leads or (keep.owner_id == user.pk and other.owner_id == user.pk)


def duplicates_candidates(*, user: User, lead: Lead) -> list[dict[str, Any]]:
    """The lead's likely duplicates for its page, each with why it matched and whether the user
    may merge it into this lead (one query; the strongest first)."""
    return [
        {
            "lead": candidate.lead,
            "reasons": candidate.reasons,
            "may_merge": may_merge(user=user, keep=lead, other=candidate.lead),
        }
        for candidate in lead_duplicates(user=user, lead=lead)[:SECTION_SHOWN]
    ]


def duplicates_section(lead: Lead, user: User) -> dict[str, Any]:
    """The duplicates' place on the lead's page (a `core.hooks.lead_page_sections` receiver):
    no query here. Comparing a lead with every other one reads the whole table (half a second
    at 100,000 leads), so the page loads them afterwards (htmx, handoff.views.lead_duplicates),
    or, without JavaScript, links to them."""
    return {"template": "handoff/_duplicates_lazy.html", "context": {"lead": lead}}
