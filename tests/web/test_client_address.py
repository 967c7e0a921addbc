"""Which address a submission comes from: core.ratelimit.client_ip, the rule ingestion's
per-address limit uses (the peer, or behind TRUSTED_PROXY_HOPS proxies the address the
outermost one saw). It is what the per-address limit counts and what the consent evidence and
the submission keep."""

import pytest
from django.test import Client

from leads.models import Consent
from tests.web.conftest import post_data
from web.models import Submission

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}
PROXY = "10.0.0.2"


def send(form, email: str, *, peer: str, forwarded: str | None = None):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return Client(REMOTE_ADDR=peer).post(
        "/f/ebook/", post_data(form, email=email), **JSON, **headers
    )


@pytest.fixture
def away_from_a_minute_edge():
    import time

    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)


def test_behind_a_trusted_proxy_the_forwarded_address_is_kept_as_evidence(form, settings):
    settings.TRUSTED_PROXY_HOPS = 1

    response = send(form, "ada@example.com", peer=PROXY, forwarded="6.6.6.6, 198.51.100.4")

    assert response.status_code == 200
    submission = Submission.objects.get()
    consent = Consent.objects.get(lead=submission.lead)
    assert (submission.ip, consent.ip) == ("198.51.100.4", "198.51.100.4")


def test_without_trusted_proxies_a_forwarded_header_is_not_believed(form, settings):
    settings.TRUSTED_PROXY_HOPS = 0

    send(form, "ada@example.com", peer="198.51.100.9", forwarded="203.0.113.1")

    assert Submission.objects.get().ip == "198.51.100.9"


@pytest.mark.services
def test_behind_a_trusted_proxy_the_limit_counts_each_visitor_not_the_proxy(
    form, redis_url, settings, away_from_a_minute_edge
):
    settings.TRUSTED_PROXY_HOPS = 1
    settings.FORMS_RATE_PER_IP_PER_MINUTE = 1

    first = send(form, "a@example.com", peer=PROXY, forwarded="198.51.100.1")
    other = send(form, "b@example.com", peer=PROXY, forwarded="198.51.100.2")
    again = send(form, "c@example.com", peer=PROXY, forwarded="198.51.100.1")
    # A client writing an address of its own to the left changes nothing.
    spoofed = send(form, "d@example.com", peer=PROXY, forwarded="192.0.2.7, 198.51.100.1")

    assert [r.status_code for r in (first, other, again, spoofed)] == [200, 200, 429, 429]
    assert again.json()["code"] == "rate_limited"
    assert Submission.objects.count() == 2


@pytest.mark.services
def test_without_trusted_proxies_the_peer_is_counted_whatever_it_forwards(
    form, redis_url, settings, away_from_a_minute_edge
):
    settings.TRUSTED_PROXY_HOPS = 0
    settings.FORMS_RATE_PER_IP_PER_MINUTE = 1

    first = send(form, "a@example.com", peer="198.51.100.9", forwarded="203.0.113.1")
    second = send(form, "b@example.com", peer="198.51.100.9", forwarded="203.0.113.2")

    assert (first.status_code, second.status_code) == (200, 429)


@pytest.mark.services
def test_an_ipv6_visitor_is_counted_by_its_64(form, redis_url, settings, away_from_a_minute_edge):
    settings.FORMS_RATE_PER_IP_PER_MINUTE = 2

    statuses = [
        send(form, f"p{i}@example.com", peer=f"2001:db8:1:2::{i + 1}").status_code for i in range(3)
    ]
    elsewhere = send(form, "q@example.com", peer="2001:db8:1:3::1")

    assert (statuses, elsewhere.status_code) == ([200, 200, 429], 200)


@pytest.mark.services
def test_a_visitor_over_its_limit_does_not_use_up_the_forms_budget(
    form, redis_url, settings, away_from_a_minute_edge
):
    settings.FORMS_RATE_PER_IP_PER_MINUTE = 1
    settings.FORMS_RATE_PER_FORM_PER_MINUTE = 2

    noisy = [send(form, f"n{i}@example.com", peer="198.51.100.5").status_code for i in range(4)]
    second = send(form, "s@example.com", peer="198.51.100.6")
    third = send(form, "t@example.com", peer="198.51.100.7")

    assert noisy == [200, 429, 429, 429]
    assert (second.status_code, third.status_code) == (200, 429)
