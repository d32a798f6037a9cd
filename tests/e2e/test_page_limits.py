"""The shared page controller's out-of-range rule on the phase, power and memorisation pages
(issue 16): a typed number beyond its limit shows the limit beside the field and sends nothing;
an empty "automatic" field is said so, not a hidden 0. (The explorer's is in
test_explorer_live.py, the gallery's in test_gallery.py.)"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import FINISHED, Console, hash_params

pytestmark = pytest.mark.e2e

PHASE_SMALL = "n_features=2&grid_size=4&p_first=1&p_last=0.01&r_first=0.1&r_last=10&steps=100"
POWER_SMALL = "k=3&m=2&magnitude=uniform&n_features=auto&p_min=0.01&p_max=0.1&points=2&steps=100"


def test_phase_page_refuses_out_of_range_and_says_auto(live_server: str, page: Page) -> None:
    console = Console(page)
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    page.goto(f"{live_server}/phase.html#{PHASE_SMALL}")
    page.wait_for_function(FINISHED)
    # Restarts: automatic, said so (an empty field showing "auto"; the link says auto).
    assert page.locator("#n_restarts").input_value() == ""
    assert page.locator("#n_restarts").get_attribute("placeholder") == "auto"
    assert hash_params(page.url)["n_restarts"] == "auto"
    assert "n_restarts" not in json.loads(sent[-1])

    count, url = len(sent), page.url
    page.locator("#grid_size").fill("999")
    page.locator("#grid_size").press("Enter")
    note = page.locator("#grid_size-limit")
    note.wait_for(state="visible")
    assert "64" in note.inner_text()
    page.wait_for_timeout(600)  # past the debounce
    assert len(sent) == count and page.url == url

    page.locator("#n_restarts").fill("2")
    page.locator("#n_restarts").press("Enter")
    page.wait_for_function("location.hash.includes('n_restarts=2')", polling=100)
    console.assert_clean()


def test_power_page_refuses_out_of_range(live_server: str, page: Page) -> None:
    console = Console(page)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(f"{live_server}/power.html#{POWER_SMALL}")
    page.wait_for_function(FINISHED)
    assert page.locator("#n_features").input_value() == ""
    assert page.locator("#n_features").get_attribute("placeholder") == "auto"

    count, url = len(posts), page.url
    page.locator("#n_features").fill("20000")
    page.locator("#n_features").press("Enter")
    note = page.locator("#n_features-limit")
    note.wait_for(state="visible")
    assert "10000" in note.inner_text() and "max_features" in note.inner_text()
    page.wait_for_timeout(600)
    assert len(posts) == count and page.url == url
    console.assert_clean()


MEMO_SMALL = (
    "n_features=8&n_hidden=2&p=0.1&t_min=3&t_max=10&points=3&steps=60&warmup_steps=10&lr=0.005"
    "&n_restarts=1&seed=0"
)


def test_memorisation_page_refuses_out_of_range(live_server: str, page: Page) -> None:
    """The memorisation page is on page.js too: beyond max_features, the limit beside the field
    and no request on its socket, nor in the URL."""
    console = Console(page)
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    page.goto(f"{live_server}/memorisation.html#{MEMO_SMALL}")
    page.wait_for_function(FINISHED)
    count, url = len(sent), page.url
    page.locator("#n_features").fill("20000")
    page.locator("#n_features").press("Enter")
    note = page.locator("#n_features-limit")
    note.wait_for(state="visible")
    assert "10000" in note.inner_text() and "max_features" in note.inner_text()
    page.wait_for_timeout(600)  # past the debounce
    assert len(sent) == count and page.url == url
    console.assert_clean()
