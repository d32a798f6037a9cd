"""The gallery page (/gallery.html) in headless Chromium against a real server whose cache is a
copy of the repository's models_cache/, as a fresh clone ships it.

Every card must open from that cache (`data-source="cache"` on #view: the result came from
GET /api/models/{id}), so a preset the repository does not ship trained fails here, on purpose.
Live training uses the pentagon with its steps cut to 300 through the URL (seconds on two cores).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from server.presets import Preset, presets
from tests.e2e.conftest import Console, hash_params

pytestmark = pytest.mark.e2e

STATE = "document.getElementById('detail').dataset.state"
SETTLED = f"['drawn', 'missing', 'error'].includes({STATE})"
DRAWN = f"{STATE} === 'drawn'"
SMALL = "preset=pentagon&steps=300"
# Views of a sweep: a summary panel with a link to its own page, and no retrain button.
SWEEP_VIEWS = ("phase_diagram", "double_descent", "power")


def drop_not_found(console: Console) -> None:
    """Chromium logs every 404 fetch itself; a test that provokes one expects it."""
    console.errors = [e for e in console.errors if "status of 404" not in e]


def test_one_card_per_preset(shipped_cache_server: str, page: Page) -> None:
    console = Console(page)
    page.goto(f"{shipped_cache_server}/gallery.html")
    page.wait_for_function("document.getElementById('cards').dataset.state === 'ready'")
    cards = page.locator("#cards .card")
    expected = presets()
    assert [cards.nth(i).get_attribute("data-preset") for i in range(cards.count())] == [
        p.id for p in expected
    ]
    for i, preset in enumerate(expected):
        assert cards.nth(i).locator(".card-title").inner_text() == preset.title
        assert cards.nth(i).locator(".card-section").inner_text() == preset.section
        assert cards.nth(i).locator(".card-kind").inner_text()
    assert page.locator("#detail").is_hidden()
    console.assert_clean()


def full_page_link(preset: Preset) -> tuple[str, str]:
    """A sweep preset's card links to the page that draws the sweep in full: that page's path, and
    a parameter of the sweep the link must carry."""
    if preset.view == "phase_diagram":
        assert preset.phase_diagram is not None
        return "/phase.html", f"n_features={preset.phase_diagram.n_features}"
    if preset.view == "double_descent":
        assert preset.double_descent is not None
        return "/memorisation.html", f"n_features={preset.double_descent.n_features}"
    assert preset.power_sweep is not None
    return "/power.html", f"k={preset.power_sweep.k}"


def card_problem(page: Page, console: Console, preset: Preset) -> str:
    """Open one card; what is wrong with its panel ("" if nothing)."""
    console.errors = []
    page.locator(f".card[data-preset='{preset.id}']").click()
    page.wait_for_function(
        f"document.getElementById('detail').dataset.preset === '{preset.id}' && {SETTLED}"
    )
    assert hash_params(page.url) == {"preset": preset.id}
    assert page.locator("#detail-title").inner_text() == preset.title
    assert page.locator("#detail-section").get_attribute("href") == preset.section_url
    assert page.locator("#detail-section").get_attribute("target") == "_blank"
    state = page.evaluate(STATE)
    view = page.locator("#view")
    if state != "drawn":
        return f"{state}: {view.inner_text()[:120]} {page.locator('#detail-error').inner_text()}"
    if preset.view in SWEEP_VIEWS:
        path, parameter = full_page_link(preset)
        href = view.locator("a.phase-link").get_attribute("href") or ""
        assert href.startswith(f"{path}#")
        assert parameter in href
        assert page.locator("#retrain").count() == 0
        if preset.view == "power":  # its panel sets data-source after the detail is drawn
            page.wait_for_function("document.querySelector('#view .panel')?.dataset.source")
        source = view.locator(".panel").get_attribute("data-source")
    else:
        source = view.get_attribute("data-source")
        cached = page.locator("#detail-progress .progress[data-state='cached']").count()
        assert cached == len(preset.requests)
    if source != "cache":
        return f"the result came from {source!r}, not the cache"
    if view.locator(".js-plotly-plot").count() == 0:
        return "no plot drawn"
    return "; ".join(console.errors)


def test_every_card_opens_from_the_cache(shipped_cache_server: str, page: Page) -> None:
    """Every card, clicked in turn on one page, draws its view from the shipped cache."""
    console = Console(page)
    page.goto(f"{shipped_cache_server}/gallery.html")
    problems = {p.id: card_problem(page, console, p) for p in presets()}
    problems = {key: text for key, text in problems.items() if text}
    assert not problems, "\n".join(f"{key}: {text}" for key, text in problems.items())


def test_retrain_live_shows_progress_and_redraws(shipped_cache_server: str, page: Page) -> None:
    console = Console(page)
    page.goto(f"{shipped_cache_server}/gallery.html#{SMALL}")
    page.wait_for_function(DRAWN)  # trained live (steps differ from the cached request)
    assert page.locator("#ctl-steps").input_value() == "300"
    page.evaluate(
        """() => {
            window.__states = [];
            const row = document.getElementById('progress-0');
            new MutationObserver(() => window.__states.push(row.dataset.state))
                .observe(row, {attributes: true, attributeFilter: ['data-state']});
        }"""
    )
    page.locator("#retrain").click()
    page.wait_for_function("window.__states.includes('training')")
    page.wait_for_function(DRAWN)
    row = page.locator("#progress-0")
    assert row.get_attribute("data-state") == "done"
    assert row.get_attribute("data-steps") == "300"
    assert "300 steps" in row.inner_text()
    assert page.locator("#view").get_attribute("data-source") == "live"
    assert page.locator("#view .js-plotly-plot").count() >= 1
    console.assert_clean()


def test_controls_round_trip_through_the_url(shipped_cache_server: str, page: Page) -> None:
    console = Console(page)
    page.goto(f"{shipped_cache_server}/gallery.html#{SMALL}&seed=3")
    page.wait_for_function(DRAWN)
    assert hash_params(page.url) == {"preset": "pentagon", "steps": "300", "seed": "3"}
    page.reload()
    page.wait_for_function(DRAWN)
    assert page.locator("#ctl-steps").input_value() == "300"
    assert page.locator("#ctl-seed").input_value() == "3"
    # One scalar probability per request: p is a control too.
    assert page.locator("#ctl-feature_probability").input_value() == "0.05"
    assert hash_params(page.url) == {"preset": "pentagon", "steps": "300", "seed": "3"}

    # A control change goes into the URL and trains (after the debounce).
    page.locator("#ctl-steps").fill("200")
    page.wait_for_function("window.location.hash.includes('steps=200')")
    page.wait_for_function(
        "document.getElementById('progress-0').dataset.steps === '200' && " + DRAWN
    )

    # Out of range: the limit beside the field, and nothing trains or enters the URL.
    url = page.url
    page.locator("#ctl-n_hidden").fill("999")
    page.locator("#ctl-n_hidden").press("Enter")
    note = page.locator("#ctl-n_hidden-limit")
    note.wait_for(state="visible")
    assert "max_hidden" in note.inner_text()
    page.wait_for_timeout(600)  # past the debounce
    assert page.url == url
    assert page.locator("#progress-0").get_attribute("data-steps") == "200"

    # Reset: the preset's own values, and its cached result (or "not trained yet").
    page.locator("#reset").click()
    assert hash_params(page.url) == {"preset": "pentagon"}
    assert page.locator("#ctl-steps").input_value() == "10000"
    assert page.locator("#ctl-n_hidden").input_value() == "2" and not note.is_visible()
    page.wait_for_function(SETTLED)
    drop_not_found(console)
    console.assert_clean()


def test_untrained_preset_says_so(shipped_cache_server: str, page: Page) -> None:
    console = Console(page)
    not_found = {"status": 404, "json": {"detail": "model not found"}}
    page.route("**/api/models/*", lambda route: route.fulfill(**not_found))
    page.goto(f"{shipped_cache_server}/gallery.html#preset=basic-results")
    page.wait_for_function(f"{STATE} === 'missing'")
    assert "Not trained yet" in page.locator("#view").inner_text()
    assert page.locator("#view").get_attribute("data-source") == "missing"
    assert page.locator("#train-missing").is_visible()
    assert page.locator("#retrain").is_visible()
    assert not page.locator("#error").is_visible()
    drop_not_found(console)
    console.assert_clean()


def test_refused_request_is_shown_as_text(shipped_cache_server: str, page: Page) -> None:
    console = Console(page)
    # 50000 steps × 1024 × 10 instances × 16 restarts × (5 × 256 + 128 × 5) is over max_work.
    page.goto(
        f"{shipped_cache_server}/gallery.html#preset=intro-2d&n_hidden=256&steps=50000&n_restarts=16"
    )
    page.wait_for_function(f"{STATE} === 'error'")
    error = page.locator("#detail-error")
    assert error.is_visible() and "max_work" in error.inner_text()
    assert page.locator("#progress-0").get_attribute("data-state") == "error"
    console.assert_clean()


def test_the_double_descent_card_opens_the_memorisation_page_from_the_cache(
    shipped_cache_server: str, page: Page
) -> None:
    """The card's link carries the preset's sweep; the page's defaults are that sweep too, so
    both open from the shipped cache at once, with the peak marked and the smallest T's T-gon."""
    console = Console(page)
    page.goto(f"{shipped_cache_server}/gallery.html#preset=double-descent")
    link = page.locator("#view a.phase-link")
    link.wait_for()
    page.wait_for_function("document.querySelector('#view .panel')?.dataset.source === 'cache'")
    link.click()
    page.wait_for_function("document.getElementById('progress').dataset.state === 'cached'")
    peak = int(page.locator("[data-stat=peak]").inner_text())
    page.wait_for_function("document.getElementById('picked').dataset.loaded === '3'")
    hidden = page.evaluate("document.getElementById('hidden-2d').data[1].x.length")
    assert hidden == 3 and 3 < peak < 1000
    page.goto(f"{shipped_cache_server}/memorisation.html")  # no hash: the defaults, the same sweep
    page.wait_for_function("document.getElementById('progress').dataset.state === 'cached'")
    console.assert_clean()
