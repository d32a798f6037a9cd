"""The explorer's issue-16 controls in headless Chromium against a real server: carrying on from
the current weights while the slider moves, pause / step / resume, linked highlighting,
presentation mode, an out-of-range field and the side-by-side comparison page.

The socket's frames are recorded from Playwright's side (`page.on("websocket")`), so the tests see
the weights the server sent, not only what the page drew. Models are tiny (5 → 2) and slowed down
with the speed control, so each test takes a few seconds on two cores.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, WebSocket

from tests.e2e.conftest import FINISHED, Console, hash_params

pytestmark = pytest.mark.e2e

SMALL = "n_features=5&n_hidden=2&feature_probability=0.1&steps=1500"
PROGRESS = "document.getElementById('progress').dataset"


class Frames:
    """Every frame on the page's live socket, both ways, parsed."""

    def __init__(self, page: Page) -> None:
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        page.on("websocket", self._watch)

    def _watch(self, ws: WebSocket) -> None:
        if not ws.url.endswith("/api/models/live"):
            return
        ws.on("framesent", lambda payload: self.sent.append(json.loads(payload)))
        ws.on("framereceived", lambda payload: self.received.append(json.loads(payload)))

    def requests(self) -> list[dict[str, Any]]:
        """The ModelRequests sent (control messages have a `type`)."""
        return [frame for frame in self.sent if "type" not in frame]

    def snapshots(self) -> list[dict[str, Any]]:
        return [frame for frame in self.received if frame.get("type") == "snapshot"]


def is_snapshot(message: dict[str, Any], seq: int) -> bool:
    return message.get("type") == "snapshot" and message["seq"] == seq


def weights(message: dict[str, Any]) -> list[list[float]]:
    """W of a snapshot's or a done message's first instance."""
    body = message["result"] if message.get("type") == "done" else message
    return body["instances"][0]["W"]


def max_change(a: list[list[float]], b: list[list[float]]) -> float:
    return max(
        abs(x - y)
        for row_a, row_b in zip(a, b, strict=True)
        for x, y in zip(row_a, row_b, strict=True)
    )


