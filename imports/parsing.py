"""Reading an uploaded CSV: pure functions, no database.

Encoding: a byte-order mark decides (UTF-8, UTF-16); else UTF-16 without one is recognised by
its zero bytes; else the first of UTF-8, Windows-1252 and Latin-1 that decodes the whole file
(Latin-1 decodes anything, so it is the last resort). An ordered try rather than a statistical
guesser: the same file always gets the same answer, and the user corrects nothing here.
Delimiter: `csv.Sniffer` over the first lines, checked against the header, else the most
frequent of , ; TAB | in the header. The first row is always the header.
"""

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, validate_email

DELIMITERS = ",;\t|"
SAMPLE_CHARS = 64 * 1024

# Signatures of the files people upload instead of a CSV, and what to call them.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx file is one: save it as CSV)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel or Word file (save it as CSV)"),
    (b"\x1f\x8b", "a gzip archive"),
)


class NotCsv(ValueError):
    """The bytes are not a CSV we can read; the message says why, for the uploader."""

    def __init__(self, message: str, code: str = "not_csv") -> None:
        super().__init__(message)
        self.code = code


# --- encoding, binary files, delimiter --------------------------------------------------------


def binary_kind(data: bytes) -> str | None:
    """What the file is when it is a known binary format, else None."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    head = data[:4096]
    if len(head) < 4:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    half = len(head) // 2
    # ASCII-range text in UTF-16: every other byte is zero.
    if odd > half * 0.4 and even == 0:
        return "utf-16-le"
    if even > half * 0.4 and odd == 0:
        return "utf-16-be"
    return None


def detect_encoding(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(data)
    if utf16:
        return utf16
    for encoding in ("utf-8", "cp1252"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"


def _control_ratio(text: str) -> float:
    sample = text[:SAMPLE_CHARS]
    if not sample:
        return 0.0
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\r\n\f")
    return controls / len(sample)


def decode(data: bytes, encoding: str) -> str:
    """The file's text; NotCsv when it is binary (a NUL, or many control characters)."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise NotCsv(f"The file is not valid {encoding}.") from exc
    if "\x00" in text or _control_ratio(text) > 0.01:
        raise NotCsv("The file is not a CSV: it holds binary data.")
    return text


def head_text(text: str) -> str:
    sample = text[:SAMPLE_CHARS]
    if len(text) > SAMPLE_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    return sample


def detect_delimiter(text: str) -> str:
    sample = head_text(text)
    first_line = sample.splitlines()[0] if sample else ""
    counts = {d: first_line.count(d) for d in DELIMITERS}
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    # The sniffer sometimes picks a character of the data; trust it only if the header agrees.
    if sniffed in DELIMITERS and counts.get(sniffed):
        return sniffed
    best = max(DELIMITERS, key=lambda d: counts[d])  # on a tie, the first in DELIMITERS
    return best if counts[best] else ","


# --- rows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    line: int  # the line of the file the record starts on (the header is line 1)
    values: list[str]


def records(text: str, delimiter: str) -> Iterator[Record]:
    """Every non-blank record after the header, with the line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    last_line = 0
    for number, values in enumerate(reader):
        start, last_line = last_line + 1, reader.line_num
        if number == 0 or not any(value.strip() for value in values):
            continue
        yield Record(line=start, values=values)


def header(text: str, delimiter: str) -> list[str]:
    reader = csv.reader(io.StringIO(head_text(text) or text, newline=""), delimiter=delimiter)
    try:
        first = next(reader)
    except (StopIteration, csv.Error):
        first = []
    headers = [value.strip() for value in first]
    if not any(headers):
        raise NotCsv("The file is empty: it needs a header row and rows of leads.", "empty_file")
    return headers


def count_records(text: str, delimiter: str) -> int:
    try:
        return sum(1 for _ in records(text, delimiter))
    except csv.Error as exc:
        raise NotCsv(f"The file is not a readable CSV: {exc}.") from exc


# --- mapping ----------------------------------------------------------------------------------

# Where a column can go, in the order the mapping form lists them.
FIELD_TARGETS = (
    ("email", "Email"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("title", "Job title"),
    ("phone", "Phone"),
    ("country", "Country"),
    ("company_name", "Company"),
    ("company_domain", "Company domain"),
    ("company_size", "Company size"),
    ("utm_source", "UTM source"),
    ("utm_medium", "UTM medium"),
    ("utm_campaign", "UTM campaign"),
    ("utm_term", "UTM term"),
    ("utm_content", "UTM content"),
)
TRAIT = "trait"
IGNORE = ""
TARGETS = (*FIELD_TARGETS, (TRAIT, "Custom trait"), (IGNORE, "Ignore"))
TARGET_NAMES = frozenset(name for name, _ in TARGETS)

_SYNONYMS = {
    "email": ("email", "e mail", "mail", "email address", "e mail address", "work email"),
    "first_name": ("first name", "firstname", "given name", "forename", "first"),
    "last_name": ("last name", "lastname", "surname", "family name", "last"),
    "title": ("title", "job title", "jobtitle", "position", "job"),
    "phone": ("phone", "phone number", "telephone", "tel", "mobile"),
    "country": ("country", "country name"),
    "company_name": ("company", "company name", "organization", "organisation", "account"),
    "company_domain": ("domain", "company domain", "website"),
    "company_size": ("company size", "employees", "size", "headcount", "number of employees"),
    "utm_source": ("utm source",),
    "utm_medium": ("utm medium",),
    "utm_campaign": ("utm campaign",),
    "utm_term": ("utm term",),
    "utm_content": ("utm content",),
}
_BY_NAME = {synonym: field for field, names in _SYNONYMS.items() for synonym in names}


def _words(header_text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", header_text.lower()).split())


@lru_cache(maxsize=1024)
def trait_key(header_text: str) -> str:
    """A custom column's trait name: its header in lower case, words joined by _."""
    return _words(header_text).replace(" ", "_") or "column"


