"""The phase-diagram page in headless Chromium against a real server (the `live_server` fixture).

Set PHASE_SCREENSHOT=/tmp/phase.png to save a screenshot of the finished page.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page

from benchmarks.serve import start_server, stop_server
from tests.e2e.conftest import FINISHED, Console, hash_params

pytestmark = pytest.mark.e2e

# Small enough to train in seconds on two slow cores, with several live snapshots on the way.
SMALL = (
    "n_features=2&grid_size=8&p_first=1&p_last=0.01&r_first=0.1&r_last=10&n_restarts=2"
    "&steps=3000&seed=5"
)


def drawn_cells(page: Page, element_id: str) -> int:
    return page.evaluate(
        """(id) => {
            const el = document.getElementById(id);
            if (!el.data || !el.data.length) return 0;
            return el.data[0].z.flat().filter((v) => v >= 0).length;
        }""",
        element_id,
    )


def test_diagram_fills_in_live_then_a_click_opens_the_explorer(
    live_server: str, page: Page
) -> None:
    console = Console(page)
    page.goto(f"{live_server}/phase.html#{SMALL}")
    # Live fill-in: a snapshot draws every cell before training ends.
    page.wait_for_function(
        """() => document.getElementById('progress').dataset.state === 'training'
            && !!document.querySelector('#empirical .main-svg')
            && (document.getElementById('empirical').data || []).length > 0"""
    )
    page.wait_for_function(FINISHED)
    assert drawn_cells(page, "empirical") == 64 and drawn_cells(page, "theory") == 64
    lines = page.evaluate("document.getElementById('empirical').data.length") - 1
    assert lines >= 3  # the theory's boundary curves are overlaid
    agreement = page.locator("[data-stat=agreement]").inner_text()
    assert agreement.endswith("%") and float(agreement.rstrip(" %")) >= 70
    if os.environ.get("PHASE_SCREENSHOT"):
        page.screenshot(path=os.environ["PHASE_SCREENSHOT"], full_page=True)

    # Click the bottom-right cell (sparsest p, smallest r; the mode bar covers the top right):
    # the explorer opens on that model.
    box = page.locator("#empirical .nsewdrag").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] - 6, box["y"] + box["height"] - 6)
    page.wait_for_url("**/#*n_features=2*")
    params = hash_params(page.url)
    assert params["n_features"] == "2" and params["n_hidden"] == "1"
    assert float(params["feature_probability"]) == pytest.approx(0.01, rel=1e-3)
    assert params["importance"] == "1,0.1"
    assert params["seed"] == "5" and params["n_restarts"] == "2"
    page.wait_for_function(FINISHED)
    assert "I = (1, 0.1)" in page.locator("#description").inner_text()
    console.assert_clean()


def test_three_features_page_and_bad_grid(live_server: str, page: Page) -> None:
    console = Console(page)
    page.goto(f"{live_server}/phase.html#n_features=3&grid_size=4&n_restarts=2&steps=300")
    page.wait_for_function(FINISHED)
    assert drawn_cells(page, "theory") == 16
    legend = page.locator("#legend").inner_text()
    assert "W ⊥ [0,1,1]" in legend
    console.assert_clean()


def test_default_diagram_opens_from_the_shipped_cache(page: Page, tmp_path: Path) -> None:
    """A fresh clone's page: the default diagram comes from models_cache/ with no training."""
    cache = tmp_path / "cache"
    shutil.copytree(Path(__file__).resolve().parents[2] / "models_cache", cache)
    proc, base = start_server(cache)
    try:
        console = Console(page)
        page.goto(f"{base}/phase.html")
        page.wait_for_function(FINISHED)
        assert page.locator("#progress").get_attribute("data-state") == "cached"
        assert drawn_cells(page, "empirical") == 32 * 32
        console.assert_clean()
    finally:
        stop_server(proc)
