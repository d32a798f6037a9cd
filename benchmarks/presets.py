"""How long the gallery's presets take to train (what ``python -m server.precompute --all`` does).

Trains every preset's requests (or those named) through the server's own worker on a fresh cache,
one after another, and prints a table: rows (instances × restarts), steps, wall seconds and
training ms/step (including the final evaluation). Beside each ReLU/linear request without the
variants, the notebook-style trainer (``benchmarks/reference.py``: autograd, torch AdamW, the
notebook's sampler) steps the same rows, timed over ``--reference-steps`` in the same run. Phase
diagrams have their own benchmark (``benchmarks/phase_diagram.py``) and are trained here only
for the total.

    python -m benchmarks.presets [--preset NAME ...] [--device cpu|cuda] [--reference-steps 30]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.reference import ms_per_step, train_reference
from server.cache import ModelCache
from server.device import select_device
from server.jobs import Task, TrainingWorker, train_or_load
from server.precompute import preset_tasks
from server.presets import presets
from server.results import ModelTask


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


async def train_all(tasks: list[tuple[str, Task]], device: torch.device) -> list[float]:
    """Wall seconds of each task through the worker, on a fresh cache."""
    seconds = []
    with tempfile.TemporaryDirectory() as root:
        worker = TrainingWorker(ModelCache(Path(root)), device, snapshot_interval_s=3600)
        worker.start()
        try:
            for _, task in tasks:
                started = time.perf_counter()
                await train_or_load(worker, task)
                sync(device)
                seconds.append(time.perf_counter() - started)
        finally:
            worker.stop()
    return seconds


def reference_ms_per_step(task: ModelTask, device: torch.device, steps: int) -> float | None:
    """The notebook-style trainer on the same rows, ms/step; None where it does not apply."""
    r = task.request
    if r.hidden != "none" or r.task != "reconstruct" or r.feature_sets or r.activation == "power":
        return None
    run = task.start(device)  # only for its per-row probability and importance
    trainer = train_reference(
        run.probability, run.importance, r.n_hidden, r.seed, r.activation, r.batch_size, r.lr
    )
    return ms_per_step(trainer, device, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", metavar="NAME")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--reference-steps", type=int, default=30)
    args = parser.parse_args()
    device = select_device(args.device)
    chosen = [p for p in presets() if not args.preset or p.id in args.preset]
    tasks = preset_tasks(chosen)
    print(
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}"
    )
    walls = asyncio.run(train_all(tasks, device))
    print("| preset | n → m | rows | steps | wall s | ms/step | reference ms/step | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for (name, task), wall in zip(tasks, walls, strict=True):
        if not isinstance(task, ModelTask):
            print(f"| {name} | phase diagram | | | {wall:.1f} | | | |")
            continue
        r = task.request
        ms = 1000 * wall / r.steps
        ref = reference_ms_per_step(task, device, args.reference_steps)
        versus = "" if ref is None else f"{ref:.2f} | {ref / ms:.1f}×"
        rows = f"{r.n_instances} × {r.n_restarts}"
        print(
            f"| {name} | {r.n_features} → {r.n_hidden} | {rows} | {r.steps} | {wall:.1f} "
            f"| {ms:.2f} | {versus or '– | –'} |"
        )
    print(f"total: {sum(walls):.1f} s for {len(chosen)} presets")


if __name__ == "__main__":
    main()
