"""How live the explorer feels: latencies of slider-like requests against a real running server.

Starts ``python -m server`` (CPU, an empty temporary cache) and drives one WebSocket the way the
page does. The requests are the default view (n=5 → m=2, I=0.9ⁱ, ReLU, 3,000 steps) with
``n_restarts=4``, at 50 feature probabilities swept like a slider from 0.01 to 1. It reports
p50 and p95 of:

- fresh: from sending a request to its first snapshot, and to its finished result;
- moved mid-training: a new request sent while the previous one trains, to its first snapshot;
- cached: the same 50 requests again, to the finished result.

With ``--quality`` it also trains the notebook-style reference (``reference.py``) for 10,000 steps
with 4 restarts at five of those probabilities, and prints the live result's loss against it
(best restart against best restart, both evaluated on the same 2²⁰ fresh inputs: at p = 0.01 a
2¹⁶-sample estimate of L still varies by a few per cent).

    python benchmarks/live_latency.py [--quality]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from websockets.sync.client import ClientConnection, connect

from benchmarks.reference import train_reference
from benchmarks.serve import serving
from server.tms.data import PAPER_FEATURES
from server.tms.model import Architecture
from server.tms.training import evaluate

IMPORTANCE = [0.9**i for i in range(5)]


def request(p: float) -> dict[str, Any]:
    return {
        "n_features": 5,
        "n_hidden": 2,
        "feature_probability": p,
        "importance": IMPORTANCE,
        "steps": 3000,
        "n_restarts": 4,
        "seed": 0,
    }


def until(ws: ClientConnection, kind: str, seq: int) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv(timeout=120))
        if message["type"] == "error":
            raise RuntimeError(message)
        if message["type"] == kind and message["seq"] == seq:
            return message


def percentiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=20)
    return f"{statistics.median(values) * 1e3:.0f} | {q[18] * 1e3:.0f}"


def measure(base: str, probabilities: list[float]) -> tuple[dict[str, list[float]], list[Any]]:
    times: dict[str, list[float]] = {"first": [], "done": [], "moved": [], "cached": []}
    results = []
    url = base.replace("http", "ws", 1) + "/api/models/live"
    with connect(url, max_size=None) as ws:
        seq = 0
        for p in probabilities:  # fresh, waiting for each to finish
            seq += 1
            start = time.perf_counter()
            ws.send(json.dumps(request(p)))
            until(ws, "snapshot", seq)
            times["first"].append(time.perf_counter() - start)
            results.append(until(ws, "done", seq)["result"])
            times["done"].append(time.perf_counter() - start)
        for p in probabilities:  # a slider moved while the previous request trains
            seq += 1
            ws.send(json.dumps(request(p) | {"seed": 1}))
            until(ws, "snapshot", seq)
            seq += 1
            start = time.perf_counter()
            ws.send(json.dumps(request(p) | {"seed": 2}))
            until(ws, "snapshot", seq)
            times["moved"].append(time.perf_counter() - start)
        for p in probabilities:  # cached
            seq += 1
            start = time.perf_counter()
            ws.send(json.dumps(request(p)))
            until(ws, "done", seq)
            times["cached"].append(time.perf_counter() - start)
    return times, results


def quality(results: list[Any], probabilities: list[float]) -> None:
    print("\n| p | live L (3,000 steps) | reference L (10,000 steps) | ratio |")
    print("|---|---|---|---|")
    importance = torch.tensor(IMPORTANCE)
    for k in range(0, len(probabilities), len(probabilities) // 5)[:5]:
        p = probabilities[k]
        steps = train_reference(torch.full((4, 5), p), importance.expand(4, 5), 2, seed=0)
        for _ in range(10_000):
            W, b = next(steps)
        live = results[k]["instances"][0]
        candidates = [(W, b), (torch.tensor([live["W"]]), torch.tensor([live["b"]]))]
        losses = []
        for weights, bias in candidates:
            rows = len(weights)
            generator = torch.Generator().manual_seed(12345)
            probability, weight = torch.full((rows, 5), p), importance.expand(rows, 5)
            loss = evaluate(
                weights,
                bias,
                Architecture(),
                PAPER_FEATURES,
                probability,
                weight,
                1 << 20,
                generator,
            ).loss
            losses.append(loss.min().item())
        print(f"| {p:.3g} | {losses[1]:.6g} | {losses[0]:.6g} | {losses[1] / losses[0]:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quality", action="store_true", help="also compare with the reference")
    args = parser.parse_args()
    probabilities = torch.logspace(-2, 0, 50).tolist()
    with tempfile.TemporaryDirectory() as cache, serving(Path(cache)) as base:
        times, results = measure(base, probabilities)
    print(f"{len(probabilities)} requests each; torch {torch.__version__}, CPU\n")
    print("| what | p50 ms | p95 ms |")
    print("|---|---|---|")
    print(f"| fresh request → first snapshot | {percentiles(times['first'])} |")
    print(f"| fresh request → finished result | {percentiles(times['done'])} |")
    print(f"| slider moved mid-training → first snapshot | {percentiles(times['moved'])} |")
    print(f"| cached request → result | {percentiles(times['cached'])} |")
    if args.quality:
        quality(results, probabilities)


if __name__ == "__main__":
    main()
