"""Segment identify traits -> lead fields (pure)."""

from events.traits import split_traits, utm_fields


def test_reserved_camel_case_traits_fill_lead_fields():
    fields, extra = split_traits(
        {
            "email": " Ann@Example.COM ",
            "firstName": "Ann",
            "lastName": "Lee",
            "title": "VP Marketing",
            "phone": "+1 555",
            "company": {"name": "Acme", "employee_count": 120, "industry": "Tools"},
            "address": {"country": "France", "city": "Lyon"},
            "plan": "pro",
        }
    )

    assert fields == {
        "email": "ann@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "title": "VP Marketing",
        "phone": "+1 555",
        "company_name": "Acme",
        "company_size": 120,
        "country": "France",
    }
    assert extra == {"company": {"industry": "Tools"}, "address": {"city": "Lyon"}, "plan": "pro"}


def test_snake_case_forms_fill_the_same_fields():
    fields, extra = split_traits(
        {"first_name": "Bo", "last_name": "Ng", "company_size": "75", "company_name": "Beta"}
    )

    assert fields == {
        "first_name": "Bo",
        "last_name": "Ng",
        "company_size": 75,
        "company_name": "Beta",
    }
    assert extra == {}


def test_name_is_split_when_first_and_last_are_not_given():
    assert split_traits({"name": "Ada King Lovelace"})[0] == {
        "first_name": "Ada",
        "last_name": "King Lovelace",
    }
    assert split_traits({"name": "Ada Lovelace", "firstName": "Augusta"})[0] == {
        "first_name": "Augusta",
        "last_name": "Lovelace",
    }


def test_unusable_values_stay_in_free_form_traits():
    fields, extra = split_traits({"email": "not-an-email", "company_size": "lots", "title": None})

    assert fields == {}
    assert extra == {"email": "not-an-email", "company_size": "lots", "title": None}


def test_long_values_are_cut_to_the_field_length():
    fields, _ = split_traits({"phone": "9" * 80})

    assert fields == {"phone": "9" * 50}


def test_utm_fields_come_from_context_campaign():
    context = {"campaign": {"name": "spring", "source": "google", "medium": "cpc", "x": 1}}

    assert utm_fields(context) == {
        "utm_campaign": "spring",
        "utm_source": "google",
        "utm_medium": "cpc",
    }
    assert utm_fields({}) == {}
