"""GET /healthz against a real database and a real (or really absent) broker."""

from contextlib import contextmanager

import pytest
from django.db import connections

from tests.support import free_port

pytestmark = pytest.mark.django_db


@contextmanager
def _unusable_default_database():
    """Swap the default connection for a fresh one that cannot connect, then put it back.

    The server is at a closed port, so the driver itself fails, as it would in production.
    """
    original = connections["default"]
    settings_dict = dict(original.settings_dict)
    settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))
    settings_dict["OPTIONS"] = {**settings_dict.get("OPTIONS", {}), "connect_timeout": 2}
    broken = type(original)(settings_dict, alias="default")
    connections["default"] = broken
    try:
        yield
    finally:
        broken.close()
        connections["default"] = original


@pytest.fixture
def filesystem_broker(settings, tmp_path):
    """The embedded default broker, in a folder of this test's."""
    folder = tmp_path / "broker"
    folder.mkdir()
    settings.REDIS_URL = ""  # as settings.py has it: the filesystem broker means no Redis
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(folder)}
    return folder


def test_healthy(client, filesystem_broker):

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok (filesystem)",
        "rate_limits": "off (no Redis)",
    }


@pytest.mark.services
def test_healthy_with_real_redis(client, redis_url):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "rate_limits": "on",
    }


def test_503_when_the_database_is_unusable_and_200_again_after(client, filesystem_broker):

    with _unusable_default_database():
        down = client.get("/healthz")
    up = client.get("/healthz")

    assert down.status_code == 503
    assert down.json() == {
        "status": "error",
        "database": "error: OperationalError",
        "broker": "ok (filesystem)",
        "rate_limits": "off (no Redis)",
    }
    assert up.status_code == 200
    assert up.json()["database"] == "ok"


def test_broker_down_is_reported_but_the_app_is_still_healthy(client, settings):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "error: ConnectionError",
        "rate_limits": "off (Redis unreachable: ConnectionError)",
    }


def test_healthz_needs_no_login_and_answers_json(client):
    response = client.get("/healthz")

    assert response["Content-Type"] == "application/json"
    assert "Location" not in response


def test_filesystem_broker_without_its_folder_is_reported(client, filesystem_broker):
    filesystem_broker.rmdir()

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["broker"] == "error: filesystem broker folder missing or read-only"
