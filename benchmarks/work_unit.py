"""What one unit of ``max_work`` costs, shape by shape: is the work bound honest?

``max_work`` bounds a request's (steps × batch_size + 2¹⁶ evaluation samples) × rows × a cost per
sample-row. For each shape this times training steps and the final evaluation with the server's
own code (``Run``, ``TrainingBatch``, ``Evaluator``), and prints the nanoseconds per unit under
two counts measured in the same run: weights alone (n·m, the old count) and weights plus
``PER_FEATURE_WORK`` per input entry (n·m + 128·n, the one the limits use). An honest unit costs
about the same at every shape, so the bound says how long the largest admitted request takes.

    python -m benchmarks.work_unit [--device cpu|cuda] [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import torch

from server.api.limits import PER_FEATURE_WORK
from server.device import select_device
from server.tms.config import ModelConfig, TrainConfig
from server.tms.training import Evaluator, Run, TrainingBatch

# (rows, n_features, n_hidden, batch_size): tiny models with many rows (a phase diagram's cells ×
# restarts), the paper's sizes, and the largest shapes the limits admit.
SHAPES = [
    (65_536, 3, 2, 64),
    (3_072, 2, 1, 1024),
    (4_096, 20, 5, 64),
    (64, 100, 20, 1024),
    (16, 512, 256, 1024),
    (1, 5, 2, 1024),
]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def make_run(rows: int, n: int, m: int, batch_size: int, device: torch.device) -> Run:
    """``rows`` models of n → m side by side (restarts of one instance, p = 0.1)."""
    model = ModelConfig(n_features=n, n_hidden=m, feature_probability=0.1)
    return Run(model, TrainConfig(batch_size=batch_size, n_restarts=rows, seed=1), device)


def timed(action: Callable[[], None], seconds: float, device: torch.device) -> tuple[float, int]:
    """Call ``action`` (once to warm up) until ``seconds`` pass: (seconds per call, calls)."""
    action()
    sync(device)
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or calls < 2:
        action()
        calls += 1
        sync(device)
    return elapsed / calls, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per shape and part")
    args = parser.parse_args()
    device = select_device(args.device)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {device}")
    print(f"# {torch.get_num_threads()} threads; PER_FEATURE_WORK = {PER_FEATURE_WORK}\n")
    print(
        "| rows × n → m | batch | train ns/sample-row | eval ns/sample-row "
        "| ns per unit n·m (train / eval) | ns per unit n·m + 128·n (train / eval) |"
    )
    print("|---|---|---|---|---|---|")
    for rows, n, m, batch_size in SHAPES:
        run = make_run(rows, n, m, batch_size, device)
        batch = TrainingBatch()
        batch.add(run)
        step_s, _ = timed(batch.step, args.seconds, device)
        evaluator = run.evaluator()

        def chunk(evaluator: Evaluator = evaluator) -> None:
            evaluator.samples_done = 0  # only timing: every call measures one full-size chunk
            evaluator.advance()

        chunk_s, _ = timed(chunk, args.seconds, device)
        train_ns = step_s / (batch_size * rows) * 1e9
        eval_ns = chunk_s / (evaluator.chunk * rows) * 1e9
        old, new = n * m, n * m + PER_FEATURE_WORK * n
        print(
            f"| {rows:,} × {n} → {m} | {batch_size} | {train_ns:.1f} | {eval_ns:.1f} "
            f"| {train_ns / old:.3f} / {eval_ns / old:.3f} "
            f"| {train_ns / new:.3f} / {eval_ns / new:.3f} |"
        )


if __name__ == "__main__":
    main()
