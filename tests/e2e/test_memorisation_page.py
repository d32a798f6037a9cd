"""The memorisation page in headless Chromium against a real server (the `live_server` fixture):
the sweep fills in live, the peak is marked, a chosen T opens its features and training points.

Set MEMO_SCREENSHOT=/tmp/memo.png to save a screenshot of the finished page.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import FINISHED, Console, hash_params

pytestmark = pytest.mark.e2e

# Seconds on two slow cores, with live snapshots on the way.
SMALL = (
    "n_features=30&n_hidden=2&p=0.2&t_min=3&t_max=60&points=4&steps=2500&warmup_steps=200"
    "&lr=0.01&n_restarts=1&seed=7"
)


def trace_points(page: Page, element_id: str, trace: int) -> int:
    return page.evaluate(
        "([id, k]) => ((document.getElementById(id).data || [])[k]?.x || []).length",
        [element_id, trace],
    )


def test_the_sweep_fills_in_live_and_a_T_opens_its_polygon(live_server: str, page: Page) -> None:
    console = Console(page)
    page.goto(f"{live_server}/memorisation.html#{SMALL}")
    page.wait_for_function(
        """() => document.getElementById('progress').dataset.state === 'training'
            && (document.getElementById('losses').data || []).length > 0"""
    )
    page.wait_for_function(FINISHED)
    assert hash_params(page.url)["t_max"] == "60"
    # Train and test loss at every T (3, 8, 22, 60: log-spaced), and the peak marked.
    assert trace_points(page, "losses", 0) == 4 and trace_points(page, "losses", 1) == 4
    peak = page.locator("[data-stat=peak]").inner_text()
    names = page.evaluate("document.getElementById('losses').data.map((t) => t.name)")
    assert names == ["train loss", "test loss", "peak"] and int(peak) in (3, 8, 22, 60)
    names = page.evaluate("document.getElementById('dimensions').data.map((t) => t.name)")
    assert names == ["each feature", "features (‖Wᵢ‖²-weighted Dᵢ)", "data points (mean D_t)"]
    # The first T opens by itself: 3 training points, 30 features, drawn side by side.
    page.wait_for_function("document.getElementById('picked').dataset.loaded === '3'")
    assert trace_points(page, "hidden-2d", 1) == 3 and trace_points(page, "features-2d", 1) == 30
    assert "2/T" in page.locator("#pick-note").inner_text()
    # A click on another T (Plotly's click event) opens that one.
    page.evaluate("document.getElementById('dimensions').emit('plotly_click', {points: [{x: 60}]})")
    page.wait_for_function("document.getElementById('picked').dataset.loaded === '60'")
    assert trace_points(page, "hidden-2d", 1) == 60
    assert "July 2023" in page.locator("main").inner_text()
    if os.environ.get("MEMO_SCREENSHOT"):
        page.screenshot(path=os.environ["MEMO_SCREENSHOT"], full_page=True)
    # The same sweep again is answered from the cache.
    page.reload()
    page.wait_for_function("document.getElementById('progress').dataset.state === 'cached'")
    console.assert_clean()


def test_every_page_links_to_the_memorisation_page(live_server: str, page: Page) -> None:
    for path in ("/", "/phase.html", "/power.html", "/sae.html", "/gallery.html"):
        page.goto(f"{live_server}{path}")
        assert page.locator(".site-nav a[href='/memorisation.html']").count() == 1, path
