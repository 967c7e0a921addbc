"""Helpers shared by the tests (no fixtures here: those live in the conftest files)."""

import re
import socket
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


# --- browser tests (tests/pages/) ---------------------------------------------------------------
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def log_in(page, user, password: str = "pw-for-tests"):
    """Log `user` in through the real login form (the factories' password by default); the
    page ends wherever the log-in sent it."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"^(?!.*/accounts/login/)"))
    return page


def scroll_width(page) -> int:
    """The page's full width: more than the viewport's means the page scrolls sideways."""
    return page.evaluate("document.documentElement.scrollWidth")
