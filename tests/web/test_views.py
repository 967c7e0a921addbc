"""The hosted page and its submit (/f/<slug>/), the embed script's start token
(/f/<slug>/start/): HTML for people without JavaScript, JSON with CORS for the script."""

import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from leads.models import Lead
from tests.test_csp import SITE_POLICY
from tests.web.conftest import aged_token, make_form, post_data
from web import spam
from web.models import Submission

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}
ORIGIN = "https://www.example-shop.com"


def token_in(html: str) -> str:
    return re.search(r'name="leadcrm_ts" value="([^"]*)"', html).group(1)


def hidden_value(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def test_the_hosted_page_draws_the_form_under_the_site_policy(client, form):
    response = client.get("/f/ebook/?utm_source=newsletter&utm_campaign=spring")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == SITE_POLICY
    html = response.content.decode()
    assert "<h1>Get the lead-scoring ebook</h1>" in html
    assert '<form class="leadcrm-form" action="/f/ebook/" method="post" novalidate' in html
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/js/leadcrm-form.js" defer>']
    for label in ("Work email", "First name", "Last name", "Company", "Job title", "Team size"):
        assert f">{label}" in html
    assert '<label for="lcf-ebook-consent">Yes, send me the ebook' in html
    assert 'autocomplete="given-name"' in html
    assert (hidden_value(html, "utm_source"), hidden_value(html, "utm_campaign")) == (
        "newsletter",
        "spring",
    )
    # the token says when the page was drawn: sent 3 s later, it passes
    spam.token_check(
        token=token_in(html), form_id=form.pk, now=timezone.now() + timedelta(seconds=3)
    )


@pytest.mark.parametrize("slug", ["nope", "off"])
def test_an_unknown_or_switched_off_form_is_404(client, marketer, slug):
    make_form(marketer, slug="off", is_active=False)

    page = client.get(f"/f/{slug}/")
    answer = client.post(f"/f/{slug}/", {"email": "a@example.com"}, **JSON)

    assert page.status_code == 404
    assert "<h1>This form is not available</h1>" in page.content.decode()
    assert answer.status_code == 404
    assert answer.json() == {"code": "not_found", "message": "No such form."}
    assert answer["Access-Control-Allow-Origin"] == "*"
    assert client.get(f"/f/{slug}/start/").status_code == 404
    assert not Submission.objects.exists()


def test_a_form_sent_without_javascript_answers_with_a_thank_you_page(client, form):
    response = client.post("/f/ebook/", post_data(form))

    assert response.status_code == 200
    html = response.content.decode()
    assert '<div class="leadcrm-thanks" role="status">Thanks!\n\n' in html
    assert "We are sending the lead-scoring ebook to ada@example.com." in html
    assert Lead.objects.get().email == "ada@example.com"


def test_a_double_opt_in_thank_you_asks_to_click_the_link(client, doi_form):
    response = client.post("/f/ebook-doi/", post_data(doi_form), **JSON)

    assert response.json() == {
        "status": "pending",
        "message": "Thanks!\n\nWe sent a link to ada@example.com: click it to confirm your "
        "address and get the lead-scoring ebook.",
        "redirect": "",
    }


def test_with_a_redirect_the_form_goes_there_and_its_page_allows_it(client, marketer):
    form = make_form(marketer, redirect_url="https://www.example-shop.com/thanks?x=1")

    page = client.get("/f/ebook/")
    sent = client.post("/f/ebook/", post_data(form))
    scripted = client.post("/f/ebook/", post_data(form, email="b@example.com"), **JSON)

    assert page["Content-Security-Policy"] == SITE_POLICY.replace(
        "form-action 'self'", "form-action 'self' https://www.example-shop.com"
    )
    assert (sent.status_code, sent["Location"]) == (302, "https://www.example-shop.com/thanks?x=1")
    assert scripted.json()["redirect"] == "https://www.example-shop.com/thanks?x=1"


def test_errors_come_back_in_the_page_beside_their_fields(client, form):
    data = post_data(form, email="nope", last_name='"><b>x</b>', title="www.spam.example")
    del data["consent"]

    response = client.post("/f/ebook/", data)

    assert response.status_code == 400
    assert response["Content-Security-Policy"] == SITE_POLICY
    html = response.content.decode()
    assert (
        '<input type="email" id="lcf-ebook-email" name="email" value="nope" maxlength="254" '
        'autocomplete="email" aria-describedby="lcf-ebook-email-error" required '
        'aria-invalid="true">' in html
    )
    assert (
        '<p class="leadcrm-error" id="lcf-ebook-email-error" data-leadcrm-error>'
        "Enter a valid email address.</p>" in html
    )
    assert ">Links are not allowed here.</p>" in html
    assert ">Tick the box to agree, so that we may send you what you asked for.</p>" in html
    assert 'value="&quot;&gt;&lt;b&gt;x&lt;/b&gt;"' in html  # kept, escaped
    assert (
        '<div class="leadcrm-message" role="alert" data-leadcrm-message>'
        "Please check the 3 fields marked below.</div>" in html
    )
    assert token_in(html) == data["leadcrm_ts"]
    assert not Submission.objects.exists()


def test_errors_come_back_as_json_for_the_script(client, form):
    response = client.post("/f/ebook/", post_data(form, email="nope", consent=False), **JSON)

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "Please check the 2 fields marked below.",
        "fields": {
            "email": ["Enter a valid email address."],
            "consent": ["Tick the box to agree, so that we may send you what you asked for."],
        },
    }
    assert response["Access-Control-Allow-Origin"] == "*"


