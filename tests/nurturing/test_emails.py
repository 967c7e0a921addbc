"""Building the email: personalisation, tracked links, pixel, unsubscribe link and headers."""

import re

import pytest

from nurturing import emails
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://crm.example.com"


def test_personalisation_uses_the_leads_fields_with_fallbacks():
    owner = UserFactory(username="sam", first_name="Sam", last_name="Seller", role="rep")
    lead = LeadFactory(first_name="", company_name="Acme", owner=owner)

    rendered = emails.render(
        subject="Hi {{ first_name }} at {{ company }}",
        body_text="{{ owner_name }}",
        body_html="<p>{{ first_name }}</p>",
        context=emails.lead_context(lead),
    )

    assert rendered.subject == "Hi there at Acme"
    assert rendered.text == "Sam Seller"
    assert rendered.html == "<p>there</p>"


def test_html_personalisation_is_escaped_and_subject_is_one_line():
    lead = LeadFactory(first_name="<b>Eve</b>\nX")

    rendered = emails.render(
        subject="Hi {{ first_name }}",
        body_text="{{ first_name }}",
        body_html="<p>{{ first_name }}</p>",
        context=emails.lead_context(lead),
    )

    assert rendered.subject == "Hi <b>Eve</b> X"
    assert rendered.html == "<p>&lt;b&gt;Eve&lt;/b&gt;\nX</p>"


def test_templates_reach_nothing_but_plain_strings():
    assert emails.check_template("{% load static %}") is not None
    assert emails.check_template('{% include "base.html" %}') is not None
    assert emails.check_template("{{ first_name.__class__ }}") is not None
    assert emails.check_template("{{ first_name|upper }} {{ owner_name }}") is None
    assert emails.check_template("{{ nothing }}") is not None
    assert emails.check_template("{% if %}") is not None


def test_built_email_has_rfc8058_headers_and_tracked_links():
    rendered = emails.Rendered(
        subject="S",
        text="Read https://example.com/a",
        html='<html><body><a href="https://example.com/a?x=1&amp;y=2">a</a></body></html>',
    )

    email = emails.build(message_id=42, to="x@example.com", rendered=rendered)
    message = email.message()

    unsubscribe = emails.unsubscribe_url(42)
    assert unsubscribe.startswith("https://crm.example.com/e/unsubscribe/")
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"Unsubscribe: {unsubscribe}" in email.body
    html = email.alternatives[0].content
    [href] = re.findall(r'<a href="(https://crm.example.com/e/click/[^"]+)"', html)
    token = href.rsplit("/", 2)[-2]
    assert emails.read_token(token, salt=emails.SALT_CLICK) == [42, "https://example.com/a?x=1&y=2"]
    assert 'src="https://crm.example.com/e/open/' in html
    assert html.index("/e/open/") < html.index("</body>")


def test_tokens_of_one_kind_do_not_open_another():
    token = emails.unsubscribe_url(7).rsplit("/", 2)[-2]

    assert emails.read_token(token, salt=emails.SALT_UNSUBSCRIBE) == 7
    with pytest.raises(emails.BadToken):
        emails.read_token(token, salt=emails.SALT_OPEN)
    with pytest.raises(emails.BadToken):
        emails.read_token(token[:-2] + "xx", salt=emails.SALT_UNSUBSCRIBE)
