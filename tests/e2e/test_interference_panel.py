"""The explorer's "Interference and its cost" section, the linear and power loss notes, and the
power/magnitude controls, in headless Chromium against a real server (issue 6).

Small fast models (6 → 2, 300 steps) keep each test to a few seconds on two cores.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import FINISHED, Console, hash_params

pytestmark = pytest.mark.e2e

SMALL = "n_features=6&n_hidden=2&feature_probability=0.1&steps=300"
READY = "document.getElementById('interference').dataset.state === 'ready'"
NUMBER = re.compile(r"\d\.\d")


def open_and_finish(page: Page, url: str) -> None:
    """Open the explorer at `url` and wait for the model and its interference section."""
    page.goto(url)
    page.wait_for_function(FINISHED)
    page.wait_for_function(READY)


def traces(page: Page, element_id: str) -> dict[str, dict]:
    """The Plotly traces of a plot, by name."""
    data = page.evaluate(
        "(id) => document.getElementById(id).data.map((t) => ({name: t.name, type: t.type, "
        "x: Array.from(t.x ?? []), y: Array.from(t.y ?? [])}))",
        element_id,
    )
    return {trace["name"]: trace for trace in data}


def bound_value(page: Page, field: str) -> str:
    return page.locator(f"#bounds-body tr[data-field='{field}'] td").nth(1).inner_text()


def drop_expected_refusals(console: Console, status: int) -> None:
    """Chromium logs every non-2xx fetch as a console error; the refusals a test provokes on
    purpose are not the page's errors."""
    marker = f"status of {status}"
    console.errors = [e for e in console.errors if marker not in e]


def test_interference_noise_and_calculator(live_server: str, page: Page) -> None:
    """A finished model gets its cosine histogram, noise curve, summaries and calculator."""
    console = Console(page)
    open_and_finish(page, f"{live_server}/#{SMALL}&seed=31")

    # (a) the histogram: the model's and the random vectors' bars over shared bins, with markers.
    hist = traces(page, "interference-hist")
    model, random_ = hist["this model"], hist["random unit vectors"]
    assert model["type"] == random_["type"] == "bar"
    assert len(model["x"]) == len(random_["x"]) == len(model["y"]) > 1
    assert model["x"] == random_["x"]
    assert all(-1 <= x <= 1 for x in model["x"])
    names = " | ".join(hist)
    for marker in ("model RMS", "random RMS", "JL scale"):
        assert marker in names, names
    summary = page.locator("#interference-summary").inner_text()
    assert "RMS cosine" in summary and "random" in summary and "JL" in summary, summary
    assert len(NUMBER.findall(summary)) >= 4, summary

    # (b) the noise curve: l = 1..n, the measured and predicted RMS, the signal, the budgets.
    noise = traces(page, "noise")
    curves = [name for name in noise if not name.startswith("l =")]
    for start in ("signal", "noise before", "noise after", "random directions √(l/m)"):
        trace = next((noise[n] for n in curves if n.startswith(start)), None)
        assert trace is not None, (start, list(noise))
        assert trace["x"] == [1, 2, 3, 4, 5, 6]
    prediction = next(noise[n] for n in noise if n.startswith("random directions"))
    assert prediction["y"][1] == pytest.approx(1.0)  # √(2/2)
    assert any(name.startswith("l = m = 2") for name in noise), list(noise)
    assert re.search(r"l ≈ m = 2", page.locator("#noise-summary").inner_text())

    # (c) the calculator starts from the model's n and m, with l = 1 ...
    assert page.locator("#calc-n").input_value() == "6"
    assert page.locator("#calc-m").input_value() == "2"
    assert page.locator("#calc-l").input_value() == "1"
    page.wait_for_function("document.getElementById('bounds-form').dataset.state === 'ready'")
    assert page.locator("#bounds-body tr").count() == 7
    assert float(bound_value(page, "random_rms_overlap")) == pytest.approx(2**-0.5, abs=1e-3)

    # ... answers typed values (docs/THEORY.md F13's oracle: n = 10⁴, m = 100, l = 10) ...
    page.locator("#calc-n").fill("10000")
    page.locator("#calc-m").fill("100")
    page.locator("#calc-l").fill("10")
    page.locator("#calc-go").click()
    page.wait_for_function(
        """() => document.querySelector("#bounds-body tr[data-field='jl_overlap'] td:nth-child(3)")
            ?.textContent === '0.8584'"""
    )
    assert float(bound_value(page, "random_rms_overlap")) == pytest.approx(0.1)
    assert float(bound_value(page, "worst_case_budget")) == pytest.approx(1.357, abs=1e-3)
    assert float(bound_value(page, "typical_budget")) == pytest.approx(100)
    assert float(bound_value(page, "random_noise")) == pytest.approx(10**0.5 / 10, abs=1e-3)
    verdict = page.locator("#bounds-verdict").inner_text()
    assert "within the typical budget" in verdict and "beyond the worst-case" in verdict, verdict

    # ... and shows the server's refusal of a bad value, then recovers.
    page.locator("#calc-m").fill("0")
    page.locator("#calc-go").click()
    error = page.locator("#bounds-error")
    error.wait_for(state="visible")
    assert "n_hidden" in error.inner_text() and "1" in error.inner_text(), error.inner_text()
    page.locator("#calc-m").fill("100")
    page.locator("#calc-m").dispatch_event("change")
    error.wait_for(state="hidden")
    assert not page.locator("#error").is_visible()  # the page's own banner stays out of it

    drop_expected_refusals(console, 422)
    console.assert_clean()