def wait_for(page: Page, condition, timeout_s: float = 60.0) -> None:
    """Poll a Python condition on recorded frames: they arrive while Playwright waits, so wait
    with the page (time.sleep would block its event loop)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)


def test_carry_on_keeps_the_weights_continuous(live_server: str, page: Page) -> None:
    """Dragging p with carry-on trains on from the weights shown: every new run starts where the
    last snapshot stopped (no jump back to noise). Reset weights does jump back to noise."""
    console = Console(page)
    frames = Frames(page)
    page.goto(f"{live_server}/#{SMALL}&seed=21")
    page.wait_for_function(FINISHED)
    page.locator("#speed").select_option("30")  # slow: snapshots a step or two apart
    assert hash_params(page.url)["speed"] == "30"
    assert page.locator("#carry-on").is_checked()
    trained = next(m for m in reversed(frames.received) if m.get("type") == "done")
    norms = trained["result"]["instances"][0]["feature_norms"]
    # Trained: (nearly) every feature has a norm near 1, far from a random initialisation.
    assert sum(norm > 0.9 for norm in norms) >= 4, norms

    slider = page.locator("#feature_probability")
    for position in ["-1.2", "-1.4", "-1.6"]:
        seq = len(frames.requests()) + 1  # the request this move sends (one socket)
        slider.fill(position)  # one step of a drag: an input event
        wait_for(page, lambda seq=seq: any(is_snapshot(m, seq) for m in frames.received))
        request = frames.requests()[seq - 1]
        assert request["init_from"] == "current", request
        assert request["feature_probability"] == pytest.approx(10 ** float(position), rel=0.01)
        # The new run's first snapshot is one or two slow steps from the last weights sent.
        received = frames.received
        first = next(i for i, m in enumerate(received) if is_snapshot(m, seq))
        previous = next(
            m for m in reversed(received[:first]) if m.get("type") in ("snapshot", "done")
        )
        assert max_change(weights(previous), weights(received[first])) < 0.05
    assert hash_params(page.url)["carry"] == "on"

    # Reset weights: a fresh initialisation, far from the trained weights.
    last = weights(frames.snapshots()[-1])
    seq = len(frames.requests()) + 1
    page.locator("#reset-weights").click()
    wait_for(page, lambda: any(is_snapshot(m, seq) for m in frames.received))
    request = frames.requests()[seq - 1]
    assert request.get("init_from") is None and request["retrain"] is True, request
    fresh = next(m for m in frames.received if is_snapshot(m, seq))
    assert max_change(last, weights(fresh)) > 0.3
    console.assert_clean()


def test_pause_step_resume(live_server: str, page: Page) -> None:
    """Pause stops the step counter, Step k advances exactly k steps and pauses, Play goes on."""
    console = Console(page)
    frames = Frames(page)
    page.goto(f"{live_server}/#n_features=5&n_hidden=2&steps=20000&seed=22&speed=100")
    page.wait_for_function(f"{PROGRESS}.state === 'training' && Number({PROGRESS}.step) > 0")
    sent = [m for m in frames.sent if m.get("type") == "speed"]
    assert sent and sent[-1]["steps_per_second"] == 100

    page.locator("#play").click()
    page.wait_for_function(f"{PROGRESS}.state === 'paused'", polling=100)
    assert page.locator("#transport").get_attribute("data-paused") == "true"
    assert "Play" in page.locator("#play").inner_text()
    paused_at = int(page.locator("#progress").get_attribute("data-step"))
    page.wait_for_timeout(1000)  # 100 steps/s would have moved on by about 100
    assert int(page.locator("#progress").get_attribute("data-step")) == paused_at
    assert "paused" in page.locator("#progress").inner_text()

    page.locator("#step-size").fill("25")
    page.locator("#step").click()
    page.wait_for_function(
        f"{PROGRESS}.state === 'paused' && Number({PROGRESS}.step) === {paused_at + 25}",
        polling=100,
    )
    assert {"type": "step", "steps": 25} in frames.sent
    page.wait_for_timeout(500)
    assert int(page.locator("#progress").get_attribute("data-step")) == paused_at + 25

    page.locator("#play").click()
    page.wait_for_function(
        f"{PROGRESS}.state === 'training' && Number({PROGRESS}.step) > {paused_at + 25}",
        polling=100,
    )
    assert {"type": "resume"} in frames.sent
    assert "Pause" in page.locator("#play").inner_text()
    # One request only: pausing, stepping and resuming kept the same model.
    assert len(frames.requests()) == 1
    console.assert_clean()


def test_linked_highlight(live_server: str, page: Page) -> None:
    """Hovering feature i (its table row, or a Gram cell) marks its Gram row and column, its
    direction arrow, its norm bar and its table row."""
    console = Console(page)
    page.goto(f"{live_server}/#{SMALL}&seed=23")
    page.wait_for_function(FINISHED)

    # WᵀW's colours are fixed (±1, documented in the colour bar), not rescaled per frame.
    gram = page.evaluate("document.getElementById('gram').data[0]")
    assert (gram["zmin"], gram["zmax"]) == (-1, 1)
    assert "fixed" in gram["colorbar"]["title"]["text"]

    page.locator("#features-body tr[data-feature='3']").hover()
    page.wait_for_function("document.querySelector('.plots').dataset.highlight === '3'")
    page.wait_for_function("document.getElementById('gram').dataset.highlight === '3'")
    shapes = page.evaluate("document.getElementById('gram').layout.shapes")
    assert len(shapes) == 2
    assert {(s["y0"], s["y1"]) for s in shapes} >= {(2.5, 3.5)}  # row 3
    assert {(s["x0"], s["x1"]) for s in shapes} >= {(2.5, 3.5)}  # column 3
    norms = page.evaluate("document.getElementById('norms').layout.shapes")
    assert [(s["y0"], s["y1"]) for s in norms] == [(2.5, 3.5)]
    arrow = page.evaluate("document.getElementById('geometry').data[0]")
    w = page.evaluate("document.getElementById('geometry').data[1]")
    assert arrow["x"][1] == pytest.approx(w["x"][3 * 3 + 1])  # the arrow of feature 3
    assert page.locator("#features-body tr.highlight").get_attribute("data-feature") == "3"

    # Hovering a cell of WᵀW (row 1, column 4) with the mouse moves the highlight there.
    page.locator("#gram").scroll_into_view_if_needed()
    x, y = page.evaluate(
        """() => {
            const el = document.getElementById('gram');
            const {xaxis, yaxis} = el._fullLayout;
            const box = el.getBoundingClientRect();
            const x = box.left + xaxis._offset + xaxis.l2p(4);
            return [x, box.top + yaxis._offset + yaxis.l2p(1)];
        }"""
    )
    page.mouse.move(x, y)
    page.wait_for_function("document.querySelector('.plots').dataset.highlight === '1'")
    assert page.locator("#features-body tr.highlight").get_attribute("data-feature") == "1"
    page.locator("h1").hover()
    page.wait_for_function("document.querySelector('.plots').dataset.highlight === '-1'")
    assert page.locator("#features-body tr.highlight").count() == 0
    console.assert_clean()


def test_presentation_mode(live_server: str, page: Page) -> None:
    """Present: two figures the width of a 1024 × 768 screen, large fonts, the sidebar tucked
    away and reachable; the layout is in the URL."""
    console = Console(page)
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{live_server}/#{SMALL}&seed=24")
    page.wait_for_function(FINISHED)
    page.locator("#present-toggle").click()
    page.wait_for_function("document.body.dataset.present === 'gram-geometry'")
    assert hash_params(page.url)["present"] == "gram-geometry"
    page.wait_for_function("(document.getElementById('gram').layout?.font?.size ?? 0) >= 18")
    assert not page.locator("#controls").is_visible()
    assert page.locator("#gram").is_visible() and page.locator("#geometry").is_visible()
    assert not page.locator("#norms").is_visible()
    gram = page.locator("#gram").bounding_box()
    geometry = page.locator("#geometry").bounding_box()
    assert gram and geometry
    assert gram["width"] > 420 and geometry["width"] > 420  # two figures share the width
    assert gram["height"] > 450  # and most of the height

    page.locator("#controls-toggle").click()
    assert page.locator("#controls").is_visible()
    page.locator("#controls-toggle").click()

    # A presentation link opens in presentation mode, with one figure.
    page.goto(f"{live_server}/#{SMALL}&seed=24&present=geometry")
    page.reload()
    page.wait_for_function(FINISHED)
    assert page.locator("#geometry").is_visible()
    assert not page.locator("#gram").is_visible()
    assert page.locator("#geometry").bounding_box()["width"] > 900
    page.locator("#present-toggle").click()  # exit
    page.wait_for_function("!document.body.dataset.present")
    assert page.locator("#controls").is_visible()
    console.assert_clean()


def test_out_of_range_field_shows_its_limit_and_sends_nothing(live_server: str, page: Page) -> None:
    """n = 20,000 over max_features (10,000): the limit shows by the field, nothing is sent."""
    console = Console(page)
    frames = Frames(page)
    page.goto(f"{live_server}/#{SMALL}&seed=25")
    page.wait_for_function(FINISHED)
    count = len(frames.sent)
    url = page.url

    field = page.locator("#n_features")
    field.fill("20000")
    field.press("Enter")
    note = page.locator("#n_features-limit")
    note.wait_for(state="visible")
    assert "10000" in note.inner_text() and "max_features" in note.inner_text()
    assert field.get_attribute("aria-invalid") == "true"
    page.wait_for_timeout(500)  # past the debounce
    assert len(frames.sent) == count
    assert page.url == url
    assert page.locator("#progress").get_attribute("data-state") in ("done", "cached")

    # A value within the limit clears the note and trains.
    field.fill("6")
    field.press("Enter")
    note.wait_for(state="hidden")
    wait_for(page, lambda: len(frames.requests()) > 1)
    assert frames.requests()[-1]["n_features"] == 6
    console.assert_clean()


def test_side_by_side_comparison(live_server: str, page: Page) -> None:
    """compare.html: two explorers, each with its own URL state, kept in the page's link."""
    console = Console(page)
    left = f"{SMALL}&seed=26&present=geometry"
    right = "n_features=5&n_hidden=2&feature_probability=0.02&steps=1500&seed=26&present=geometry"
    quoted = {"left": left, "right": right}
    page.goto(f"{live_server}/compare.html#{urlencode(quoted)}")
    frames = {side: page.frame_locator(f"#{side}") for side in ("left", "right")}
    for side in frames:
        frames[side].locator(
            "#progress[data-state='done'], #progress[data-state='cached']"
        ).wait_for()
        assert frames[side].locator("#geometry").is_visible()
    left_frame = page.frame(url=lambda url: "feature_probability=0.1" in url)
    right_frame = page.frame(url=lambda url: "feature_probability=0.02" in url)
    assert left_frame and right_frame and left_frame != right_frame

    # A change in one frame changes that frame's state only, and the page's link follows.
    left_frame.evaluate("location.hash = location.hash.replace('seed=26', 'seed=27')")
    page.wait_for_function("decodeURIComponent(location.hash).includes('seed=27')", polling=100)
    params = hash_params(page.url)
    assert "seed=27" in params["left"] and "seed=26" in params["right"]
    console.assert_clean()
