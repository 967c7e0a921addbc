"""Reading an upload without a database: encodings, delimiters, binary files, the mapping guess,
one row's values."""

import codecs

import pytest

from imports import parsing


def read(data: bytes) -> tuple[str, str, list[str]]:
    encoding = parsing.detect_encoding(data)
    text = parsing.decode(data, encoding)
    delimiter = parsing.detect_delimiter(text)
    return encoding, delimiter, parsing.header(text, delimiter)


TEXT = "Email,Name\r\nzoë@example.com,Zoë Müller\r\n"


@pytest.mark.parametrize(
    "data, encoding",
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),  # with its BOM
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        ((TEXT + "x,€ 5\r\n").encode("cp1252"), "cp1252"),
        # 0x81 is no character in Windows-1252: only Latin-1 reads it.
        (b"Email,Name\r\na@example.com,caf\xe9\x81\r\n", "latin-1"),
    ],
)
def test_encoding_is_detected(data, encoding):
    found, delimiter, headers = read(data)

    assert (found, delimiter, headers) == (encoding, ",", ["Email", "Name"])
    assert (
        parsing.decode(data, found)
        .splitlines()[1]
        .startswith("zoë@example.com" if encoding != "latin-1" else "a@example.com")
    )


def test_a_bom_is_not_part_of_the_first_header():
    data = codecs.BOM_UTF8 + b"email;first name\n"

    assert read(data) == ("utf-8-sig", ";", ["email", "first name"])


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_detected(delimiter):
    lines = [["email", "company", "notes"], ["a@example.com", "Acme", "x"], ["b@x.org", "B", "y"]]
    text = "\n".join(delimiter.join(line) for line in lines) + "\n"

    assert parsing.detect_delimiter(text) == delimiter


def test_delimiter_inside_quoted_values_does_not_fool_it():
    text = 'email;company;notes\na@example.com;"Acme, Inc.";"a, b, c"\nb@x.org;B;"d, e"\n'

    assert parsing.detect_delimiter(text) == ";"


def test_single_column_file_reads_as_commas():
    assert parsing.detect_delimiter("email\na@example.com\nb@example.com\n") == ","


@pytest.mark.parametrize(
    "data, kind",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
        (
            b"PK\x03\x04\x14\x00\x06\x00",
            "a ZIP archive (an Excel .xlsx file is one: save it as CSV)",
        ),
        (b"%PDF-1.7\n", "a PDF document"),
    ],
)
def test_known_binary_formats_are_named(data, kind):
    assert parsing.binary_kind(data) == kind


def test_binary_data_is_not_csv():
    data = b"email,name\n" + bytes(range(1, 32)) * 20

    with pytest.raises(parsing.NotCsv, match="binary data"):
        parsing.decode(data, parsing.detect_encoding(data))


def test_an_empty_file_has_no_header():
    with pytest.raises(parsing.NotCsv) as refused:
        parsing.header("\n\n", ",")
    assert refused.value.code == "empty_file"


def test_records_carry_the_line_they_start_on():
    text = 'email,notes\na@x.org,one\n\nb@x.org,"two\nlines"\nc@x.org,three\n'

    found = [(r.line, r.values) for r in parsing.records(text, ",")]

    assert found == [
        (2, ["a@x.org", "one"]),
        (4, ["b@x.org", "two\nlines"]),
        (6, ["c@x.org", "three"]),
    ]


def test_mapping_is_guessed_from_the_headers():
    headers = [
        "E-mail",
        "First Name",
        "surname",
        "Job Title",
        "Company",
        "Phone",
        "Country",
        "Source",
        "utm_campaign",
        "UTM Source",
        "Employees",
        "Plan",
        "",
        "Email",
    ]

    assert parsing.guess_mapping(headers) == [
        "email",
        "first_name",
        "last_name",
        "title",
        "company_name",
        "phone",
        "country",
        "trait",
        "utm_campaign",
        "utm_source",
        "company_size",
        "trait",
        "",
        "trait",  # a second email column: the first one wins
    ]


@pytest.mark.parametrize(
    "header, field",
    [
        ("email", "email"),
        ("Mail", "email"),
        ("EMAIL ADDRESS", "email"),
        ("firstname", "first_name"),
        ("Given name", "first_name"),
        ("Last_Name", "last_name"),
        ("title", "title"),
    ],
)
def test_header_synonyms(header, field):
    assert parsing.guess_mapping([header]) == [field]


def test_trait_keys_come_from_headers():
    assert parsing.trait_key(" Lead Source (old) ") == "lead_source_old"
    assert parsing.trait_key("???") == "column"


def test_row_values_keep_non_empty_fields_and_traits():
    headers = ["Email", "First", "Size", "Plan", "Skip"]
    mapping = ["email", "first_name", "company_size", "trait", ""]

    values = parsing.row_values([" Ada@Example.COM ", "", "1,200", "Pro", "x"], headers, mapping)

    assert values == {"email": "ada@example.com", "company_size": 1200, "traits": {"plan": "Pro"}}


@pytest.mark.parametrize(
    "row, reason",
    [
        (["", "Ada"], "No email."),
        (["not-an-email", "Ada"], "Not a valid email address: 'not-an-email'."),
        (["a@x.org", "A" * 151], "first_name is longer than 150 characters."),
        (["a@x.org", "Ada", "extra"], "The row has 3 values; the header has 2."),
    ],
)
def test_bad_rows_say_why(row, reason):
    with pytest.raises(parsing.RowInvalid) as refused:
        parsing.row_values(row, ["Email", "First"], ["email", "first_name"])
    assert str(refused.value) == reason


def test_company_size_must_be_a_whole_number():
    with pytest.raises(parsing.RowInvalid, match="Company size is not a whole number: 'ten'."):
        parsing.row_values(["a@x.org", "ten"], ["Email", "Size"], ["email", "company_size"])


def test_mapping_check_needs_one_email_and_no_field_twice():
    headers = ["a", "b"]
    with pytest.raises(parsing.MappingInvalid, match="No column is mapped to the email"):
        parsing.mapping_check(["first_name", "trait"], headers)
    with pytest.raises(parsing.MappingInvalid, match="More than one column goes to: email"):
        parsing.mapping_check(["email", "email"], headers)
    with pytest.raises(parsing.MappingInvalid, match="Unknown targets: owner"):
        parsing.mapping_check(["email", "owner"], headers)
    assert parsing.mapping_check(["email", ""], headers) == ["email", ""]


@pytest.mark.parametrize(
    "email",
    ["a@example.com", "a.b+c@sub.example.co.uk", "x@[127.0.0.1]", "o'neil@example.ie"],
)
def test_valid_emails_agree_with_django(email):
    assert parsing.email_valid(email) is True


@pytest.mark.parametrize(
    "email", ["a@", "@example.com", "a@@example.com", "a b@example.com", "a@example", "a@-x.com"]
)
def test_invalid_emails_agree_with_django(email):
    assert parsing.email_valid(email) is False