def test_linear_model_note(live_server: str, page: Page) -> None:
    """A linear model's note compares its loss with F3's optimum and cites Baldi & Hornik."""
    console = Console(page)
    open_and_finish(page, f"{live_server}/#{SMALL}&activation=linear&seed=32")
    note = page.locator("#loss-note")
    note.wait_for(state="visible")
    page.wait_for_function("document.getElementById('loss-note').dataset.final === 'true'")
    text = note.inner_text()
    assert "exact linear optimum" in text, text
    assert re.search(r"(\d+(\.\d+)? % (above|below))|within 0\.001 %", text), text
    assert "saddle" in text and "Baldi" in text and "F17" in text, text
    # The loss plot's dashed lines include F3's optimum and the zero output's loss.
    names = list(traces(page, "loss"))
    assert any("F3" in name for name in names), names
    assert any("zero output" in name for name in names), names
    assert not page.locator("#control-power").is_visible()
    console.assert_clean()


def test_power_model_gain_and_controls(live_server: str, page: Page) -> None:
    """A boolean power model trains and shows its gain; k shows only for the power activation,
    and leaving it does not send k (the server would refuse it)."""
    console = Console(page)
    open_and_finish(
        page, f"{live_server}/#{SMALL}&activation=power&power=3&magnitude=boolean&seed=33"
    )
    assert page.locator("#control-power").is_visible()
    assert page.locator("#power").input_value() == "3"
    assert page.locator("#magnitude").input_value() == "boolean"
    assert page.locator("#activation").input_value() == "power"
    note = page.locator("#loss-note")
    page.wait_for_function("document.getElementById('loss-note').dataset.final === 'true'")
    text = note.inner_text()
    assert "Gain L̃" in text and NUMBER.search(text), text
    assert "without superposition" in text, text
    assert note.locator("a[href='/power.html']").count() == 1
    assert any("F15" in name for name in traces(page, "loss"))
    assert page.locator(".site-nav a[href='/power.html']").count() == 1
    params = hash_params(page.url)
    assert (params["activation"], params["power"], params["magnitude"]) == ("power", "3", "boolean")

    # Record the section's states from here on: a new model shows "waiting" until it is done.
    page.evaluate(
        """() => {
            const section = document.getElementById('interference');
            window.__states = [];
            new MutationObserver(() => window.__states.push(section.dataset.state))
                .observe(section, {attributes: true, attributeFilter: ['data-state']});
        }"""
    )
    page.locator("#activation").select_option("relu")
    page.wait_for_function("window.__states.includes('waiting')")
    assert not page.locator("#control-power").is_visible()
    page.wait_for_function(FINISHED)
    page.wait_for_function(READY)
    assert hash_params(page.url)["activation"] == "relu"
    assert not page.locator("#error").is_visible()
    assert not note.is_visible()  # ReLU models get no note
    console.assert_clean()


def test_evicted_model_gets_a_note(live_server: str, page: Page) -> None:
    """A model the server no longer holds (404) gets a note, not plots or an error banner."""
    console = Console(page)
    not_found = {"status": 404, "json": {"detail": "no model with this id"}}
    page.route("**/api/models/*/interference*", lambda route: route.fulfill(**not_found))
    page.goto(f"{live_server}/#{SMALL}&seed=34")
    page.wait_for_function(FINISHED)
    page.wait_for_function("document.getElementById('interference').dataset.state === 'missing'")
    status = page.locator("#interference-status")
    assert status.is_visible()
    assert "no longer holds this model" in status.inner_text()
    assert not page.locator("#error").is_visible()
    drop_expected_refusals(console, 404)
    console.assert_clean()
