"""Browser fixtures: Debian's Chromium (never a downloaded browser) driven by Playwright's sync API."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.payments.conftest import (  # noqa: F401 - fixtures of the payment pages' test
    committed_cards,
    institution,
    platform,
    sell,
    start_simulator,
)

# Playwright's sync API runs an event loop in the test thread; Django would then refuse the ORM calls
# the tests make there (creating users). They are plain synchronous calls, so allow them.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile of an Indonesian visitor (Accept-Language: id-ID)."""
    context = browser.new_context(locale="id-ID", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
