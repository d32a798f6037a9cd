"""The cache survives a process killed with SIGKILL while it writes: no partial entry is ever
served, and after a restart every entry either loads and verifies or is ignored and retrained."""

from __future__ import annotations

import multiprocessing
import os
import random
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import server.cache as cache_module
from benchmarks.serve import start_server
from server.api.schemas.models import ModelRequest
from server.cache import ModelCache
from tests.server.test_cache import REQUEST, make_result

ROOT = Path(__file__).resolve().parents[2]
ENTRY = re.compile(r"[0-9a-f]{64}")
KILLS = 20


def write_and_die(point: str, root: Path) -> None:
    """In a forked child: store one model, dying with SIGKILL at ``point`` of the write."""
    real_write, real_rename = cache_module._fsync_write, os.rename

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def write(path: Path, data: bytes) -> None:
        if point == f"half-{path.name}":
            with open(path, "wb") as f:
                f.write(data[: len(data) // 2])
                f.flush()
            die()
        real_write(path, data)
        if point == f"after-{path.name}":
            die()

    def rename(src: Path, dst: Path) -> None:
        if point == "before-rename":
            die()
        real_rename(src, dst)
        if point == "after-rename":
            die()

    cache_module._fsync_write = write
    os.rename = rename  # type: ignore[assignment]
    result, W, b = make_result(REQUEST)
    cache_module.ModelCache(root).save(result, W, b)


# Where the writer dies, and whether the entry must then be served (only once it is renamed).
POINTS = {
    "half-weights.safetensors": False,
    "after-weights.safetensors": False,
    "half-meta.json": False,
    "after-meta.json": False,
    "before-rename": False,
    "after-rename": True,
    "never": True,
}


@pytest.mark.parametrize("point", POINTS)
def test_a_writer_killed_at_any_point_leaves_a_whole_entry_or_none(
    point: str, tmp_path: Path
) -> None:
    child = multiprocessing.get_context("fork").Process(
        target=write_and_die, args=(point, tmp_path)
    )
    child.start()
    child.join(timeout=120)
    killed = child.exitcode == -signal.SIGKILL
    assert killed == (point != "never"), child.exitcode
    expected, _, _ = make_result(REQUEST)
    cache = ModelCache(tmp_path)
    loaded = cache.load(expected.id)
    if POINTS[point]:
        assert loaded is not None
        assert loaded.model_dump(exclude={"cached"}) == expected.model_dump(exclude={"cached"})
    else:
        assert loaded is None
        assert not (tmp_path / expected.id).exists()
        # The dead writer's temporary folder (if it got that far) went when the cache reopened.
        assert list(tmp_path.iterdir()) == []


# A training big enough that writing its entry takes a while (a few hundred kB of meta.json).
def request_body(seed: int) -> dict[str, Any]:
    return {
        "n_features": 48,
        "n_hidden": 2,
        "feature_probability": [0.05, 0.1, 0.2, 0.4],
        "steps": 2,
        "batch_size": 8,
        "seed": seed,
    }


def check_every_entry(base: str, cache: Path, requests: dict[str, dict[str, Any]]) -> int:
    """Every entry folder is served whole or refused (then gone) and retrained; returns how many
    entries had to be retrained."""
    retrained = 0
    with httpx.Client(timeout=120) as client:
        for entry in sorted(p for p in cache.iterdir() if ENTRY.fullmatch(p.name)):
            response = client.get(f"{base}/api/models/{entry.name}")
            if response.status_code == 200:
                result = response.json()
                assert result["id"] == entry.name and result["cached"] is True
                request = ModelRequest.model_validate(result["request"])
                assert request.model_id() == entry.name
                assert len(result["instances"]) == request.n_instances
                assert all(len(i["W"]) == request.n_hidden for i in result["instances"])
                continue
            assert response.status_code == 404, response.text
            assert not entry.exists()  # an unusable entry is removed…
            again = client.post(f"{base}/api/models", json=requests[entry.name])
            assert again.status_code == 200 and again.json()["cached"] is False  # …and retrained
            assert client.get(f"{base}/api/models/{entry.name}").status_code == 200
            retrained += 1
    return retrained


def post_until_killed(base: str, seeds: list[int], stop: threading.Event) -> None:
    with httpx.Client(timeout=60) as client:
        for seed in seeds:
            if stop.is_set():
                return
            try:
                client.post(f"{base}/api/models", json=request_body(seed))
            except httpx.HTTPError:  # the server was killed under us
                return


def wait_for_a_write(cache: Path, timeout: float) -> bool:
    """Poll until a temporary folder (an entry being written) appears."""
    before = {p.name for p in cache.iterdir()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(n.startswith(".tmp-") and n not in before for n in os.listdir(cache)):
            return True
        time.sleep(0.0005)
    return False


def wait_for_entries(cache: Path, count: int, timeout: float) -> bool:
    """Poll until the cache holds at least ``count`` finished entries."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(bool(ENTRY.fullmatch(n)) for n in os.listdir(cache)) >= count:
            return True
        time.sleep(0.01)
    return False


@pytest.mark.timeout(900)
def test_sigkill_while_writing_never_corrupts_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    rng = random.Random(0)
    requests: dict[str, dict[str, Any]] = {}
    unfinished_writes = 0  # kills that left a write unfinished (its temporary folder)
    for kill in range(KILLS):
        proc, base = start_server(cache)
        before = set(os.listdir(cache))
        try:
            check_every_entry(base, cache, requests)
            seeds = [kill * 1000 + k for k in range(50)]
            for seed in seeds:
                requests[ModelRequest(**request_body(seed)).model_id()] = request_body(seed)
            stop = threading.Event()
            posters = [
                threading.Thread(target=post_until_killed, args=(base, seeds[i::2], stop))
                for i in range(2)
            ]
            for poster in posters:
                poster.start()
            # Mostly kill the moment an entry starts to be written; sometimes at a random time
            # once a few entries were written in this life (on a slow machine a fixed sleep may
            # end before the first one), so the loop really writes entries between the kills.
            if kill % 4:
                wait_for_a_write(cache, timeout=60)
            else:
                entries = sum(bool(ENTRY.fullmatch(n)) for n in before)
                wait_for_entries(cache, entries + 5, timeout=60)
                time.sleep(rng.uniform(0.0, 1.0))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            stop.set()
        for poster in posters:
            poster.join(timeout=60)
        unfinished_writes += any(n.startswith(".tmp-") for n in set(os.listdir(cache)) - before)
    proc, base = start_server(cache)
    try:
        retrained = check_every_entry(base, cache, requests)
        stored = [p for p in cache.iterdir() if ENTRY.fullmatch(p.name)]
        health = httpx.get(f"{base}/api/health").json()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert len(stored) >= KILLS  # the loop really wrote entries between the kills
    # At least some kills landed mid-write (on a fast disk most do); all of them were survived.
    assert unfinished_writes >= KILLS // 4, (unfinished_writes, retrained)
    assert health["status"] == "ok"
