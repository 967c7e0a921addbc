"""create_write_key / disable_write_key."""

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from events.models import Event, Source

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def test_create_write_key_prints_the_key_last_and_stores_only_its_digest(post_segment):
    key = run("create_write_key", "website")[-1]

    source = Source.objects.get(name="website")
    assert source.write_key_digest == hashlib.sha256(key.encode()).hexdigest()
    assert source.write_key_prefix == key[:12]
    assert key not in (source.write_key_digest, source.name)
    assert post_segment("track", {"userId": "u", "event": "E"}, key=key).status_code == 200


def test_create_write_key_refuses_an_existing_name():
    run("create_write_key", "website")

    with pytest.raises(CommandError, match="already exists"):
        run("create_write_key", "website")
    assert Source.objects.count() == 1


def test_rotate_replaces_the_key(post_segment):
    old = run("create_write_key", "website")[-1]

    new = run("create_write_key", "website", "--rotate")[-1]

    assert new != old
    assert post_segment("track", {"userId": "u", "event": "E"}, key=old).status_code == 401
    assert post_segment("track", {"userId": "u", "event": "E"}, key=new).status_code == 200


def test_disable_then_enable_a_key(post_segment):
    key = run("create_write_key", "website")[-1]

    run("disable_write_key", "website")
    refused = post_segment("track", {"userId": "u", "event": "E", "messageId": "1"}, key=key)
    run("disable_write_key", "website", "--enable")
    accepted = post_segment("track", {"userId": "u", "event": "E", "messageId": "2"}, key=key)

    assert (refused.status_code, accepted.status_code) == (401, 200)
    assert list(Event.objects.values_list("message_id", flat=True)) == ["2"]
    assert Source.objects.get().disabled_at is None


def test_disable_sets_disabled_at():
    run("create_write_key", "website")

    run("disable_write_key", "website")

    source = Source.objects.get()
    assert (source.is_active, source.disabled_at is not None) == (False, True)


def test_disable_unknown_source_fails():
    with pytest.raises(CommandError):
        run("disable_write_key", "nope")


def test_create_write_key_browser_with_origins(client):
    lines = run(
        "create_write_key",
        "site",
        "--browser",
        "--origin",
        "https://WWW.example.com/",
        "--origin",
        "http://localhost:3000",
    )

    source = Source.objects.get(name="site")
    assert (source.kind, source.consent_policy) == ("browser", "needed")
    assert source.allowed_origins == ["https://www.example.com", "http://localhost:3000"]
    assert "Allowed origins: https://www.example.com, http://localhost:3000" in lines
    assert source.write_key_digest == hashlib.sha256(lines[-1].encode()).hexdigest()


def test_create_write_key_is_a_server_key_by_default():
    run("create_write_key", "product")

    source = Source.objects.get()
    assert (source.kind, source.allowed_origins, source.consent_policy) == (
        "server",
        [],
        "collected",
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--browser"], "at least one allowed origin"),
        (["--browser", "--origin", "https://example.com/path"], "no path"),
        (["--browser", "--origin", "example.com"], "scheme must be http or https"),
        (["--origin", "https://example.com"], "--browser"),
        (["--rotate", "--browser", "--origin", "https://example.com"], "--rotate"),
    ],
)
def test_create_write_key_refuses_bad_browser_options(args, message):
    with pytest.raises(CommandError, match=message):
        run("create_write_key", "site", *args)

    assert not Source.objects.exists()


def test_rotate_keeps_a_browser_sources_origins(post_segment):
    run("create_write_key", "site", "--browser", "--origin", "https://example.com")

    run("create_write_key", "site", "--rotate")

    source = Source.objects.get()
    assert (source.kind, source.allowed_origins) == ("browser", ["https://example.com"])
