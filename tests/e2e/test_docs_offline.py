"""/docs and /redoc work with no internet: every script and stylesheet comes from this server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, Route

from tests.e2e.conftest import Console

pytestmark = pytest.mark.e2e


def offline(page: Page, live_server: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Refuse every request that leaves the server (as no network would), and record the
    requests that were refused (resource type, URL) and those of ours that failed."""
    ours = urlsplit(live_server).netloc
    outside: list[tuple[str, str]] = []
    failed: list[str] = []

    def route(route: Route) -> None:
        if urlsplit(route.request.url).netloc == ours or route.request.url.startswith("data:"):
            route.continue_()
        else:
            outside.append((route.request.resource_type, route.request.url))
            route.abort("internetdisconnected")

    def on_failed(request: Request) -> None:
        if urlsplit(request.url).netloc == ours:
            failed.append(f"{request.url}: {request.failure}")

    page.route("**/*", route)
    page.on("requestfailed", on_failed)
    return outside, failed


def test_swagger_ui_renders_offline(live_server: str, page: Page) -> None:
    console = Console(page)
    outside, failed = offline(page, live_server)
    page.goto(f"{live_server}/docs")
    page.locator(".swagger-ui .info .title").wait_for(state="visible")
    assert "Superposition Explorer" in page.locator(".swagger-ui .info .title").inner_text()
    page.locator(".opblock-summary-path", has_text="/api/models").first.wait_for(state="visible")
    assert outside == [] and failed == [], (outside, failed)
    console.assert_clean()


def test_redoc_renders_offline(live_server: str, page: Page) -> None:
    console = Console(page)
    outside, failed = offline(page, live_server)
    page.goto(f"{live_server}/redoc")
    page.locator(".api-content h1").first.wait_for(state="visible")
    assert "Superposition Explorer" in page.locator(".api-content h1").first.inner_text()
    page.get_by_text("/api/models").first.wait_for(state="attached")
    # ReDoc's script, styles and fonts are ours; the one thing it asks of the internet is the
    # decorative "API docs by Redocly" logo, an <img> that ReDoc drops when it fails to load.
    assert all(kind == "image" for kind, _ in outside), outside
    assert failed == [], failed
    console.errors = [e for e in console.errors if "cdn.redoc.ly" not in e]
    console.assert_clean()
