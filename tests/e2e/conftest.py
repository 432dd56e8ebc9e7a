"""Browser tests: a real headless Chromium (Debian's, at /usr/bin/chromium) drives the live server.

Every test in this folder is marked ``e2e`` (``-m "not e2e"`` leaves them out). They skip, saying why, when
Chromium or the ``playwright`` package is missing, and fail instead when BAOXIAO_REQUIRE_SERVICES=1 (CI),
the same rule as the ``postgres`` and ``redis`` markers in tests/conftest.py. Playwright never downloads
a browser here: it is always pointed at the system Chromium.

Screenshots go to BAOXIAO_ARTIFACTS_DIR (default: test-artifacts/screenshots under the repository root,
which git ignores); the folder is printed at the end of the run.
"""

from __future__ import annotations

import importlib.util
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root in a container, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No calls home: the machines that run these tests may have no internet at all.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Fail fast: every page of the app answers in milliseconds on the live server.
TIMEOUT_MS = 10_000

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
# A common laptop width, where the navigation bar is at its most crowded (issue 7's journeys).
LAPTOP = {"viewport": {"width": 1366, "height": 900}}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE, "laptop": LAPTOP}

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parent.parent
ARTIFACTS_DIR = Path(os.environ.get("BAOXIAO_ARTIFACTS_DIR") or REPO_ROOT / "test-artifacts" / "screenshots")

_screenshots_taken: list[Path] = []


def _e2e_problem() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees every collected item, not only this folder's: mark just ours.
    for item in items:
        if E2E_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def pytest_runtest_setup(item: pytest.Item) -> None:
    problem = _e2e_problem()
    if not problem:
        return
    if settings.BAOXIAO_REQUIRE_SERVICES:
        pytest.fail(f"BAOXIAO_REQUIRE_SERVICES=1 but {problem}", pytrace=False)
    pytest.skip(f"needs a browser: {problem}")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _screenshots_taken:
        terminalreporter.write_sep("-", "e2e screenshots")
        terminalreporter.write_line(f"{len(_screenshots_taken)} screenshots in {ARTIFACTS_DIR}")


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """One headless Chromium for the whole folder; each test gets a fresh context (cookies, storage)."""
    # Playwright's sync API runs an asyncio event loop in this thread (in a greenlet), so Django sees "a
    # running event loop" and raises SynchronousOnlyOperation on every ORM call made here: loading the
    # demo company, pytest-django's flush between tests. Those calls are ordinary blocking code that never
    # runs inside the loop, so the check is a false alarm. It is switched off only while the browser is
    # up (package scope), so tests outside this folder keep Django's guard.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def demo_site(live_server, transactional_db) -> str:
    """The live server's address, with the demo company loaded (the live server needs committed rows)."""
    # Through the command, exactly as `make run` loads it: the loader behind it is moving between modules.
    call_command("seed_demo", quiet_logins=True, stdout=io.StringIO())
    return live_server.url


@pytest.fixture
def browser_problems() -> list[str]:
    """Console errors (CSP violations among them), uncaught exceptions and failed requests of this test."""
    return []


@pytest.fixture
def open_page(browser, browser_problems: list[str]) -> Iterator[Callable[..., object]]:
    """``open_page(locale="zh-CN", viewport="phone")``: a page in a fresh browser context that records
    every console error, page error and failed request into ``browser_problems``."""
    contexts = []

    def open_(*, locale: str = "en-US", viewport: str = "desktop"):
        context = browser.new_context(locale=locale, **VIEWPORTS[viewport])
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        # Chromium reports CSP violations ("Refused to apply inline style ...") as console errors.
        page.on("console", lambda msg: msg.type == "error" and browser_problems.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: browser_problems.append(f"page error: {exc}"))
        # A request cut short by the next navigation (the favicon, while the form submits) is not a fault.
        page.on(
            "requestfailed",
            lambda req: (
                req.failure != "net::ERR_ABORTED"
                and browser_problems.append(f"request failed: {req.url} {req.failure}")
            ),
        )
        page.on(
            "response", lambda resp: resp.status >= 400 and browser_problems.append(f"HTTP {resp.status}: {resp.url}")
        )
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """``screenshot(page, "sign-in-en-phone")`` saves a full-page PNG into the artifacts folder."""

    def take(page, name: str) -> Path:
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        _screenshots_taken.append(path)
        return path

    return take
