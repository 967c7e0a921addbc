"""gunicorn settings, read when gunicorn starts from the repository root.

    gunicorn leadcrm.wsgi

Command-line flags win over this file (docker-compose passes --bind and --workers).
"""

import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Two workers a core: a sync worker spends much of a request waiting on PostgreSQL (the commit's
# flush), and the other keeps the core busy meanwhile. Measured best on 2 cores by bench/ingest.py.
workers = _int("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1))
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
# SDKs retry failed uploads; a worker stuck this long is killed and its transaction rolls back.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 30
keepalive = 5
# An access log line per request costs measurable time at thousands of events a second.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
