"""Segment identify traits -> lead fields. Pure: no queries.

Reserved traits (https://segment.com/docs/connections/spec/identify/#traits) and their
snake_case forms fill the lead's own fields; everything else is kept as the lead's free-form
traits. The event row keeps the traits exactly as sent, so nothing is lost either way.
"""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models

from leads.models import Lead

_TEXT_TRAITS = {
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "title": "title",
    "phone": "phone",
    "company_name": "company_name",
    "companyName": "company_name",
    "country": "country",
}
_SIZE_TRAITS = ("company_size", "companySize")


def _max_length(name: str) -> int:
    field = Lead._meta.get_field(name)
    if not isinstance(field, models.CharField) or field.max_length is None:
        raise TypeError(f"Lead.{name} is not a text column with a maximum length.")
    return field.max_length


_MAX_LENGTH = {
    name: _max_length(name)
    for name in ("email", "first_name", "last_name", "title", "phone", "country", "company_name")
}
_MAX_SIZE = 2**31 - 1
UTM_FIELDS = {
    "source": "utm_source",
    "medium": "utm_medium",
    "name": "utm_campaign",
    "term": "utm_term",
    "content": "utm_content",
}


def _text(value) -> str | None:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _size(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= _MAX_SIZE:
        return value
    return None


def email_of(traits: dict) -> str | None:
    """The traits' email, normalised, when it is a valid address."""
    email = traits.get("email")
    if not isinstance(email, str):
        return None
    email = email.strip().lower()
    if len(email) > _MAX_LENGTH["email"]:
        return None
    try:
        validate_email(email)
    except ValidationError:
        return None
    return email


def split_traits(traits: dict) -> tuple[dict, dict]:
    """(lead field values, other traits). An unusable reserved value stays in the other traits."""
    fields: dict = {}
    extra = dict(traits)
    email = email_of(traits)
    if email:
        fields["email"] = email
        extra.pop("email")
    for key, name in _TEXT_TRAITS.items():
        value = _text(traits.get(key))
        if value is not None:
            fields[name] = value[: _MAX_LENGTH[name]]
            extra.pop(key)
    _take_name(traits, fields, extra)
    _take_company(traits, fields, extra)
    _take_country(traits, fields, extra)
    for key in _SIZE_TRAITS:
        size = _size(traits.get(key))
        if size is not None:
            fields["company_size"] = size
            extra.pop(key)
    return fields, extra


def _take_name(traits: dict, fields: dict, extra: dict) -> None:
    name = _text(traits.get("name"))
    if not name:
        return
    extra.pop("name")
    first, _, last = name.partition(" ")
    fields.setdefault("first_name", first[: _MAX_LENGTH["first_name"]])
    if last.strip():
        fields.setdefault("last_name", last.strip()[: _MAX_LENGTH["last_name"]])


def _take_company(traits: dict, fields: dict, extra: dict) -> None:
    company = traits.get("company")
    if isinstance(company, str) and company.strip():
        fields["company_name"] = company.strip()[: _MAX_LENGTH["company_name"]]
        extra.pop("company")
        return
    if not isinstance(company, dict):
        return
    rest = dict(company)
    name = _text(company.get("name"))
    if name:
        fields["company_name"] = name[: _MAX_LENGTH["company_name"]]
        rest.pop("name")
    size = _size(company.get("employee_count"))
    if size is not None:
        fields["company_size"] = size
        rest.pop("employee_count")
    if rest:
        extra["company"] = rest
    else:
        extra.pop("company")


def _take_country(traits: dict, fields: dict, extra: dict) -> None:
    address = traits.get("address")
    if not isinstance(address, dict):
        return
    country = _text(address.get("country"))
    if not country:
        return
    fields["country"] = country[: _MAX_LENGTH["country"]]
    rest = {key: value for key, value in address.items() if key != "country"}
    if rest:
        extra["address"] = rest
    else:
        extra.pop("address")


def utm_fields(context: dict) -> dict:
    """A new lead's utm_* fields from the first identify's context.campaign."""
    campaign = context.get("campaign")
    if not isinstance(campaign, dict):
        return {}
    found = {}
    for key, name in UTM_FIELDS.items():
        value = _text(campaign.get(key))
        if value:
            found[name] = value[:200]
    return found
