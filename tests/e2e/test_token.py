"""A server started with --token, in real Chromium: a page opened without the token says so; one
opened as ?token=… trains live, measures the model's interference (REST calls with the token), and
keeps the token when it moves to the phase-diagram and power pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from benchmarks.serve import start_server, stop_server
from tests.e2e.conftest import FINISHED, Console

TOKEN = "room-42-secret-token"


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, base = start_server(
        tmp_path_factory.mktemp("token_cache"), env={"SUPERPOSITION_TOKEN": TOKEN}
    )
    try:
        yield base
    finally:
        stop_server(proc)


@pytest.mark.parametrize("path", ["/#n_features=4&n_hidden=2&steps=200", "/power.html"])
def test_without_the_token_the_page_says_what_is_missing(
    guarded_server: str, page: Page, path: str
) -> None:
    page.goto(f"{guarded_server}{path}")
    banner = page.locator("#error")
    banner.wait_for(state="visible")
    assert "token" in banner.inner_text()


def test_with_the_token_the_pages_train_live(guarded_server: str, page: Page) -> None:
    console = Console(page)
    page.goto(f"{guarded_server}/?token={TOKEN}#n_features=4&n_hidden=2&steps=300&seed=3")
    page.wait_for_function(FINISHED)
    assert page.locator("#error").is_hidden()
    page.wait_for_function("document.getElementById('interference').dataset.state === 'ready'")
    # Other pages of the same tab, opened without ?token=, still have it.
    page.goto(f"{guarded_server}/phase.html#grid_size=3&steps=30&n_restarts=1")
    page.wait_for_function(FINISHED)
    assert page.locator("#error").is_hidden()
    page.goto(f"{guarded_server}/power.html#k=3&m=2&points=2&steps=100")
    page.wait_for_function("document.getElementById('progress').dataset.state === 'done'")
    assert page.locator("#error").is_hidden()
    console.assert_clean()