def test_the_submit_needs_no_csrf_token_and_sends_no_credentials_header(form):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/f/ebook/", post_data(form), HTTP_ORIGIN=ORIGIN, **JSON)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response
    assert Submission.objects.count() == 1


def test_a_cors_preflight_is_answered(client, form):
    response = client.options(
        "/f/ebook/",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert response["Access-Control-Allow-Headers"] == "Accept, Content-Type"
    assert response["Access-Control-Expose-Headers"] == "Retry-After"


def test_the_start_token_for_the_embed_script(client, form, settings):
    settings.FORMS_MIN_FILL_SECONDS = 3

    response = client.get("/f/ebook/start/", HTTP_ORIGIN=ORIGIN)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["min_seconds"] == 3
    spam.token_check(
        token=body["token"], form_id=form.pk, now=timezone.now() + timedelta(seconds=3)
    )
    with pytest.raises(spam.TooFast):
        spam.token_check(token=body["token"], form_id=form.pk, now=timezone.now())


def test_utm_referrer_and_anonymous_id_travel_with_the_submission(form):
    data = post_data(form) | {
        "utm_source": "linkedin",
        "utm_medium": "social",
        "utm_campaign": "launch\x00",
        "utm_term": "",
        "referrer": "https://www.example-shop.com/blog/scoring",
        "anonymous_id": "a1b2-c3",
    }

    Client(REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="Firefox/130").post(
        "/f/ebook/", data, **JSON
    )

    submission = Submission.objects.get()
    assert submission.utm == {
        "utm_source": "linkedin",
        "utm_medium": "social",
        "utm_campaign": "launch",
    }
    assert (submission.referrer, submission.anonymous_id, submission.ip, submission.user_agent) == (
        "https://www.example-shop.com/blog/scoring",
        "a1b2-c3",
        "198.51.100.4",
        "Firefox/130",
    )
    lead = submission.lead
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == ("linkedin", "social", "launch")


def test_an_anonymous_id_longer_than_its_column_is_dropped_not_cut(client, form):
    client.post("/f/ebook/", post_data(form) | {"anonymous_id": "a" * 256}, **JSON)
    client.post("/f/ebook/", post_data(form) | {"anonymous_id": "b" * 255}, **JSON)

    assert sorted(len(s.anonymous_id) for s in Submission.objects.all()) == [0, 255]


def test_a_form_sent_without_a_start_token_comes_back_to_be_sent_again(client, form):
    # A plain HTML embed posted without its script: no token.
    data = post_data(form, token="")

    page = client.post("/f/ebook/", data)
    scripted = client.post("/f/ebook/", data, **JSON)

    assert page.status_code == 400
    html = page.content.decode()
    assert "This form was not loaded properly or is too old: please send it again." in html
    assert 'value="ada@example.com"' in html
    spam.token_check(
        token=token_in(html), form_id=form.pk, now=timezone.now() + timedelta(seconds=3)
    )
    assert scripted.json()["code"] == "stale_form"
    assert not Submission.objects.exists()


def test_too_fast_and_honeypot_answers(client, form):
    fast = client.post("/f/ebook/", post_data(form, token=aged_token(form, 0.5)), **JSON)
    honey = client.post("/f/ebook/", post_data(form) | {"leadcrm_hp": "x"}, **JSON)

    assert (fast.status_code, fast.json()["code"]) == (400, "too_fast")
    assert (honey.status_code, honey.json()) == (
        400,
        {"code": "spam", "message": "This form could not be sent."},
    )
    assert not Submission.objects.exists()


@pytest.mark.services
def test_over_the_limit_the_answer_is_429_with_retry_after(form, redis_url, settings):
    settings.FORMS_RATE_PER_IP_PER_MINUTE = 1
    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)
    client = Client(REMOTE_ADDR="198.51.100.77")

    first = client.post("/f/ebook/", post_data(form), **JSON)
    second = client.post("/f/ebook/", post_data(form, email="b@example.com"), **JSON)
    page = client.post("/f/ebook/", post_data(form, email="c@example.com"))

    assert first.status_code == 200
    assert second.status_code == 429
    assert second.json()["code"] == "rate_limited"
    assert 1 <= int(second["Retry-After"]) <= 60
    assert second["Access-Control-Allow-Origin"] == "*"
    assert page.status_code == 429
    assert "Too many forms sent from here" in page.content.decode()
    assert Submission.objects.count() == 1


def test_get_and_post_only(client, form):
    assert client.put("/f/ebook/").status_code == 405
    assert client.post("/f/ebook/start/").status_code == 405


def test_the_public_pages_never_need_a_login(form):
    page = Client().get("/f/ebook/")

    assert page.status_code == 200
    assert "/accounts/login/" not in page.content.decode()
