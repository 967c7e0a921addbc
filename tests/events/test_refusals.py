"""What ingestion refused, counted per source and day for the sources page: requests refused
whole (another origin, over a limit, malformed) and a batch's rejected messages. Accepted ones
are not counted; without Redis nothing is."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from events import refusals
from events.models import Source, SourceKind
from tests.events.conftest import basic

pytestmark = pytest.mark.django_db

SITE = "https://www.example.com"


def post(client, key, body, *, kind="track", origin=SITE):
    return client.post(
        f"/v1/{kind}",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(key),
        HTTP_ORIGIN=origin,
    )


def today_for(source) -> int:
    first = timezone.localdate() - timedelta(days=29)
    return refusals.refusals_per_day(source_ids=[source.pk], first=first, days=30)[source.pk][-1]


@pytest.mark.services
def test_refused_requests_and_rejected_messages_are_counted_per_source(
    client, redis_url, write_key, source
):
    Source.objects.filter(pk=source.pk).update(kind=SourceKind.BROWSER, allowed_origins=[SITE])
    ok = {"userId": "u1", "event": "Signed Up", "messageId": "m1"}
    bad = {"userId": "u1", "messageId": "m2"}  # a track without its event name

    accepted = post(client, write_key, ok)
    elsewhere = post(client, write_key, ok, origin="https://evil.example")
    batch = post(
        client,
        write_key,
        {
            "batch": [
                {**ok, "type": "track", "messageId": "m4"},
                {**bad, "type": "track"},
                {**bad, "type": "track", "messageId": "m3"},
            ]
        },
        kind="batch",
    )

    assert (accepted.status_code, elsewhere.status_code, batch.status_code) == (200, 403, 200)
    assert batch.json()["accepted"] == 1
    assert today_for(source) == 3  # the request from elsewhere, and the batch's two


@pytest.mark.services
def test_the_sources_page_shows_the_refusals(client, redis_url, marketer, write_key, source):
    refusals.refusals_count(source_id=source.pk, count=4)
    page = Client()
    page.force_login(marketer)

    html = page.get("/sources/").content.decode()

    assert "· 4 refused" in html
    assert '<th class="num">Refused</th>' in html


def test_without_redis_nothing_is_counted_and_the_page_says_so(
    client, settings, marketer, write_key, source
):
    settings.REDIS_URL = ""
    refusals.refusals_count(source_id=source.pk, count=4)
    page = Client()
    page.force_login(marketer)

    html = page.get("/sources/").content.decode()

    assert (
        refusals.refusals_per_day(source_ids=[source.pk], first=timezone.localdate(), days=1) == {}
    )
    assert "refused</span>" not in html
    assert "counted only with Redis" in html
