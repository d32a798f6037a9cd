"""The explorer page in headless Chromium against a real server (the `live_server` fixture).

Chromium is Debian's (/usr/bin/chromium): `playwright install` cannot download here. Every test
fails on a console error or an uncaught page error.

Set EXPLORER_SCREENSHOT=/tmp/explorer.png to save a screenshot of the trained page.
"""

from __future__ import annotations

import os
import re

import httpx
import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import FINISHED, Console, hash_params

pytestmark = pytest.mark.e2e

# Enough steps that even a fast CPU sends several snapshots (at most ~20 per second).
SLIDER_START = "n_features=5&n_hidden=2&feature_probability=0.1&steps=4000&seed=11"


def wait_for_gram(page: Page, n_features: int) -> None:
    """Wait until the Gram heatmap is drawn with n_features rows."""
    page.wait_for_function(
        """(n) => {
            const el = document.getElementById('gram');
            return !!el.querySelector('.main-svg') && Array.isArray(el.data)
                && el.data.length > 0 && el.data[0].z.length === n;
        }""",
        arg=n_features,
    )


def wait_until_finished(page: Page) -> str:
    """Wait for the run's done (or cached) message; return the progress text."""
    page.wait_for_function(FINISHED)
    return page.locator("#progress").inner_text()


def test_slider_retrains_live(live_server: str, page: Page) -> None:
    """Moving the probability slider streams a new run: the step advances, the Gram changes."""
    console = Console(page)
    page.goto(f"{live_server}/#{SLIDER_START}")
    wait_for_gram(page, 5)
    assert page.locator("#gram .main-svg").count() > 0
    assert page.locator("#feature_probability").input_value() == "-1"

    # Record what the page shows once the new request goes out (progress turns "queued").
    page.evaluate(
        """() => {
            const progress = document.getElementById('progress');
            const gram = document.getElementById('gram');
            window.__seen = {armed: false, steps: new Set(), z0: JSON.stringify(gram.data[0].z)};
            new MutationObserver(() => {
                const state = progress.dataset.state;
                if (state === 'queued') window.__seen.armed = true;
                if (window.__seen.armed && state === 'training') {
                    window.__seen.steps.add(progress.dataset.step);
                }
            }).observe(progress, {attributes: true});
        }"""
    )
    slider = page.locator("#feature_probability")
    slider.fill("-2")  # sets the value and fires input + change, as the end of a drag does
    slider.dispatch_event("change")

    page.wait_for_function(
        """() => window.__seen.steps.size >= 2
            && JSON.stringify(document.getElementById('gram').data[0].z) !== window.__seen.z0"""
    )
    text = wait_until_finished(page)
    assert "done" in text or "cached" in text
    assert page.locator("#progress").get_attribute("data-step") == "4000"

    params = hash_params(page.url)
    assert float(params["feature_probability"]) == pytest.approx(0.01)
    assert params["n_features"] == "5"
    assert params["steps"] == "4000"
    assert "p = 0.01" in page.locator("#feature_probability_value").inner_text()

    # The headline numbers and the other plots are there.
    assert page.locator("#headline [data-stat='D*']").inner_text() != ""
    page.wait_for_function(
        """() => ['norms', 'bias', 'loss', 'geometry'].every(
            (id) => document.getElementById(id).querySelector('.main-svg'))"""
    )
    colour_key = page.evaluate("document.getElementById('norms').data[1].marker")
    assert (colour_key["cmin"], colour_key["cmax"]) == (0, 1)
    assert "superposition" in colour_key["colorbar"]["title"]["text"]
    gram = page.evaluate("document.getElementById('gram').data[0]")
    assert gram["zmin"] == pytest.approx(-gram["zmax"])
    assert page.evaluate("document.getElementById('loss').layout.yaxis.type") == "log"
    assert page.locator("#features-body tr").count() == 5
    assert not page.locator("#error").is_visible()

    shot = os.environ.get("EXPLORER_SCREENSHOT")
    if shot:
        page.screenshot(path=shot, full_page=True)
    console.assert_clean()


def test_reload_answers_from_cache(live_server: str, page: Page) -> None:
    """A finished model is cached: reloading its URL shows it at once, marked cached."""
    console = Console(page)
    url = f"{live_server}/#n_features=5&n_hidden=2&feature_probability=0.1&steps=3000&seed=12"
    page.goto(url)
    wait_for_gram(page, 5)
    wait_until_finished(page)

    page.reload()
    wait_for_gram(page, 5)
    page.wait_for_function("document.getElementById('progress').dataset.state === 'cached'")
    assert "cached" in page.locator("#progress").inner_text()
    assert hash_params(page.url)["seed"] == "12"
    console.assert_clean()


def test_refused_request_shows_banner(live_server: str, page: Page) -> None:
    """A request the server refuses shows its reason in #error; a good one clears it."""
    console = Console(page)
    # Each field is within its own limit, but together they exceed max_work.
    page.goto(f"{live_server}/#n_features=512&n_hidden=256&steps=50000&n_restarts=16")
    banner = page.locator("#error")
    banner.wait_for(state="visible")
    assert re.search(r"limit", banner.inner_text(), re.IGNORECASE), banner.inner_text()
    page.wait_for_function("document.getElementById('progress').dataset.state === 'error'")

    # A link pasted into the address bar while the page is open.
    page.evaluate("location.hash = '#n_features=4&n_hidden=2&steps=2000&seed=13'")
    wait_for_gram(page, 4)
    banner.wait_for(state="hidden")
    wait_until_finished(page)
    assert page.locator("#n_features").input_value() == "4"
    console.assert_clean()


def test_out_of_range_link_is_clamped(live_server: str, page: Page) -> None:
    """Values outside the controls' bounds are clamped (or defaulted), not sent or crashed on."""
    console = Console(page)
    limits = httpx.get(f"{live_server}/api/limits", timeout=10).json()
    page.goto(
        f"{live_server}/#n_features=abc&n_hidden=0&feature_probability=5&activation=tanh"
        "&steps=2000&seed=14"
    )
    wait_for_gram(page, 5)
    params = hash_params(page.url)
    assert params["feature_probability"] == "1"
    assert params["n_hidden"] == "1"
    assert params["n_features"] == "5"
    assert params["activation"] == "relu"
    assert page.locator("#n_hidden").input_value() == "1"
    assert page.locator("#feature_probability").input_value() == "0"
    # The number inputs are bounded by the server's limits.
    assert page.locator("#n_features").get_attribute("max") == str(limits["max_features"])
    assert page.locator("#n_hidden").get_attribute("max") == str(limits["max_hidden"])
    assert page.locator("#steps").get_attribute("max") == str(limits["max_steps"])
    assert page.locator("#n_restarts").get_attribute("max") == str(limits["max_restarts"])
    # With m = 1 there is no plane to draw: the geometry panel says so.
    assert page.locator("#geometry-note").is_visible()
    wait_until_finished(page)
    assert not page.locator("#error").is_visible()
    console.assert_clean()
