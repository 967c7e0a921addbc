import base64
import gzip
import json

import pytest
from pytest_django.live_server_helper import LiveServer

from events import services


@pytest.fixture
def write_key(db):
    """A source named "website" and its write key."""
    _, key = services.source_create(name="website")
    return key


@pytest.fixture
def source(write_key):
    from events.models import Source

    return Source.objects.get(name="website")


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@pytest.fixture
def post_segment(client):
    """POST a JSON (optionally gzipped) body to /v1/<kind>; returns the response."""

    def post(kind, body, *, key=None, gzipped=False, raw=None, headers=None):
        data = raw if raw is not None else json.dumps(body).encode()
        all_headers = dict(headers or {})
        if key is not None:
            all_headers["Authorization"] = basic(key)
        if gzipped:
            data = gzip.compress(data)
            all_headers["Content-Encoding"] = "gzip"
        return client.post(
            f"/v1/{kind}", data=data, content_type="application/json", headers=all_headers
        )

    return post


@pytest.fixture
def ingest_server(transactional_db):
    """A live server on 127.0.0.1 (a free port) serving the test database; stopped after."""
    server = LiveServer("127.0.0.1")
    yield server
    server.stop()


@pytest.fixture
def kicks(monkeypatch):
    """Records scoring_kick calls instead of asking the scoring engine."""
    calls = []
    monkeypatch.setattr(
        "scoring.services.scoring_kick", lambda *, lead_ids=(): calls.append(sorted(lead_ids))
    )
    return calls
