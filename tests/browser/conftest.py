"""Browser tests: Python Playwright driving Debian's Chromium (/usr/bin/chromium) against real servers.

Never `playwright install`: the wheel brings its driver, the browser comes from `apt-get install
chromium` (.ci/run does it). Without Chromium these tests fail under CI=true and skip otherwise.
Screenshots land in artifacts/screenshots/ (gitignored) for a person to look at.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Offline: names never resolve (pages load fonts from CDNs), so nothing leaves the machine
    # and nothing waits on the network; the servers are reached by IP on loopback.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# Waits are Playwright's own (they poll until the condition holds); this only bounds a hang.
WAIT_MS = 120_000


def _chromium_or_skip() -> None:
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing (pip install -r requirements-dev.txt)"
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need Chromium and Playwright in CI: {problem}", pytrace=False)
    pytest.skip(f"browser tests skipped: {problem}")


@pytest.fixture(scope="session")
def expect():
    """Playwright's expect (imported only once Chromium and Playwright are known to be there)."""
    _chromium_or_skip()
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=WAIT_MS)
    return playwright_expect


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory, expect):
    """One Chromium per test module, with a fresh profile (--user-data-dir) of its own."""
    from playwright.sync_api import sync_playwright

    user_data = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1440, "height": 1000})
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(WAIT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def notebooks_copy(tmp_path_factory) -> Path:
    """The step notebooks, copied: whatever the browser does to them never touches the repository."""
    target = tmp_path_factory.mktemp("served") / "notebooks"
    shutil.copytree(REPO_ROOT / "notebooks", target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return target


@pytest.fixture
def page(browser_context):
    page = browser_context.new_page()
    yield page
    page.close()


@pytest.fixture
def screenshot():
    """screenshot(page, name, locator=None): save artifacts/screenshots/<name>.png, the locator centred."""
    def take(page, name: str, locator=None) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
        if locator is not None:
            locator.evaluate("element => element.scrollIntoView({block: 'center'})")
        page.screenshot(path=str(path))
        return path
    return take
