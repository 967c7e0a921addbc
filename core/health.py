"""GET /healthz: is the database usable, is the broker reachable, are rate limits on."""

import os

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from core import ratelimit


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable"; report it
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _broker() -> str:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", "")
        if not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
            return "error: filesystem broker folder missing or read-only"
        return "ok (filesystem)"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except redis.RedisError as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def healthz(request):
    database, broker = _database(), _broker()
    # The broker being down degrades background work but the app (and ingestion) still serves.
    healthy = database == "ok"
    body = {
        "status": "ok" if healthy else "error",
        "database": database,
        "broker": broker,
        "rate_limits": ratelimit.status(),
    }
    return JsonResponse(body, status=200 if healthy else 503)
