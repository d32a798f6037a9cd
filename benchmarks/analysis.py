"""What the interference analysis costs, beside the training it analyses, in one run.

For each model size, a model is trained with the API's defaults (3,000 steps, batch 1024), then
its interference statistics (``interference.cosine_statistics``, 40 bins) and its compounding-noise
curve (``interference.noise_curve`` at the API's default l values and 64 samples, and at the
largest query the API allows: 64 l values × 256 samples) are timed: median of ``--repeats`` runs.
The last column is the noise curve's share of the training time.

    python -m benchmarks.analysis
    python -m benchmarks.analysis --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from server.api.schemas.analysis import MAX_L_VALUES, MAX_NOISE_SAMPLES
from server.tms import ModelConfig, TrainConfig, interference, train

SIZES = ((5, 2), (20, 5), (100, 20), (512, 256))


def median_seconds(repeats: int, fn: Callable[..., object], *args: object) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print(
        "| n → m | train 3,000 steps | interference | noise (default) | noise (largest) | "
        "noise / train |"
    )
    print("|---|---|---|---|---|---|")
    for n, m in SIZES:
        start = time.perf_counter()
        trained = train(
            ModelConfig(n, m, feature_probability=0.05), TrainConfig(steps=3000, seed=0)
        )
        train_s = time.perf_counter() - start
        W, b = trained.W[0].double(), trained.b[0].double()
        stats_s = median_seconds(args.repeats, interference.cosine_statistics, W, 0.5, 40, 0)
        default_l = interference.default_active_counts(n)
        noise_s = median_seconds(
            args.repeats, interference.noise_curve, W, b, "relu", 1, default_l, 64, 0
        )
        largest_l = sorted({1 + (n - 1) * k // (MAX_L_VALUES - 1) for k in range(MAX_L_VALUES)})
        largest_s = median_seconds(
            args.repeats, interference.noise_curve, W, b, "relu", 1, largest_l, MAX_NOISE_SAMPLES, 0
        )
        print(
            f"| {n} → {m} | {train_s:.2f} s | {stats_s * 1e3:.1f} ms | {noise_s * 1e3:.1f} ms | "
            f"{largest_s * 1e3:.1f} ms | {noise_s / train_s:.1%} |"
        )


if __name__ == "__main__":
    main()
