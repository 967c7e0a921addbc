"""A marketer's email template may use the listed variables, harmless filters and plain tags:
what would put a lead's raw HTML into an email, or blow a field up without bound, is refused
when the step is saved, with a message that says why."""

import pytest

from nurturing import emails, template_policy
from nurturing.models import Step
from tests.nurturing.conftest import make_sequence

STEPS = "/api/v1/nurturing/steps/"


def test_the_policy_lists_exactly_what_a_lead_context_gives():
    assert set(template_policy.VARIABLES) == set(emails.SAMPLE_CONTEXT)


@pytest.mark.parametrize(
    "source",
    [
        "Hi {{ first_name }}",
        "{{ first_name|default:'there'|title }}",
        "{% if company and title %}{{ title }} at {{ company }}{% else %}Hello{% endif %}",
        "{% if not last_name %}Hi{% elif first_name == 'Ada' %}Ada!{% endif %}",
        "{% with name=full_name|upper %}{{ name }}{% endwith %}",
        "{% firstof first_name full_name 'there' %}",
        "{{ company|truncatechars:30 }} {{ first_name|center:100 }} {{ title|ljust:'0' }}",
        "{% comment %}{{ anything|safe }}{% endcomment %}{% now 'Y' %}",
        '{{ first_name|rjust:"100" }}',
    ],
)
def test_plain_templates_pass(source):
    assert emails.check_template(source, autoescape=True) is None


@pytest.mark.parametrize(
    "source, says",
    [
        ("{{ first_name|safe }}", "The |safe filter is not allowed: it would put a lead's own"),
        ("{{ first_name|safeseq }}", "The |safeseq filter is not allowed"),
        (
            "{% autoescape off %}{{ first_name }}{% endautoescape %}",
            "The {% autoescape %} tag is not allowed: with autoescape off",
        ),
        ('{{ first_name|center:"1000000" }}', "The |center filter pads to at most 100"),
        ('{{ first_name|ljust:"101" }}', "The |ljust filter pads to at most 100"),
        ("{{ first_name|rjust:101 }}", "The |rjust filter pads to at most 100"),
        ("{{ first_name|rjust:title }}", "The |rjust filter pads to at most 100"),
        ("{{ first_name|center:'-1' }}", "The |center filter pads to at most 100"),
        ('{{ first_name|stringformat:"1000000s" }}', "The |stringformat filter is not allowed"),
        ("{{ title|urlize }}", "The |urlize filter is not allowed"),
        ("{{ frist_name }}", "Unknown variable {{ frist_name }}: use one of first_name,"),
        ("{{ first_name.upper }}", "Unknown variable {{ first_name.upper }}"),
        ("{% if secret %}x{% endif %}", "Unknown variable {{ secret }}"),
        ("{{ first_name|default:secret }}", "Unknown variable {{ secret }}"),
        ("{% for c in first_name %}{{ c }}{% endfor %}", "The {% for %} tag is not allowed"),
        ("{% lorem 1000000 w %}", "The {% lorem %} tag is not allowed"),
        ("{% debug %}", "The {% debug %} tag is not allowed"),
        ("{% filter upper %}{{ first_name }}{% endfilter %}", "The {% filter %} tag is not"),
        (
            "{% if company %}{% with n=first_name %}{{ n|safe }}{% endwith %}{% endif %}",
            "The |safe filter is not allowed",
        ),
    ],
)
def test_unsafe_or_unbounded_templates_are_refused_with_the_reason(source, says):
    error = emails.check_template(source, autoescape=True)

    assert error is not None and error.startswith(says), error


def test_a_with_alias_is_known_only_inside_its_block():
    error = emails.check_template("{% with n=first_name %}{% endwith %}{{ n }}")

    assert error is not None and error.startswith("Unknown variable {{ n }}")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field, source",
    [
        ("body_html", "<p>{{ first_name|safe }}</p>"),
        ("body_text", '{{ first_name|center:"1000000" }}'),
        ("subject", "Hi {{ nickname }}"),
    ],
)
def test_a_step_with_an_unsafe_template_is_400_and_not_saved(marketer_client, field, source):
    sequence = make_sequence(key="unsafe", steps=1)
    body = {"sequence": sequence.pk, "subject": "S", "body_text": "x", field: source}

    response = marketer_client.post(STEPS, body, format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]
    assert response.json()["fields"][field][0].startswith("Template error: ")
    assert Step.objects.count() == 1


@pytest.mark.django_db
def test_an_edit_that_adds_safe_to_a_saved_step_is_refused(marketer_client):
    sequence = make_sequence(key="edit", steps=1)
    step = sequence.steps.get()
    before = step.body_html

    response = marketer_client.patch(
        f"{STEPS}{step.pk}/", {"body_html": "{{ first_name|safe }}"}, format="json"
    )

    assert response.status_code == 400
    step.refresh_from_db()
    assert step.body_html == before
