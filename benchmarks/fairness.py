"""Does one large request hold the worker? A small model's latency beside a large one.

Through the server's own worker on a fresh cache: the explorer's default model (5 → 2, 3,000
steps) trained alone; then the same model submitted while a large request is busy, either in its
final evaluation (a phase diagram of many cells trained a few steps: its 2¹⁶ evaluation samples
are most of its work) or in large training steps (200 → 20 at batch 4,096). The table gives the
small model's latency (submission to result) and the large request's wall time.

    python -m benchmarks.fairness [--grid 16] [--device cpu|cuda]

It uses only what every version of the worker has (``train_or_load``'s ``on_job``), so the same
script measures an older checkout (``PYTHONPATH=that-checkout``) for a before-and-after.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from server.api.schemas.models import ModelRequest
from server.api.schemas.phase_diagrams import PhaseDiagramRequest
from server.cache import ModelCache
from server.device import select_device
from server.jobs import Job, TrainingWorker, train_or_load
from server.phase_results import PhaseDiagramTask
from server.results import ModelTask

SMALL = ModelRequest(n_features=5, n_hidden=2, feature_probability=0.1, seed=3)


async def small_latency(worker: TrainingWorker) -> float:
    started = time.perf_counter()
    await train_or_load(worker, ModelTask(SMALL), use_cache=False)
    return time.perf_counter() - started


async def beside(worker: TrainingWorker, large: Any, ready: str) -> tuple[float, float]:
    """The small model's latency, submitted once the large task is ``ready`` ("evaluating": its
    steps are done; "training": it has taken 3 steps), and the large task's wall time."""
    jobs: list[Job] = []
    started = time.perf_counter()
    big = asyncio.create_task(train_or_load(worker, large, on_job=jobs.append))
    while not jobs or jobs[0].run is None:
        await asyncio.sleep(0.005)
    run = jobs[0].run
    while run.step < (run.config.steps if ready == "evaluating" else 3):
        await asyncio.sleep(0.005)
    latency = await small_latency(worker)
    if ready == "training":  # a 50,000-step model: not worth finishing
        big.cancel()
        await asyncio.gather(big, return_exceptions=True)
        return latency, float("nan")
    await big
    return latency, time.perf_counter() - started


async def scenarios(device: torch.device, grid: int) -> list[tuple[str, float, float]]:
    diagram = PhaseDiagramRequest(n_features=3, n_hidden=2, grid_size=grid, n_restarts=16, steps=5)
    large_steps = ModelRequest(n_features=200, n_hidden=20, steps=50_000, batch_size=4096)
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as root:
        worker = TrainingWorker(ModelCache(Path(root)), device, snapshot_interval_s=3600)
        worker.start()
        try:
            await small_latency(worker)  # warm-up
            rows.append(("alone", await small_latency(worker), float("nan")))
            latency, wall = await beside(worker, PhaseDiagramTask(diagram), "evaluating")
            rows.append((f"beside a {grid}×{grid}×16 diagram's evaluation", latency, wall))
            latency, wall = await beside(worker, ModelTask(large_steps), "training")
            rows.append(("beside 200 → 20 steps at batch 4,096", latency, wall))
        finally:
            worker.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", type=int, default=16, help="the diagram's cells per axis")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    args = parser.parse_args()
    device = select_device(args.device)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {device}")
    print("| the small model (5 → 2, 3,000 steps) | its latency s | the large request's wall s |")
    print("|---|---|---|")
    for name, latency, wall in asyncio.run(scenarios(device, args.grid)):
        print(f"| {name} | {latency:.2f} | {'–' if wall != wall else f'{wall:.1f}'} |")


if __name__ == "__main__":
    main()
