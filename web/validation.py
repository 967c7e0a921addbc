"""What a form may ask, and what a visitor may answer. Pure: no ORM.

A form's `fields` JSON is a list of {"name", "label", "required", "kind", "trait", "options"}:
`name` is a lead field (LEAD_FIELDS) or a custom field kept in the lead's traits under `trait`
(its name by default). Email is always asked, and always required.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email


@dataclass(frozen=True)
class LeadField:
    max_length: int
    autocomplete: str
    kind: str = "text"


LEAD_FIELDS = {
    "email": LeadField(254, "email", "email"),
    "first_name": LeadField(150, "given-name"),
    "last_name": LeadField(150, "family-name"),
    "company_name": LeadField(200, "organization"),
    "title": LeadField(200, "organization-title"),
    "phone": LeadField(50, "tel", "tel"),
    "country": LeadField(100, "country-name"),
}
# Names and titles must be words: a URL there is the mark of spam.
NO_URL_FIELDS = frozenset({"first_name", "last_name", "company_name", "title"})
KINDS = ("text", "email", "tel", "textarea", "select")
CUSTOM_MAX_LENGTH = {"textarea": 2000}
CUSTOM_DEFAULT_MAX_LENGTH = 500
MAX_FIELDS = 30
MAX_OPTIONS = 50
LABEL_MAX = 200

# The form's own inputs besides the fields: a custom field may not take their names.
CONSENT = "consent"
HONEYPOT = "leadcrm_hp"
TOKEN = "leadcrm_ts"
REFERRER = "referrer"
ANONYMOUS_ID = "anonymous_id"
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
RESERVED = frozenset({CONSENT, HONEYPOT, TOKEN, REFERRER, ANONYMOUS_ID, *UTM_KEYS})

_NAME = re.compile(r"[a-z][a-z0-9_]{0,49}")
# A scheme ("http://", "ftp://"), "www.", a domain followed by a path ("spam.biz/buy"), or a
# link tag. A bare domain is allowed: "Booking.com" is a company's name.
_URL = re.compile(r"[a-z][a-z0-9+.\-]*://|\bwww\.|\b[\w-]+(?:\.[\w-]+)+/|<\s*a\b", re.IGNORECASE)
_MULTILINE_OK = frozenset("\n\r\t")
# Unicode's control characters (category Cc: C0, DEL, C1) and surrogates (Cs), as one class: a
# regular expression answers in C what a loop over unicodedata.category did in Python, for
# every character of every answer and of the page's context (a test checks every code point).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    required: bool
    kind: str
    trait: str | None = None
    options: tuple[str, ...] = ()

    @property
    def max_length(self) -> int:
        if self.name in LEAD_FIELDS:
            return LEAD_FIELDS[self.name].max_length
        return CUSTOM_MAX_LENGTH.get(self.kind, CUSTOM_DEFAULT_MAX_LENGTH)

    @property
    def autocomplete(self) -> str:
        return LEAD_FIELDS[self.name].autocomplete if self.name in LEAD_FIELDS else "off"

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "required": self.required,
            "kind": self.kind,
        }
        if self.trait:
            data["trait"] = self.trait
        if self.options:
            data["options"] = list(self.options)
        return data


class InvalidFields(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


# --- A form's fields ---------------------------------------------------------------------------


def fields_parse(raw: Any) -> list[FieldSpec]:
    """The fields of a form from its JSON, email first when it was left out; InvalidFields
    names every problem ("fields[2].name: ...")."""
    if not isinstance(raw, list):
        raise InvalidFields(["fields: must be a list of fields."])
    if len(raw) > MAX_FIELDS:
        raise InvalidFields([f"fields: at most {MAX_FIELDS} fields."])
    problems: list[str] = []
    specs = [_field_parse(item, f"fields[{i}]", problems) for i, item in enumerate(raw)]
    parsed = [spec for spec in specs if spec is not None]
    names = [spec.name for spec in parsed]
    problems += [
        f"fields: {name!r} is asked twice." for name in sorted(set(names)) if names.count(name) > 1
    ]
    traits = [spec.trait for spec in parsed if spec.trait and names.count(spec.name) == 1]
    problems += [
        f"fields: trait {t!r} is used twice." for t in sorted(set(traits)) if traits.count(t) > 1
    ]
    if problems:
        raise InvalidFields(problems)
    if "email" not in names:
        parsed.insert(0, FieldSpec("email", "Email", True, "email"))
    return parsed


def _field_parse(item: Any, where: str, problems: list[str]) -> FieldSpec | None:
    if not isinstance(item, dict):
        problems.append(f"{where}: must be an object.")
        return None
    unknown = sorted(set(item) - {"name", "label", "required", "kind", "trait", "options"})
    if unknown:
        problems.append(f"{where}: unknown keys {', '.join(unknown)}.")
    name, label = item.get("name"), item.get("label")
    required, kind = item.get("required", name == "email"), item.get("kind")
    before = len(problems)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problems.append(f"{where}.name: lowercase letters, digits and _ (at most 50).")
    elif name in RESERVED or name.startswith("utm_"):
        problems.append(f"{where}.name: {name!r} is reserved.")
    if not isinstance(label, str) or not label.strip() or len(label) > LABEL_MAX:
        problems.append(f"{where}.label: a text of 1 to {LABEL_MAX} characters.")
    if not isinstance(required, bool):
        problems.append(f"{where}.required: true or false.")
    if len(problems) > before or not isinstance(name, str):
        return None
    lead_field = LEAD_FIELDS.get(name)
    kind = kind if kind is not None else (lead_field.kind if lead_field else "text")
    if kind not in KINDS:
        problems.append(f"{where}.kind: one of {', '.join(KINDS)}.")
        return None
    if name == "email" and (not required or kind != "email"):
        problems.append(f"{where}: email is always required, of kind email.")
        return None
    trait = _trait(item, name, lead_field, where, problems)
    options = _options(item, kind, where, problems)
    if len(problems) > before:
        return None
    return FieldSpec(name, str(label).strip(), required, kind, trait, options)


def _trait(item, name, lead_field, where, problems) -> str | None:
    trait = item.get("trait")
    if lead_field is not None:
        if trait is not None:
            problems.append(f"{where}.trait: {name} is a lead field, not a trait.")
        return None
    trait = name if trait is None else trait
    if not isinstance(trait, str) or not _NAME.fullmatch(trait):
        problems.append(f"{where}.trait: lowercase letters, digits and _ (at most 50).")
        return None
    return trait


def _options(item, kind, where, problems) -> tuple[str, ...]:
    options = item.get("options")
    if kind != "select":
        if options is not None:
            problems.append(f"{where}.options: only a select has options.")
        return ()
    valid = (
        isinstance(options, list)
        and 0 < len(options) <= MAX_OPTIONS
        and all(isinstance(o, str) and o.strip() and len(o) <= LABEL_MAX for o in options)
    )
    if not valid or len(set(options)) != len(options):
        problems.append(f"{where}.options: 1 to {MAX_OPTIONS} different texts.")
        return ()
    return tuple(options)


# --- A visitor's answers -------------------------------------------------------------------------


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    """Whether `value` holds a control character or a surrogate (a tab or a line break is
    allowed in a multi-line answer)."""
    return (_CONTROL_MULTILINE if multiline else _CONTROL).search(value) is not None


def holds_url(value: str) -> bool:
    return bool(_URL.search(value))


def values_clean(
    specs: list[FieldSpec], raw: Mapping[str, str], *, consent: bool
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(clean values by field name, errors by field name) of a visitor's answers."""
    values: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for spec in specs:
        given = raw.get(spec.name) or ""
        value = given.strip()
        if has_control_characters(given, multiline=spec.kind == "textarea"):
            problem: str | None = "Remove the control characters."
        else:
            problem = _value_problem(spec, value)
        if problem:
            errors[spec.name] = [problem]
        elif value:
            values[spec.name] = value.lower() if spec.name == "email" else value
    if not consent:
        errors[CONSENT] = ["Tick the box to agree, so that we may send you what you asked for."]
    return values, errors


def _value_problem(spec: FieldSpec, value: str) -> str | None:
    if not value:
        return "This field is required." if spec.required else None
    if len(value) > spec.max_length:
        return f"At most {spec.max_length} characters."
    if spec.name in NO_URL_FIELDS and holds_url(value):
        return "Links are not allowed here."
    if spec.kind == "email":
        try:
            validate_email(value)
        except ValidationError:
            return "Enter a valid email address."
    if spec.kind == "select" and value not in spec.options:
        return "Choose one of the options."
    return None


def context_clean(value: str, max_length: int) -> str:
    """A value the page sent about itself (UTM, referrer, anonymous id): control characters
    dropped, cut to the column's length. It is not the visitor's answer: never refused."""
    return _CONTROL.sub("", value).strip()[:max_length]
