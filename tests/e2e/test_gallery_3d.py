"""The gallery's 3-D geometry view (m = 3) in headless Chromium, from a copy of the shipped
models_cache/: one Plotly scatter3d per feature in every scene, the replay's slider, and no
console errors."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import FINISHED, Console

pytestmark = pytest.mark.e2e

DRAWN = "document.getElementById('detail').dataset.state === 'drawn'"
# Per scene: its feature traces' indices (scatter3d traces with meta.feature), in order.
FEATURE_TRACES = """() => [...document.querySelectorAll('#view .geometry-3d')].map((el) =>
    (el.data || []).filter((t) => t.type === 'scatter3d' && t.meta && 'feature' in t.meta)
        .map((t) => t.meta.feature))"""


def test_polyhedra_draw_one_scatter3d_per_feature(shipped_cache_server: str, page: Page) -> None:
    console = Console(page)
    page.goto(f"{shipped_cache_server}/gallery.html#preset=polyhedra-3d")
    page.wait_for_function(DRAWN)
    assert page.locator("#view").get_attribute("data-source") == "cache"
    scenes = page.evaluate(FEATURE_TRACES)
    assert scenes == [list(range(n)) for n in (4, 5, 6, 8)]
    # Plotly made a WebGL 3-D scene for each plot
    assert page.locator("#view .geometry-3d .gl-container").count() == 4
    summaries = page.locator("#view figure div:nth-child(3)").all_inner_texts()
    assert "D = 0.50 ×6" in summaries
    # the card's claims, each with its figure from the shipped result (server/claims.py)
    claims = page.locator("#detail-claims li")
    agrees = [claims.nth(i).get_attribute("data-agrees") for i in range(claims.count())]
    assert agrees == ["false", "false", "true", "true"]
    assert "Measured here: Dᵢ = 0.50 ± 0.00 for all 6." in claims.nth(2).inner_text()
    console.assert_clean()


def test_the_replay_steps_through_snapshots_in_3d(shipped_cache_server: str, page: Page) -> None:
    console = Console(page)
    page.goto(f"{shipped_cache_server}/gallery.html#preset=geometric-transformations")
    page.wait_for_function(DRAWN)
    assert page.evaluate(FEATURE_TRACES) == [list(range(6))]
    slider = page.locator("#view input[type=range]")
    assert slider.get_attribute("max") == "80"
    slider.fill("0")
    label = page.locator("#view input[type=range] + span")
    page.wait_for_function(
        "(el) => el.textContent.startsWith('step 0 ')", arg=label.element_handle()
    )
    console.assert_clean()


def test_the_explorer_draws_m_3_in_3d(shipped_cache_server: str, page: Page) -> None:
    """The explorer's geometry panel: arrows in the plane for m = 2, a 3-D scene for m = 3."""
    console = Console(page)
    page.goto(
        f"{shipped_cache_server}/#n_features=6&n_hidden=3&feature_probability=0.05&steps=500&seed=3"
    )
    page.wait_for_function(FINISHED)
    traces = page.evaluate(
        """() => (document.getElementById('geometry').data || [])
            .filter((t) => t.type === 'scatter3d' && t.meta && 'feature' in t.meta).length"""
    )
    assert traces == 6
    assert page.locator("#geometry-note").is_hidden()
    console.assert_clean()
