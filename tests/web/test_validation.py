"""What a form may ask and what a visitor may answer (web/validation.py: pure, no database)."""

import pytest

from web.validation import (
    FieldSpec,
    InvalidFields,
    fields_parse,
    has_control_characters,
    holds_url,
    values_clean,
)

SPECS = [
    FieldSpec("email", "Email", True, "email"),
    FieldSpec("first_name", "First name", True, "text"),
    FieldSpec("last_name", "Last name", False, "text"),
    FieldSpec("company_name", "Company", False, "text"),
    FieldSpec("title", "Title", False, "text"),
    FieldSpec("phone", "Phone", False, "tel"),
    FieldSpec("notes", "Notes", False, "textarea", trait="notes"),
    FieldSpec("size", "Size", False, "select", trait="size", options=("1-10", "11-50")),
]


def clean(consent=True, **raw):
    return values_clean(
        SPECS, {"email": "ada@example.com", "first_name": "Ada", **raw}, consent=consent
    )


def test_email_is_asked_first_when_a_form_leaves_it_out():
    specs = fields_parse([{"name": "first_name", "label": "First name"}])

    assert [(s.name, s.required, s.kind) for s in specs] == [
        ("email", True, "email"),
        ("first_name", False, "text"),
    ]


def test_custom_fields_go_to_a_trait_named_after_them_unless_told():
    specs = fields_parse(
        [
            {"name": "team_size", "label": "Team size", "kind": "select", "options": ["1", "2"]},
            {"name": "role", "label": "Role", "trait": "job_role"},
        ]
    )

    assert [(s.name, s.trait) for s in specs[1:]] == [
        ("team_size", "team_size"),
        ("role", "job_role"),
    ]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ("email", "fields: must be a list of fields."),
        (
            [{"name": "email", "label": "Email", "required": False}],
            "fields[0]: email is always required, of kind email.",
        ),
        (
            [{"name": "Email", "label": "Email"}],
            "fields[0].name: lowercase letters, digits and _ (at most 50).",
        ),
        ([{"name": "consent", "label": "x"}], "fields[0].name: 'consent' is reserved."),
        ([{"name": "utm_foo", "label": "x"}], "fields[0].name: 'utm_foo' is reserved."),
        ([{"name": "leadcrm_hp", "label": "x"}], "fields[0].name: 'leadcrm_hp' is reserved."),
        ([{"name": "a", "label": ""}], "fields[0].label: a text of 1 to 200 characters."),
        ([{"name": "a", "label": "x" * 201}], "fields[0].label: a text of 1 to 200 characters."),
        (
            [{"name": "a", "label": "A", "kind": "file"}],
            "fields[0].kind: one of text, email, tel, textarea, select.",
        ),
        (
            [{"name": "a", "label": "A", "kind": "select"}],
            "fields[0].options: 1 to 50 different texts.",
        ),
        (
            [{"name": "a", "label": "A", "options": ["x"]}],
            "fields[0].options: only a select has options.",
        ),
        (
            [{"name": "title", "label": "T", "trait": "t"}],
            "fields[0].trait: title is a lead field, not a trait.",
        ),
        ([{"name": "a", "label": "A", "colour": "red"}], "fields[0]: unknown keys colour."),
        ([{"name": "a", "label": "A"}, {"name": "a", "label": "B"}], "fields: 'a' is asked twice."),
        ([{"name": "a", "label": "A", "required": "yes"}], "fields[0].required: true or false."),
    ],
)
def test_a_form_with_bad_fields_is_refused_with_the_reason(fields, problem):
    with pytest.raises(InvalidFields) as refused:
        fields_parse(fields)

    assert refused.value.problems == [problem]


def test_at_most_30_fields():
    fields = [{"name": f"f{i}", "label": f"F{i}"} for i in range(30)]

    assert len(fields_parse(fields)) == 31  # and email
    with pytest.raises(InvalidFields):
        fields_parse([*fields, {"name": "f30", "label": "F30"}])


def test_good_answers_are_cleaned_and_the_email_lowercased():
    values, errors = clean(email=" Ada@Example.COM ", last_name="  Lovelace ", size="11-50")

    assert errors == {}
    assert values == {
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "size": "11-50",
    }


@pytest.mark.parametrize(
    "value",
    [
        "http://spam.example",
        "Visit https://spam.example now",
        "ftp://files.example",
        "www.spam.example",
        "spam.biz/buy",
        '<a href="x">cheap</a>',
    ],
)
@pytest.mark.parametrize("field", ["first_name", "last_name", "company_name", "title"])
def test_a_url_in_a_name_or_title_is_refused(field, value):
    values, errors = clean(**{field: value})

    assert errors == {field: ["Links are not allowed here."]}
    assert field not in values


@pytest.mark.parametrize("value", ["Booking.com", "Dr. J.R. Smith", "O'Brien & Sons", "3.5 GmbH"])
def test_names_with_dots_are_not_urls(value):
    _, errors = clean(company_name=value, last_name=value)

    assert errors == {}


@pytest.mark.parametrize("char", ["\x00", "\x07", "\n", "\t", "\x1b", "\x7f", "\x85"])
def test_control_characters_are_refused_in_one_line_fields(char):
    _, errors = clean(first_name=f"Ada{char}", phone=f"1{char}2")

    assert errors == {
        "first_name": ["Remove the control characters."],
        "phone": ["Remove the control characters."],
    }


def test_a_textarea_keeps_its_lines_but_not_other_control_characters():
    values, errors = clean(notes="line one\r\nline two\tend")
    assert (values["notes"], errors) == ("line one\r\nline two\tend", {})

    _, errors = clean(notes="bell\x07")
    assert errors == {"notes": ["Remove the control characters."]}


def test_length_limits_are_the_lead_columns():
    _, errors = clean(first_name="a" * 150, title="t" * 200, notes="n" * 2000)
    assert errors == {}

    _, errors = clean(first_name="a" * 151, title="t" * 201, notes="n" * 2001)
    assert errors == {
        "first_name": ["At most 150 characters."],
        "title": ["At most 200 characters."],
        "notes": ["At most 2000 characters."],
    }


def test_required_email_select_and_consent_are_checked_per_field():
    values, errors = values_clean(
        SPECS, {"email": "not-an-email", "first_name": " ", "size": "500+"}, consent=False
    )

    assert errors == {
        "email": ["Enter a valid email address."],
        "first_name": ["This field is required."],
        "size": ["Choose one of the options."],
        "consent": ["Tick the box to agree, so that we may send you what you asked for."],
    }
    assert values == {}


def test_helpers():
    assert holds_url("see http://x") and not holds_url("Ada Lovelace")
    assert has_control_characters("a\nb") and not has_control_characters("a\nb", multiline=True)


def test_control_characters_are_unicodes_cc_and_cs_on_every_code_point():
    """The check is one regular expression; it must say what unicodedata says (category Cc or
    Cs, a tab or line break allowed in a multi-line answer) for every code point."""
    import unicodedata

    from web.validation import context_clean

    for code in range(0x110000):
        c = chr(code)
        control = unicodedata.category(c) in ("Cc", "Cs")
        assert has_control_characters(c) is control, hex(code)
        assert has_control_characters(c, multiline=True) is (control and c not in "\n\r\t"), hex(
            code
        )
    assert context_clean(" utm\x00_source\x85\ud800 ", 200) == "utm_source"
    assert context_clean("campaign", 4) == "camp"
