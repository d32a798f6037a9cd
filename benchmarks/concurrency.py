"""Many users, one worker: 32 concurrent clients against the same 32 requests one after another.

Starts ``python -m server`` (CPU, an empty temporary cache). 32 distinct n=5 → m=2 requests
(default view, 3,000 steps, one restart, each its own feature probability and seed) are sent
first one after another, each waiting for its result, then, with other seeds so nothing is
cached, all at once from 32 concurrent clients. The worker coalesces the concurrent ones into one
batch. Reports wall time of each phase and the throughput ratio.

    python benchmarks/concurrency.py [--clients 32]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.serve import serving


def requests(clients: int, seed_offset: int) -> list[dict[str, Any]]:
    return [
        {
            "n_features": 5,
            "n_hidden": 2,
            "feature_probability": 0.01 + 0.3 * k / clients,
            "importance_decay": 0.9,
            "steps": 3000,
            "seed": seed_offset + k,
        }
        for k in range(clients)
    ]


async def post_all(base: str, bodies: list[dict[str, Any]], concurrent: bool) -> float:
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:

        async def post(body: dict[str, Any]) -> None:
            response = await client.post("/api/models", json=body)
            response.raise_for_status()
            assert response.json()["cached"] is False

        start = time.perf_counter()
        if concurrent:
            await asyncio.gather(*(post(body) for body in bodies))
        else:
            for body in bodies:
                await post(body)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache, serving(Path(cache)) as base:
        sequential = asyncio.run(post_all(base, requests(args.clients, 0), concurrent=False))
        together = asyncio.run(post_all(base, requests(args.clients, 1000), concurrent=True))
    n = args.clients
    print("| phase | wall s | trainings / s |\n|---|---|---|")
    print(f"| {n} requests one after another | {sequential:.2f} | {n / sequential:.1f} |")
    print(f"| {n} concurrent clients | {together:.2f} | {n / together:.1f} |")
    print(f"\nthroughput ratio (concurrent / sequential): {sequential / together:.1f}×")


if __name__ == "__main__":
    main()
