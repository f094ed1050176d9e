"""Browser fixtures: Debian's Chromium driven by Playwright, signed in as a persona of the live server.

A plugin of tests/conftest.py, so every folder shares one session-wide Chromium: a second Playwright
started in the same thread (a fixture imported into another folder's conftest) refuses to run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still
# plain synchronous calls, so Django's async-safety check would refuse them without this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# axe-core, vendored (tests/browser/vendor/VERSION): the accessibility check the pages must pass.
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's Chromium is missing: apt-get install -y chromium", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page_as(browser, live_server) -> Iterator[Callable[[object], object]]:
    """Return a function that opens a page signed in as the given user (session cookie of a real login)."""
    contexts = []

    def open_page(user: object) -> object:
        client = Client()
        client.force_login(user)  # type: ignore[arg-type]
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def shot(page: object, name: str) -> None:
    """Save a full-page screenshot as a test artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def accessibility_problems(page: object) -> list[str]:
    """Run axe-core on the page and return its serious and critical violations, one line each.

    The script is evaluated through the DevTools protocol, which the page's Content-Security-Policy
    does not govern, so the page is checked under its real policy.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):  # type: ignore[attr-defined]
        page.evaluate(AXE.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    result = page.evaluate(  # type: ignore[attr-defined]
        "async () => await window.axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


def check_page(page: object, name: str) -> None:
    """Screenshot the page (1400×900 window, whole page) and fail on serious or critical axe violations."""
    # The page at rest: a click leaves the pointer over its button, whose hover colours are mid-transition.
    page.mouse.move(0, 0)  # type: ignore[attr-defined]
    # A fading tab or alert is half transparent: its colours are not the ones a reader ends up with.
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.getAnimations().every(a => a.playState !== 'running'"
        " || a.effect.getComputedTiming().endTime === Infinity)"  # a progress bar's stripes move for ever
    )
    shot(page, name)
    problems = accessibility_problems(page)
    assert not problems, f"{name}: " + "\n".join(problems)