def guess_mapping(headers: list[str]) -> list[str]:
    """One target per column, from its header; each Lead field at most once (the first
    column wins), anything else a custom trait, a blank header ignored."""
    taken: set[str] = set()
    mapping = []
    for text in headers:
        field = _BY_NAME.get(_words(text))
        if field and field not in taken:
            taken.add(field)
            mapping.append(field)
        else:
            mapping.append(TRAIT if _words(text) else IGNORE)
    return mapping


class MappingInvalid(ValueError):
    pass


def mapping_check(mapping: list[str], headers: list[str]) -> list[str]:
    """The mapping as given, checked: a known target per column, one email column, no Lead
    field twice."""
    if len(mapping) != len(headers):
        raise MappingInvalid(f"The mapping needs one target per column ({len(headers)}).")
    unknown = sorted({t for t in mapping if t not in TARGET_NAMES})
    if unknown:
        raise MappingInvalid(f"Unknown targets: {', '.join(unknown)}.")
    fields = [t for t in mapping if t not in (TRAIT, IGNORE)]
    twice = sorted({t for t in fields if fields.count(t) > 1})
    if twice:
        raise MappingInvalid(f"More than one column goes to: {', '.join(twice)}.")
    if "email" not in fields:
        raise MappingInvalid("No column is mapped to the email: the import matches leads by it.")
    return mapping


def mapping_from_names(named: dict[str, Any], headers: list[str]) -> list[str]:
    """An API mapping {header: target} over the guessed one (columns not named keep it)."""
    unknown = sorted(set(named) - set(headers))
    if unknown:
        raise MappingInvalid(f"No such column in the file: {', '.join(unknown)}.")
    guessed = guess_mapping(headers)
    return [
        str(named[text]) if text in named and named[text] is not None else guessed[i]
        for i, text in enumerate(headers)
    ]


# --- one row ----------------------------------------------------------------------------------

_MAX_LENGTHS = {
    "email": 254,
    "first_name": 150,
    "last_name": 150,
    "title": 200,
    "phone": 50,
    "country": 100,
    "company_name": 200,
    "company_domain": 253,
    "utm_source": 200,
    "utm_medium": 200,
    "utm_campaign": 200,
    "utm_term": 200,
    "utm_content": 200,
}
_SIZE_MAX = 2_147_483_647


class RowInvalid(ValueError):
    pass


@lru_cache(maxsize=65536)
def _domain_valid(domain: str) -> bool:
    try:
        validate_email(f"a@{domain}")
    except ValidationError:
        return False
    return True


def email_valid(email: str) -> bool:
    """Django's email validation, the domain's half remembered: a file's rows share a few
    thousand domains, and checking one was most of the time a row took."""
    user, at, domain = email.rpartition("@")
    if not at or not user or len(email) > 320:
        return False
    return bool(EmailValidator.user_regex.match(user)) and _domain_valid(domain)


def _company_size(value: str) -> int:
    digits = value.replace(",", "").replace(" ", "").replace("_", "")
    if not digits.isdigit() or int(digits) > _SIZE_MAX:
        raise RowInvalid(f"Company size is not a whole number: {value!r}.")
    return int(digits)


def row_values(values: list[str], headers: list[str], mapping: list[str]) -> dict[str, Any]:
    """The lead's values from one row: `email` (lower case), the non-empty fields, and
    `traits` (non-empty custom columns). RowInvalid says what is wrong with the row."""
    if len(values) > len(headers):
        raise RowInvalid(f"The row has {len(values)} values; the header has {len(headers)}.")
    fields: dict[str, Any] = {}
    traits: dict[str, str] = {}
    for index, value in enumerate(values):
        target, value = mapping[index], value.strip()
        if not value or target == IGNORE:
            continue
        if target == TRAIT:
            traits[trait_key(headers[index])] = value
        elif target == "company_size":
            fields[target] = _company_size(value)
        elif len(value) > _MAX_LENGTHS[target]:
            raise RowInvalid(f"{target} is longer than {_MAX_LENGTHS[target]} characters.")
        else:
            fields[target] = value
    email = str(fields.pop("email", "")).lower()
    if not email:
        raise RowInvalid("No email.")
    if not email_valid(email):
        raise RowInvalid(f"Not a valid email address: {email!r}.")
    return {"email": email, **fields, "traits": traits}
