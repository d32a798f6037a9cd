"""The SAE page (/sae.html) and the gallery's "sae" view in headless Chromium against a real server.

The page trains a tiny SAE live (300 toy-model steps, 300 SAE steps: seconds on two slow cores)
over WS /api/saes/live; what it draws is checked against the server's stored result
(GET /api/saes/{id}). The gallery test runs on a copy of the shipped models_cache/.

Set SAE_SCREENSHOT=/tmp/sae.png to save a screenshot of the finished page.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page

from server.presets import preset_infos
from tests.e2e.conftest import FINISHED, Console, hash_params

pytestmark = pytest.mark.e2e

PROGRESS = "document.getElementById('progress').dataset.state"

# A 5 → 2 pentagon-like model and an SAE small enough to train in seconds, resampling twice.
SMALL = {
    "n_features": "5",
    "n_hidden": "2",
    "feature_probability": "0.05",
    "importance_decay": "1",
    "model_steps": "300",
    "model_restarts": "1",
    "n_latents": "5",
    "architecture": "relu",
    "l1_coefficient": "0.2",
    "k": "1",
    "steps": "300",
    "resample_interval": "100",
    "n_restarts": "1",
    "seed": "0",
}

# Records every data-state #progress takes (and every data-phase: model, then sae), from the
# page's first script on.
RECORD_STATES = """
window.__states = [];
window.__phases = [];
document.addEventListener('DOMContentLoaded', () => {
  const el = document.getElementById('progress');
  if (!el) return;
  new MutationObserver(() => {
    window.__states.push(el.dataset.state);
    if (el.dataset.phase) window.__phases.push(el.dataset.phase);
  }).observe(el, {attributes: true, attributeFilter: ['data-state', 'data-phase']});
});
"""


def small_hash(**changes: str) -> str:
    return "&".join(f"{key}={value}" for key, value in {**SMALL, **changes}.items())


def stat(page: Page, key: str) -> str:
    return page.locator(f"#sae [data-stat='{key}']").inner_text()


def fmt3(x: float) -> str:
    """format.js formatNumber(x, 3) for 1e-3 ≤ |x| < 1e6."""
    return f"{float(f'{x:.3g}'):g}"


def test_page_trains_a_small_sae_live_and_draws_it(live_server: str, page: Page) -> None:
    console = Console(page)
    page.add_init_script(RECORD_STATES)
    page.goto(f"{live_server}/sae.html#{small_hash()}")
    page.wait_for_function(FINISHED)
    assert page.evaluate(PROGRESS) == "done"  # a fresh cache: trained here
    assert "training" in page.evaluate("window.__states")  # live snapshots came first
    phases = page.evaluate("window.__phases")
    assert phases[0] == "model" and phases[-1] == "sae"  # the toy model trained first, then the SAE
    assert page.locator("#progress").get_attribute("data-steps") == "300"

    sae_id = page.locator("#sae").get_attribute("data-id")
    assert sae_id and len(sae_id) == 64
    answer = page.request.get(f"{live_server}/api/saes/{sae_id}")
    assert answer.ok
    result = answer.json()
    assert result["final"] and result["request"]["steps"] == 300

    # Directions: 5 feature arrows and 5 decoder arrows (live, dead or resampled), from the
    # result's features and W_dec.
    directions = page.evaluate(
        """() => document.getElementById('sae-directions').data.map(
            (t) => ({name: t.name, x: t.x, y: t.y, mode: t.mode}))"""
    )
    features, *latent_traces, labels = directions
    assert features["x"][1::3] == pytest.approx(result["features"][0])
    assert features["y"][1::3] == pytest.approx(result["features"][1])
    tips = sorted(x for t in latent_traces for x in t["x"][1::3])
    assert tips == pytest.approx(sorted(result["W_dec"][0]))
    assert len(labels["x"]) == 10  # f0..f4, L0..L4

    # The |cos| matrix: features × latents in latent_order, fixed 0..1 scale, titled colour bar.
    heat = page.evaluate(
        """() => { const t = document.getElementById('sae-cosines').data[0];
            return {z: t.z, x: t.x, zmin: t.zmin, zmax: t.zmax, bar: t.colorbar.title.text}; }"""
    )
    order = result["latent_order"]
    assert heat["x"] == [f"L{j}" for j in order]
    expected = [[abs(row[j]) for j in order] for row in result["cosines"]]
    assert heat["z"] == [pytest.approx(row) for row in expected]
    assert (heat["zmin"], heat["zmax"], heat["bar"]) == (0, 1, "|cos|")

    # Frequencies with the feature probability marked; loss with one line per resampling.
    bars = page.evaluate("document.getElementById('sae-frequency').data[0].y")
    assert bars == pytest.approx(result["latent_frequency"])
    p_line = page.evaluate(
        """document.getElementById('sae-frequency').data
            .find((t) => t.name === 'feature probability p').y"""
    )
    assert p_line == pytest.approx([0.05, 0.05])
    loss = page.evaluate(
        """() => document.getElementById('sae-loss').data.map((t) => ({name: t.name, x: t.x}))"""
    )
    assert loss[0]["x"] == result["history_steps"]
    lines = sorted(x for t in loss[1:] for x in t["x"][0::3])
    assert lines == result["resample_steps"] == [100, 200]

    # The numbers are the server's.
    assert stat(page, "mmcs") == fmt3(result["mmcs"])
    assert stat(page, "mcc") == fmt3(result["mcc"])
    assert stat(page, "dead") == f"{result['dead_latents']} / 5"
    assert stat(page, "l0") == fmt3(result["l0"])
    assert stat(page, "explained_variance") == fmt3(result["explained_variance"])
    assert page.locator("#error").is_hidden()
    assert page.locator(".site-nav a[aria-current='page']").get_attribute("href") == "/sae.html"
    if os.environ.get("SAE_SCREENSHOT"):
        page.screenshot(path=os.environ["SAE_SCREENSHOT"], full_page=True)
    console.assert_clean()


def test_dead_and_resampled_latents_are_marked(live_server: str, page: Page) -> None:
    """An overcomplete TopK SAE (10 latents, k = 1, five features) leaves latents dead, and
    resampling revives some: the page flashes those, marks the dead, and lines the loss."""
    console = Console(page)
    page.add_init_script(
        """window.__flashed = [];
        document.addEventListener('DOMContentLoaded', () => {
          const el = document.getElementById('sae');
          new MutationObserver(() => {
            if (el.dataset.highlighted) window.__flashed.push(el.dataset.highlighted);
          }).observe(el, {attributes: true, attributeFilter: ['data-highlighted']});
        });"""
    )
    page.goto(f"{live_server}/sae.html#{small_hash(n_latents='10', architecture='topk', k='1')}")
    page.wait_for_function(FINISHED)
    sae_id = page.locator("#sae").get_attribute("data-id")
    result = page.request.get(f"{live_server}/api/saes/{sae_id}").json()
    revived = {j for event in result["resampled"] for j in event["latents"]}
    assert revived, result["resampled"]  # seed 0: resampling revives latents
    flashed = {int(j) for text in page.evaluate("window.__flashed") for j in text.split(",")}
    assert flashed and flashed <= revived

    dead = [j for j, f in enumerate(result["latent_frequency"]) if f == 0]
    assert len(dead) == result["dead_latents"] > 0
    crosses = page.evaluate(
        """document.getElementById('sae-frequency').data
            .find((t) => t.name === 'dead (never fires)').x"""
    )
    assert crosses == dead
    assert stat(page, "dead") == f"{len(dead)} / 10"
    orange = page.evaluate(
        """document.getElementById('sae-loss').data
            .find((t) => t.name === 'resampled dead latents').x.filter((x, i) => i % 3 === 0)"""
    )
    assert orange == [e["step"] for e in result["resampled"] if e["latents"]]
    console.assert_clean()


def test_pause_holds_the_training_and_resume_finishes_it(live_server: str, page: Page) -> None:
    console = Console(page)
    page.goto(f"{live_server}/sae.html#{small_hash(steps='4000', seed='5')}")
    page.wait_for_function(
        "document.getElementById('progress').dataset.phase === 'sae'"
        " && Number(document.getElementById('progress').dataset.step) > 0"
    )
    page.locator("#pause").click()
    page.wait_for_function("document.getElementById('progress').dataset.paused === 'true'")
    assert page.locator("#pause").inner_text() == "Resume"
    assert page.locator("#progress").inner_text().endswith("(paused)")
    held = page.locator("#progress").get_attribute("data-step")
    page.wait_for_timeout(1500)
    assert page.locator("#progress").get_attribute("data-step") == held
    assert page.evaluate(PROGRESS) == "training"
    page.locator("#pause").click()
    page.wait_for_function(FINISHED)
    assert page.evaluate(PROGRESS) == "done"
    assert page.locator("#progress").get_attribute("data-steps") == "4000"
    assert page.locator("#pause").is_disabled()  # nothing trains now
    console.assert_clean()


def test_refused_fields_show_the_servers_message_and_nothing_trains(
    live_server: str, page: Page
) -> None:
    console = Console(page)
    page.add_init_script(RECORD_STATES)
    # k > n_latents, from the URL: refused beside k (shown although a TopK-only field).
    page.goto(f"{live_server}/sae.html#{small_hash(architecture='topk', n_latents='3', k='4')}")
    page.wait_for_function(f"{PROGRESS} === 'error'")
    error_k = page.locator("#error-k")
    assert error_k.is_visible()
    assert "at most n_latents = 3" in error_k.inner_text()
    assert "k:" in page.locator("#error").inner_text()
    assert page.locator("#k").get_attribute("aria-invalid") == "true"
    assert hash_params(page.url)["k"] == "4"  # the page keeps what was asked

    # n_latents over the server's limit, typed into the control: refused beside n_latents.
    page.fill("#n_latents", "5000")
    page.locator("#n_latents").dispatch_event("change")
    page.wait_for_function(
        "document.getElementById('error-n_latents').textContent.includes('max_latents = 4096')"
    )
    assert page.evaluate(PROGRESS) == "error"
    assert error_k.is_hidden()
    assert "n_latents" in page.locator("#error").inner_text()
    assert hash_params(page.url)["n_latents"] == "5000"
    # Nothing trained, nothing drawn.
    assert page.locator("#sae").get_attribute("data-drawn") == "false"
    assert "training" not in page.evaluate("window.__states")
    console.assert_clean()


def test_the_url_hash_round_trips(live_server: str, page: Page) -> None:
    console = Console(page)
    given = {**SMALL, "n_latents": "6", "l1_coefficient": "0.1", "seed": "2"}
    page.goto(f"{live_server}/sae.html#{small_hash(**given)}")
    page.wait_for_function(FINISHED)
    assert hash_params(page.url) == given
    for key, value in given.items():
        assert page.locator(f"#{key}").input_value() == value, key
    assert page.locator("#control-k").is_hidden()  # relu: no k
    first = page.locator("#sae").get_attribute("data-id")

    page.fill("#seed", "3")
    page.locator("#seed").dispatch_event("change")
    page.wait_for_function("location.hash.includes('seed=3')")
    page.wait_for_function(f"{FINISHED} && document.getElementById('sae').dataset.id !== '{first}'")
    url = page.url
    second = page.locator("#sae").get_attribute("data-id")

    # A copied link reproduces the view: the same SAE, answered from the cache.
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_function(FINISHED)
    assert page.evaluate(PROGRESS) == "cached"
    assert page.locator("#sae").get_attribute("data-id") == second
    assert page.locator("#seed").input_value() == "3"
    assert hash_params(page.url) == {**given, "seed": "3"}
    console.assert_clean()


def test_gallery_draws_the_shipped_pentagon_sae_and_opens_it_on_the_page(
    shipped_cache_server: str, page: Page
) -> None:
    console = Console(page)
    info = next(p for p in preset_infos() if p.id == "sae-pentagon")
    page.goto(f"{shipped_cache_server}/gallery.html")
    page.wait_for_function("document.getElementById('cards').dataset.state === 'ready'")
    assert page.locator(".site-nav a[href='/sae.html']").count() == 1
    card = page.locator(".card[data-preset='sae-pentagon']")
    assert "sparse autoencoder" in card.locator(".card-kind").inner_text()
    card.click()
    page.wait_for_function(
        "document.getElementById('detail').dataset.state === 'drawn'"
        " && document.getElementById('view').dataset.source === 'cache'"
    )
    view = page.locator("#view")
    for name in ("directions", "cosines", "frequency", "loss"):
        assert view.locator(f"#gallery-sae-{name} .main-svg").count() >= 1, name
    result = page.request.get(f"{shipped_cache_server}/api/saes/{info.sae_id}").json()
    assert result["cached"] and result["dead_latents"] == 0
    assert view.locator("[data-stat='mmcs']").inner_text() == fmt3(result["mmcs"])
    assert view.locator("[data-stat='dead']").inner_text() == "0 / 5"
    assert view.locator("#sae-progress").get_attribute("data-state") == "cached"
    assert view.locator("#sae-retrain").is_visible()
    # The shipped run's resamplings are on its loss plot.
    lines = page.evaluate(
        """() => document.getElementById('gallery-sae-loss').data.slice(1)
            .flatMap((t) => t.x.filter((x, i) => i % 3 === 0)).sort((a, b) => a - b)"""
    )
    assert lines == result["resample_steps"]
    console.assert_clean()

    # Its link opens the SAE page on the same SAE, answered from the cache.
    view.locator("a.sae-page-link").click()
    page.wait_for_url("**/sae.html#*")
    page.wait_for_function(FINISHED)
    assert page.evaluate(PROGRESS) == "cached"
    assert page.locator("#sae").get_attribute("data-id") == info.sae_id
    assert stat(page, "mmcs") == fmt3(result["mmcs"])
    console.assert_clean()
