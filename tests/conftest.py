import os
import uuid

import pytest
import redis
from rest_framework.test import APIClient

from accounts.models import Role
from leadcrm.celery import app as celery_app
from tests.factories import UserFactory
from tests.support import SmtpServer

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# A statement that hangs (a lock never released, a plan gone wrong) errors out after this long,
# well inside the per-test timeout (pyproject's `timeout`), which cannot interrupt a test
# blocked inside one long SQL statement.
STATEMENT_TIMEOUT = "90s"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    from django.conf import settings

    options = settings.DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c statement_timeout={STATEMENT_TIMEOUT}"


def require_service(name: str, available: bool) -> None:
    """Skip locally when a real service is not configured; in CI a missing service is a failure."""
    if available:
        return
    message = f"{name} is not configured for this test run"
    if IN_CI:
        pytest.fail(f"{message}, and CI must never skip it")
    pytest.skip(message)


# A fixture that needs a real service, and the marker a test using it must carry.
_MARKED_FIXTURES = {"redis_url": "services", "browser": "browser"}


def pytest_collection_modifyitems(items):
    """A test that needs Redis (and so a broker or a worker) must say so with the `services`
    marker, and one that drives Chromium with the `browser` marker, so that `-m "not services"`
    gives a quick run with PostgreSQL alone (and `-m "not browser"` one without Chromium)."""
    unmarked = [
        f"{item.nodeid} (@pytest.mark.{marker})"
        for item in items
        for fixture, marker in _MARKED_FIXTURES.items()
        if fixture in getattr(item, "fixturenames", ()) and item.get_closest_marker(marker) is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests lack the marker their fixtures need:\n  " + "\n  ".join(unmarked)
        )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness (~0.2 s a user) would dominate the suite's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _own_rate_limits(settings):
    """Rate-limit counters of this test alone: tests share one Redis, and counters last their
    window. (With REDIS_URL set, ingestion counts every request.)"""
    from core import ratelimit

    settings.RATE_LIMIT_KEY_PREFIX = f"leadcrm-test-{uuid.uuid4().hex[:12]}:ratelimit:"
    ratelimit.reset_breaker()


@pytest.fixture(autouse=True)
def _no_event_buffer(settings):
    """Browser page views and tracks are stored before the answer, as a test reading the
    database right after a request expects: the buffer (events/buffer.py, on in production)
    is turned on by its own tests, in a list of their own (tests share one Redis)."""
    settings.INGEST_BROWSER_BUFFER = False
    settings.INGEST_BUFFER_KEY = f"leadcrm-test-{uuid.uuid4().hex[:12]}:events:buffer"


@pytest.fixture(autouse=True)
def _no_cached_sources():
    """Ingestion keeps write keys' sources in memory for a few seconds (events.selectors); each
    test starts without, as its database starts afresh (tests change sources with .update())."""
    from events import selectors

    selectors.source_cache_clear()


@pytest.fixture
def rate_clock(monkeypatch):
    """The rate limits' clock, frozen where a test puts it: `rate_clock.now = ...` (epoch
    seconds). It starts at the first instant of a minute, so a test never straddles one."""
    from types import SimpleNamespace

    from core import ratelimit

    clock = SimpleNamespace(now=1_800_000_000.0)  # 60 * 30,000,000: a minute starts here
    monkeypatch.setattr(ratelimit, "_clock", lambda: clock.now)
    return clock


@pytest.fixture
def redis_url(settings):
    """The real Redis URL for tests that need the broker."""
    require_service("Redis (REDIS_URL)", bool(settings.REDIS_URL))
    return settings.REDIS_URL


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", role=Role.ADMIN, is_superuser=True, is_staff=True)


@pytest.fixture
def marketer(db):
    return UserFactory(username="marketer", role=Role.MARKETER)


@pytest.fixture
def pool_mode(db):
    """The hand-off in pool mode: no routing, any rep claims from the shared pool."""
    from handoff.models import HandoffSettings, Mode

    HandoffSettings.objects.update_or_create(pk=1, defaults={"mode": Mode.POOL})


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", role=Role.MANAGER)


@pytest.fixture
def rep(db):
    return UserFactory(username="rep", role=Role.REP)


@pytest.fixture
def other_rep(db):
    return UserFactory(username="other_rep", role=Role.REP)


@pytest.fixture
def anonymous():
    return APIClient()


def _client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def marketer_client(marketer):
    return _client_for(marketer)


@pytest.fixture
def manager_client(manager):
    return _client_for(manager)


@pytest.fixture
def rep_client(rep):
    return _client_for(rep)


@pytest.fixture
def other_rep_client(other_rep):
    return _client_for(other_rep)


@pytest.fixture
def admin_client_api(admin_user):
    return _client_for(admin_user)


def _forget_cached_queues() -> None:
    # kombu caches the queue/route objects on first use; drop them so a new default applies.
    for name in ("queues", "default_queue", "router", "producer_pool"):
        celery_app.amqp.__dict__.pop(name, None)


@pytest.fixture
def queue(redis_url, settings):
    """A queue (and kick key prefix) of this test alone: tasks sent by this process go there."""
    name = f"leadcrm-test-{uuid.uuid4().hex[:12]}"
    old = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = name
    _forget_cached_queues()
    settings.SCORING_KEY_PREFIX = f"{name}:"
    yield name
    celery_app.conf.task_default_queue = old
    _forget_cached_queues()
    client = redis.Redis.from_url(redis_url)
    client.delete(name, f"_kombu.binding.{name}", *client.keys(f"{name}:*"))


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free 127.0.0.1 port, keeping what it receives."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_mailer(settings, smtp_server):
    """Point this process's default mailer at the aiosmtpd server."""
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_server.port, "timeout": 5},
        }
    }
    return smtp_server


@pytest.fixture
def published_without_redis(settings, monkeypatch) -> list:
    """The embedded set-up (`make run` without REDIS_URL): no Redis, and the cache in this
    process's memory (this run's is Redis). Returns (task name, options) of every task then
    published by name (core.publish); the broker is not under test."""
    from core import publish

    settings.REDIS_URL = None
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    sent: list = []
    monkeypatch.setattr(publish, "publish", lambda name, *args, **kw: sent.append((name, kw)))
    return sent


@pytest.fixture
def published(monkeypatch) -> list:
    """(task name, args) of every task published by name (core.publish); the broker is not
    under test. Run on-commit callbacks (django_capture_on_commit_callbacks) to see those."""
    from core import publish

    sent: list = []
    monkeypatch.setattr(publish, "publish", lambda name, *args, **kw: sent.append((name, args)))
    return sent
