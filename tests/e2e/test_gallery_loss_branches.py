"""The gallery's pentagon-collapse-seeds card (issue 21): every seed's loss against feature 4's
1/(1 − S), coloured by the branch it ended on (pentagon or two digons), drawn from the shipped
cache in headless Chromium against a real server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page

from benchmarks.serve import start_server, stop_server
from server.claims import geometry
from server.presets import presets
from server.results import ModelTask
from tests.e2e.conftest import Console
from tests.server.test_shipped_cache import shipped

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DRAWN = "document.getElementById('detail').dataset.state === 'drawn'"
PRESET = next(p for p in presets() if p.id == "pentagon-collapse-seeds")
ENTRY = ModelTask(PRESET.requests[0]).id


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cache = tmp_path_factory.mktemp("branches") / "cache"
    shutil.copytree(ROOT / "models_cache" / ENTRY, cache / ENTRY)
    proc, base = start_server(cache)
    try:
        yield base
    finally:
        stop_server(proc)


def test_the_card_colours_every_seed_by_its_branch(server: str, page: Page, tmp_path: Path) -> None:
    console = Console(page)
    page.goto(f"{server}/gallery.html#preset=pentagon-collapse-seeds")
    page.wait_for_function(DRAWN, timeout=60_000)
    data = page.evaluate(
        "() => document.querySelector('#view [data-plot=branches]').data.map((t) => "
        "({name: t.name, x: Array.from(t.x), y: Array.from(t.y), k: Array.from(t.customdata)}))"
    )
    instances = shipped(PRESET.id, tmp_path).instances
    drawn = {k for trace in data for k in trace["k"]}
    assert drawn == set(range(len(instances)))  # every seed, none picked over another
    for trace, kind in zip(data, ("pentagon", "collapsed", "other"), strict=True):
        for k, x, y in zip(trace["k"], trace["x"], trace["y"], strict=True):
            instance = instances[k]
            assert geometry(np.array(instance.W), 4) == kind  # the server's classification
            assert isinstance(instance.feature_probability, list)
            assert x == pytest.approx(1 / instance.feature_probability[4])
            assert y == pytest.approx(instance.loss)
    assert len(data[0]["k"]) > 0 and len(data[1]["k"]) > 0
    console.assert_clean()
