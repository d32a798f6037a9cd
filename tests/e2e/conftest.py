"""Headless Chromium for the page tests: Debian's /usr/bin/chromium (`playwright install` cannot
download here), one browser per module and a fresh context per test; and a server on a copy of the
shipped models_cache/, one per module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from benchmarks.serve import start_server, stop_server

# The trained entries the repository ships, as a fresh clone has them.
SHIPPED_CACHE = Path(__file__).resolve().parents[2] / "models_cache"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# Generous: CI has two slow cores, and training runs in the same machine.
TIMEOUT_MS = 120_000

FINISHED = "['done', 'cached'].includes(document.getElementById('progress').dataset.state)"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium (see README.md)"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def shipped_cache_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a server on a temporary copy of models_cache/, as a fresh clone ships it; its
    own copy per module, since the tests may add entries to it."""
    cache = tmp_path_factory.mktemp("shipped") / "cache"
    shutil.copytree(SHIPPED_CACHE, cache)
    proc, base = start_server(cache)
    try:
        yield base
    finally:
        stop_server(proc)


class Console:
    """Console errors and uncaught exceptions of one page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console.error: {message.text} ({message.location})")

    def assert_clean(self) -> None:
        assert self.errors == [], "\n".join(self.errors)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        yield page
    finally:
        context.close()


def hash_params(url: str) -> dict[str, str]:
    """The state in a page URL's hash, one value per key."""
    return {key: values[-1] for key, values in parse_qs(urlsplit(url).fragment).items()}
