"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Every test here carries the `browser` marker. A page fixture fails its test on any console
error, uncaught exception or Content Security Policy violation, so a test proves the page works
under the site's CSP as well as what it asserts. Playwright never downloads a browser: it
launches the system's Chromium (`apt-get install chromium`; .ci/run installs it in CI).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from leadcrm.celery import app as celery_app
from tests.conftest import require_service
from tests.support import DESKTOP, StaticSite, log_in

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright downloads nothing

# Chromium reports a blocked inline script or style as a console error; this listener, added
# by Playwright before any page script runs (CSP does not apply to it), names the directive too.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  const what = event.blockedURI || "inline";
  console.error(`CSP violation: ${event.violatedDirective} blocked ${what}`);
});
"""


@dataclass
class Console:
    """What went wrong in the browser during a test: console errors, page errors, CSP."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url')})")

    def on_page_error(self, error) -> None:
        self.errors.append(f"uncaught: {error}")


@pytest.fixture(scope="session")
def _playwright() -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an asyncio loop running in this thread for as long as it
    # runs, which Django's async-safety check takes for an async context; the ORM calls of the
    # tests (and of the database set-up) are synchronous all the same.
    with pytest.MonkeyPatch.context() as patch, sync_api.sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield playwright


@pytest.fixture(scope="session")
def browser(_playwright):
    """The system's Chromium, headless. Missing: skipped locally, a failure in CI."""
    require_service(f"Chromium ({CHROMIUM})", CHROMIUM.exists())
    browser = _playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    yield browser
    browser.close()


@pytest.fixture(autouse=True)
def published(monkeypatch) -> list[tuple[str, tuple]]:
    """Celery tasks the pages' writes queued after commit, by name and arguments. No worker
    runs beside these tests, so they are recorded here instead of piling up on the broker."""
    sent: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        celery_app, "send_task", lambda name, args=(), **options: sent.append((name, args))
    )
    return sent


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def new_page(browser, live_server, console) -> Iterator[Callable[..., object]]:
    """`new_page(viewport=DESKTOP)`: a page in a fresh browser context (its own cookies) on the
    live server, reporting into `console`."""
    contexts = []

    def make(viewport: dict | None = None):
        context = browser.new_context(base_url=live_server.url, viewport=viewport or DESKTOP)
        context.add_init_script(_REPORT_CSP_VIOLATIONS)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", console.on_console)
        page.on("pageerror", console.on_page_error)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A desktop-sized page on the live server, logged in as nobody."""
    return new_page()


@pytest.fixture
def logged_in(new_page) -> Callable[..., object]:
    """`logged_in(user, viewport=DESKTOP)`: a new page with `user` logged in."""

    def make(user, viewport: dict | None = None):
        return log_in(new_page(viewport), user)

    return make


@pytest.fixture
def static_site(tmp_path) -> Iterator[Callable[..., StaticSite]]:
    """`static_site({"page.html": text}, headers=None)`: the files served by another origin (a
    free port of 127.0.0.1), e.g. a customer's website carrying our embed snippet."""
    sites: list[StaticSite] = []

    def make(files: dict[str, str], headers: dict[str, str] | None = None) -> StaticSite:
        root = tmp_path / f"site-{len(sites)}"
        root.mkdir()
        for name, text in files.items():
            (root / name).write_text(text)
        site = StaticSite(root, headers).start()
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A browser test fails on any console error, page error or CSP violation it caused."""
    result = yield
    console = getattr(item, "funcargs", {}).get("console")
    if console is not None and console.errors:
        raise AssertionError("the browser reported:\n  " + "\n  ".join(console.errors))
    return result
