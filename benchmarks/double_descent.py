"""A double-descent sweep (Henighan et al. 2023) with the server's own task: every T of the sweep
trains in one joined run (``DoubleDescentTask``, as ``POST /api/double-descent`` trains it), and
the table of benchmarks/RESULTS.md is printed: T, train and test loss, the mean data-point and
feature dimensionalities, and the seconds the whole sweep took.

    python -m benchmarks.double_descent                  # the gallery preset's sweep
    python -m benchmarks.double_descent --n-features 1000 --feature-probability 0.01 \\
        --steps 10000 --warmup-steps 2500 --lr 1e-3      # ARENA 3.0's setup (slow on a CPU)
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from server.api.schemas.double_descent import DoubleDescentPoint, DoubleDescentRequest
from server.device import select_device
from server.double_descent_results import DoubleDescentTask
from server.jobs import train_task
from server.tms.theory import log_spaced


def weighted(point: DoubleDescentPoint) -> float:
    """Σᵢ ‖Wᵢ‖² Dᵢ / Σᵢ ‖Wᵢ‖² of the first instance: the dimensionality of the features the
    model represents (the plain mean is at most m/n whatever the geometry)."""
    norms = [w * w for w in point.feature_norms[0]]
    return sum(n * d for n, d in zip(norms, point.feature_dimensionality[0], strict=True)) / max(
        sum(norms), 1e-300
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.double_descent", description=__doc__
    )
    parser.add_argument("--n-features", type=int, default=100)
    parser.add_argument("--n-hidden", type=int, default=2)
    parser.add_argument("--feature-probability", type=float, default=0.05)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--warmup-steps", type=int, default=600)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--n-restarts", type=int, default=2)
    parser.add_argument("--t-min", type=int, default=3)
    parser.add_argument("--t-max", type=int, default=1000)
    parser.add_argument("--points", type=int, default=14, help="T values, log-spaced")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    args = parser.parse_args(argv)
    values = sorted({round(t) for t in log_spaced(args.t_min, args.t_max, args.points)})
    request = DoubleDescentRequest(
        n_features=args.n_features,
        n_hidden=args.n_hidden,
        feature_probability=args.feature_probability,
        normalize_inputs=True,
        lr=args.lr,
        lr_schedule="warmup_cosine",
        warmup_steps=args.warmup_steps,
        steps=args.steps,
        n_restarts=args.n_restarts,
        seed=args.seed,
        n_train_values=values,
    )
    device = select_device(args.device)
    started = time.perf_counter()
    result, _ = train_task(DoubleDescentTask(request), device)
    seconds = time.perf_counter() - started
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {device}")
    print(
        f"n = {args.n_features}, m = {args.n_hidden}, p = {args.feature_probability}, "
        f"{args.steps} steps (warm-up {args.warmup_steps}, lr {args.lr}), "
        f"{args.n_restarts} restart(s), seed {args.seed}: {seconds:.1f} s for {len(values)} T"
    )
    print("| T | train loss | test loss | mean data-point D_t | features' Dᵢ (‖Wᵢ‖²-weighted) |")
    print("|---:|---:|---:|---:|---:|")
    for p in result.points:
        print(
            f"| {p.n_train} | {p.train_loss[0]:.4g} | {p.loss[0]:.4g} | "
            f"{p.data_dimensionality[0]:.4g} | {weighted(p):.4g} |"
        )
    print(f"test-loss peak at T = {result.peak_n_train}")


if __name__ == "__main__":
    main()
