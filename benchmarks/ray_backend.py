"""Trainings per second: the local backend against the Ray backend with 1 and 2 actors.

Starts ``python -m server`` three times (CPU, an empty temporary cache each): ``--backend local``
(one worker thread, torch's default threads), then ``--backend ray --workers 1`` and
``--workers 2`` (a local Ray instance the server starts; each actor trains with one thread on one
CPU). Each server gets the same trainings from concurrent clients, all at once: ``--trainings``
distinct models in two training shapes (half n=5 → m=2, half n=20 → m=5; 2,000 steps, one
restart, each its own feature probability and seed). Reports the wall time from the first request
to the last result, trainings per second, and the ratio to the local backend measured in the same
run. Also checks that every backend returned the same weights for every model.

    python -m benchmarks.ray_backend [--trainings 16] [--steps 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.serve import start_server, stop_server


def trainings(count: int, steps: int) -> list[dict[str, Any]]:
    """``count`` distinct requests, half of each of two training shapes."""
    shapes = [{"n_features": 5, "n_hidden": 2}, {"n_features": 20, "n_hidden": 5}]
    return [
        shapes[k % 2]
        | {
            "feature_probability": 0.01 + 0.3 * k / count,
            "importance_decay": 0.9,
            "steps": steps,
            "seed": k,
        }
        for k in range(count)
    ]


async def post_all(base: str, bodies: list[dict[str, Any]]) -> tuple[float, list[Any]]:
    """Wall time of all the requests at once, and each result's weights."""
    async with httpx.AsyncClient(base_url=base, timeout=1800) as client:

        async def post(body: dict[str, Any]) -> Any:
            response = await client.post("/api/models", json=body)
            response.raise_for_status()
            result = response.json()
            assert result["cached"] is False
            return [instance["W"] for instance in result["instances"]]

        start = time.perf_counter()
        weights = await asyncio.gather(*(post(body) for body in bodies))
        return time.perf_counter() - start, weights


def measure(args: list[str], bodies: list[dict[str, Any]]) -> tuple[float, list[Any]]:
    with tempfile.TemporaryDirectory() as cache:
        proc, base = start_server(Path(cache), *args, startup_s=300)
        try:
            return asyncio.run(post_all(base, bodies))
        finally:
            stop_server(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trainings", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    bodies = trainings(args.trainings, args.steps)
    backends = {
        "local (1 worker thread)": ["--backend", "local"],
        "ray, 1 actor": ["--backend", "ray", "--workers", "1"],
        "ray, 2 actors": ["--backend", "ray", "--workers", "2"],
    }
    print(f"{args.trainings} trainings of {args.steps} steps, all at once; {os.cpu_count()} CPUs")
    print(f"{'backend':<26} {'wall s':>8} {'trainings/s':>12} {'vs local':>9}")
    reference: float | None = None
    first: list[Any] | None = None
    for name, flags in backends.items():
        seconds, weights = measure(flags, bodies)
        rate = len(bodies) / seconds
        reference = reference or rate
        print(f"{name:<26} {seconds:>8.2f} {rate:>12.2f} {rate / reference:>8.2f}x")
        first = first or weights
        assert weights == first, f"{name} returned other weights than the local backend"
    print("every backend returned the same weights for every training")


if __name__ == "__main__":
    main()
