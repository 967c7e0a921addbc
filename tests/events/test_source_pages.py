"""The sources page: every write key with its activity; create one (the key shown once, with its
snippet), rotate, disable. Marketers and admins only."""

import re
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from events import selectors, services
from events.models import Source
from tests.factories import EventFactory, SourceFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def local_midnight(days_ago: int) -> datetime:
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


@pytest.mark.parametrize("path", ["/sources/", "/sources/new/"])
def test_anonymous_is_sent_to_log_in(client, path):
    response = client.get(path)

    assert (response.status_code, response["Location"]) == (302, f"/accounts/login/?next={path}")


@pytest.mark.parametrize("who", ["rep", "manager"])
def test_sales_may_not_see_or_change_keys(request, who):
    source = SourceFactory(name="Website")
    client = logged_in(request.getfixturevalue(who))

    answers = [
        client.get("/sources/").status_code,
        client.get("/sources/new/").status_code,
        client.post("/sources/new/", {"name": "X", "kind": "server"}).status_code,
        client.post(f"/sources/{source.pk}/rotate/").status_code,
        client.post(f"/sources/{source.pk}/toggle/").status_code,
    ]

    assert answers == [403] * 5
    source.refresh_from_db()
    assert source.is_active and Source.objects.filter(internal=False).count() == 1


def test_activity_counts_the_last_30_days_to_the_first_days_midnight(marketer):
    source = SourceFactory(name="Website")
    EventFactory(source=source, received_at=local_midnight(29))  # the first day's own instant
    EventFactory(source=source, received_at=local_midnight(29) - timedelta(microseconds=1))
    EventFactory(source=source, received_at=timezone.now() - timedelta(seconds=5))
    latest = EventFactory(source=source, received_at=timezone.now())

    activity = selectors.source_activity(source_ids=[source.pk])[source.pk]

    assert [n for _, n in activity["days"]][0] == 1
    assert [n for _, n in activity["days"]][-1] == 2
    assert (activity["total"], activity["last"]) == (3, latest.received_at)
    assert activity["days"][-1][0] == timezone.localdate()


def test_the_list_shows_each_key_without_internal_ones(marketer, django_assert_max_num_queries):
    website = SourceFactory(name="Website")
    SourceFactory(name="Backend")
    services.source_internal("nurturing")
    EventFactory(source=website)
    client = logged_in(marketer)

    with django_assert_max_num_queries(5):
        page = text(client.get("/sources/"))

    assert re.findall(r"<strong>([^<]+)</strong>", page) == ["Backend", "Website"]
    assert "<title>Sources and their keys · leadcrm</title>" in page
    assert page.count("Refused: requests a source sent") == 1
    assert "1 events from Website in the last 30 days" in page


def test_a_browser_source_needs_an_origin(marketer):
    response = logged_in(marketer).post("/sources/new/", {"name": "Website", "kind": "browser"})

    assert response.status_code == 200
    assert re.search(
        r'field invalid">\s*<label for="id_allowed_origins"', response.content.decode()
    )
    assert not Source.objects.filter(name="Website").exists()


def test_a_new_browser_key_is_shown_once_with_its_snippet(marketer):
    client = logged_in(marketer)

    response = client.post(
        "/sources/new/",
        {"name": "Website", "kind": "browser", "allowed_origins": "https://www.Example.com"},
    )

    page = response.content.decode()
    key = re.search(r'<code id="key">([^<]+)</code>', page).group(1)
    source = Source.objects.get(name="Website")
    assert selectors.source_for_write_key(write_key=key) == source
    assert source.allowed_origins == ["https://www.example.com"]
    assert f'writeKey: "{key}"' in page and f'cdnURL: "{settings.SITE_URL}"' in page
    assert "no-store" in response["Cache-Control"]
    assert key not in client.get("/sources/").content.decode()


def test_rotating_a_key_stops_the_old_one(marketer):
    source, old_key = services.source_create(name="Backend", actor=marketer)

    page = logged_in(marketer).post(f"/sources/{source.pk}/rotate/").content.decode()

    new_key = re.search(r'<code id="key">([^<]+)</code>', page).group(1)
    assert selectors.source_for_write_key(write_key=old_key) is None
    assert selectors.source_for_write_key(write_key=new_key) == source
    assert f'analytics.write_key = "{new_key}"' in page


def test_disabling_and_enabling_a_source(marketer):
    source, key = services.source_create(name="Backend", actor=marketer)
    client = logged_in(marketer)

    off = client.post(f"/sources/{source.pk}/toggle/", follow=True)
    disabled = Source.objects.get(pk=source.pk).is_active
    client.post(f"/sources/{source.pk}/toggle/")

    assert disabled is False
    assert "“Backend” is disabled: its key gets 401 from now on." in text(off)
    assert Source.objects.get(pk=source.pk).is_active is True
