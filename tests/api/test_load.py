"""Load against a real server: 64 slider-moving sockets and 16 REST clients for 10 s (the CI
version of ``python -m benchmarks.load``), and a client that leaves mid-training."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from benchmarks.load import explorer_request, run_load, settle, ws_url
from benchmarks.serve import start_server, stop_server
from server.tms import fused

# asyncio's default executor (uvloop's too), behind the server's asyncio.to_thread, starts its
# threads lazily, up to this many; the server runs on this same machine.
ASYNCIO_POOL = min(32, (os.cpu_count() or 1) + 4)
# Starlette would run sync code (a plain-def dependency, say) in AnyIO's worker threads, which end
# only once idle for 10 s, checked when the next one is needed: give such threads that long.
ANYIO_IDLE_S = 10


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A real server with a fresh, empty cache of its own."""
    proc, base = start_server(tmp_path / "cache")
    try:
        yield base
    finally:
        stop_server(proc)


def health(base: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/health", timeout=30)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.timeout(180)
def test_64_sockets_and_16_rest_clients_without_errors_or_leaks(server: str) -> None:
    # One tiny training first, so that torch's threads and the server's pools exist.
    warm_up = explorer_request(0.5, seed=99, steps=10)
    assert httpx.post(f"{server}/api/models", json=warm_up, timeout=60).status_code == 200
    baseline = health(server)

    report = asyncio.run(
        run_load(server, ws_clients=64, rest_clients=16, seconds=10, request_timeout_s=60)
    )

    assert report.errors == 0, "\n".join(report.error_examples)
    assert report.ws_completed + report.rest_completed > 0, report.table()
    assert report.rest_completed >= 16, report.table()  # each REST client's last POST at least
    assert report.ws_answered >= 2 * 64, report.table()  # about 500 on a 2-core machine

    # Every client has left: no job, run, socket or asyncio task may be left behind. The
    # asyncio pool may have grown lazily up to its size; any other thread growth is a leak.
    bound = baseline["threads"] + ASYNCIO_POOL
    after = asyncio.run(
        settle(server, timeout=ANYIO_IDLE_S + 30, tasks=baseline["tasks"], threads=bound)
    )
    assert after["jobs"] == 0, after
    assert after["training_runs"] == 0, after
    assert after["live_sockets"] == 0, after
    assert after["tasks"] == baseline["tasks"], (baseline, after)
    assert after["threads"] <= bound, (baseline, after)


@pytest.mark.timeout(180)
def test_a_client_leaving_mid_training_stops_its_training(server: str) -> None:
    # 50,000 steps: many seconds of training, even on a fast machine.
    request = explorer_request(0.05, seed=123_456, steps=50_000)
    with connect(ws_url(server), max_size=None, proxy=None) as ws:
        ws.send(json.dumps(request))
        first = json.loads(ws.recv(timeout=60))
        assert first["type"] == "snapshot", first
        assert health(server)["training_runs"] == 1
    left = time.monotonic()
    deadline = left + 5
    while (now := health(server))["jobs"] or now["training_runs"]:
        assert time.monotonic() < deadline, f"still training 5 s after the client left: {now}"
        time.sleep(0.05)
    assert now["live_sockets"] == 0, now
    # Not finished early either: a finished training is stored before its job ends.
    stored = httpx.get(f"{server}/api/models/{first['id']}", timeout=30)
    assert stored.status_code == 404, stored.text


@pytest.mark.timeout(180)
def test_a_rest_client_leaving_cancels_its_training_unless_a_job_waits(server: str) -> None:
    """Before: 20 POSTs of 20,000 steps with a 0.5 s client timeout all trained to the end and
    were stored."""
    # 40 → 30 takes the eager step (n·m above the fused step's limit): seconds of training, so
    # the clients leave long before it ends (the explorer's 5 → 2 ends in under a second now)
    assert fused.FUSED_MAX_WEIGHTS < 40 * 30
    bodies = [
        explorer_request(0.05, seed=777 + k, steps=20_000) | {"n_features": 40, "n_hidden": 30}
        for k in range(4)
    ]
    for body in bodies:
        with pytest.raises(httpx.TimeoutException):
            httpx.post(f"{server}/api/models", json=body, timeout=0.5)
    deadline = time.monotonic() + 10
    while (now := health(server))["jobs"] or now["training_runs"]:
        assert time.monotonic() < deadline, f"still training after its clients left: {now}"
        time.sleep(0.05)
    # A job waiting for the same model keeps it training when the REST client leaves.
    job = httpx.post(f"{server}/api/jobs", json={"model": bodies[0]}, timeout=30).json()
    with pytest.raises(httpx.TimeoutException):
        httpx.post(f"{server}/api/models", json=bodies[0], timeout=0.5)
    time.sleep(0.5)
    assert health(server)["training_runs"] == 1
    assert httpx.get(f"{server}/api/jobs/{job['id']}", timeout=30).json()["status"] == "running"
    assert httpx.delete(f"{server}/api/jobs/{job['id']}", timeout=30).status_code in (200, 202)
