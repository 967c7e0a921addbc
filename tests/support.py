"""Helpers shared by the tests (no fixtures here: those live in the conftest files)."""

import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import quote


def database_url(settings_dict: dict | None = None) -> str:
    """A database's connection settings (the test database by default, with its xdist suffix)
    as a DATABASE_URL for a subprocess: a TCP host and port, or a unix socket folder."""
    from django.db import connection

    db = settings_dict or connection.settings_dict
    auth = quote(db["USER"], safe="") + (
        f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    )
    host = db["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        return f"postgres://{auth}@/{db['NAME']}?host={host}"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now: bound, then released, by us."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    predicate: Callable[[], object],
    *,
    timeout: float,
    interval: float = 0.2,
    on_tick: Callable[[], object] | None = None,
) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds pass; True when it became true.
    `on_tick` runs between polls (a beat, a log flush). Waiting, never timing: how long it took
    is not a test's business (see bench/)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if on_tick:
            on_tick()
        time.sleep(interval)
    return bool(predicate())


def race(work: Callable[[int], object], count: int = 2) -> list:
    """Run `work(i)` in `count` threads released together by a barrier; what each returned or
    raised, by i. Each thread closes its own database connections (use a transactional test)."""
    from django.db import connections

    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the outcome under test, kept for asserting
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def assert_error(response, status: int, code: str, fields: set[str] | None = None) -> dict:
    """An API refusal: the status, JSON with a machine `code` and a human `message` (and
    exactly these `fields`, if given). Returns the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    if fields is not None:
        assert set(body.get("fields", {})) == fields, body
    return body
