"""Superposition and adversarial vulnerability (TMS §"Relationship to Adversarial Robustness"),
and the unbiased reported loss of restarts.

Three tables, each printed as Markdown for benchmarks/RESULTS.md:

- ``restarts``: the pentagon preset's request (5 → 2, p = 0.05, 10,000 steps, best of 8): the
  kept restart's loss on the inputs that picked it (``selection_loss``, what was reported
  before), the reported loss (other fresh inputs), and the loss on 2²⁰ inputs of an independent
  generator, with its standard error.
- ``sweep``: vulnerability (ε = 0.1, the paper's attack norm) against features per dimension
  1/D* across sparsity, for n → m models trained here (default 20 → 5, equal importances, ten
  p from 1 to 0.01) and, with ``--shipped``, the shipped features-vs-sparsity preset (100 → 20).
- ``cost``: ms per training step of 5 → 2 and 20 → 5 with and without adversarial training
  (ε = 0.8), alternated in the same run (3 rounds of 1,000 steps each).
- ``training``: adversarial training (``adversarial_epsilon``) of 5 → 2 at p = 0.05 (and
  20 → 5 at p = 0.03): how many features are represented (‖Wᵢ‖ > 0.5), 1/D*, the median
  superposition Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)² of the represented ones, the clean loss and the vulnerability.

    python -m benchmarks.adversarial [--part restarts sweep cost training] [--shipped]
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.sae_pentagon import cpu_name
from server.api.schemas.models import ModelRequest
from server.cache import ModelCache
from server.presets import presets
from server.tms import ModelConfig, TrainConfig, train
from server.tms.adversarial import vulnerability
from server.tms.data import FeatureDistribution, sample_features
from server.tms.model import Architecture, forward
from server.tms.theory import log_spaced
from server.tms.training import Run, TrainingBatch

EPSILON = 0.1
SAMPLES = 1 << 15
PENTAGON = {"n_features": 5, "n_hidden": 2, "feature_probability": [0.05], "steps": 10000,
            "n_restarts": 8}  # fmt: skip


def restarts() -> None:
    request = ModelRequest(**PENTAGON)
    start = time.perf_counter()
    model = train(request.to_config(), request.train_config())
    seconds = time.perf_counter() - start
    assert model.selection_loss is not None and model.loss_estimate is not None
    generator = torch.Generator().manual_seed(2**31 - 1)
    totals = torch.zeros(2, dtype=torch.float64)
    n = 1 << 20
    for _ in range(16):
        x = sample_features(torch.full((1, 5), 0.05), n // 16, generator)
        per = ((forward(model.W, model.b, x, Architecture()) - x) ** 2).sum(1).double()[0]
        totals += torch.stack([per.sum(), per.square().sum()])
    mean = float(totals[0] / n)
    stderr = math.sqrt(max(0.0, float(totals[1] / n) - mean**2) / n)
    print(f"pentagon ({request.model_id()[:12]}…), trained in {seconds:.1f} s, "
          f"{model.loss_estimate}")  # fmt: skip
    print("| selection_loss (picked on it) | reported loss | 2²⁰ independent inputs | ± s.e. |")
    print("|---|---|---|---|")
    print(f"| {model.selection_loss[0]:.5f} | {model.loss[0]:.5f} | {mean:.5f} | {stderr:.5f} |")


def sweep_rows(model: ModelConfig, W: torch.Tensor, b: torch.Tensor) -> list[tuple[float, ...]]:
    """(p, 1/D*, vulnerability, s.e., clean loss) per instance."""
    rows = []
    arch, distribution = Architecture.of(model), FeatureDistribution.of(model)
    importance = torch.tensor(model.importances)
    for k, p in enumerate(model.probability_rows):
        measured = vulnerability(
            W[k], b[k], torch.tensor(p), importance, EPSILON, SAMPLES, seed=k,
            arch=arch, distribution=distribution,
        )  # fmt: skip
        per_dimension = float((W[k] ** 2).sum()) / model.n_hidden  # 1/D* = ‖W‖²_F / m
        rows.append((p[0], per_dimension, measured.vulnerability, measured.vulnerability_stderr,
                     measured.clean_loss))  # fmt: skip
    return rows


def print_sweep(title: str, rows: list[tuple[float, ...]]) -> None:
    print(f"\n{title}")
    print("| p = 1 − S | 1/D* | vulnerability | ± s.e. | vulnerability / (1/D*) | clean L |")
    print("|---|---|---|---|---|---|")
    for p, per_dim, v, se, clean in rows:
        print(f"| {p:.4g} | {per_dim:.2f} | {v:.2f} | {se:.2f} | {v / per_dim:.2f} | {clean:.4g} |")
    x = torch.tensor([r[1] for r in rows], dtype=torch.float64)
    y = torch.tensor([r[2] for r in rows], dtype=torch.float64)
    r = float(torch.corrcoef(torch.stack([x, y]))[0, 1])
    print(f"max/min vulnerability: {float(y.max() / y.min()):.1f}×; "
          f"Pearson r(vulnerability, 1/D*) = {r:.3f}")  # fmt: skip


def sweep(n: int, m: int, steps: int, shipped: bool) -> None:
    ps = log_spaced(1.0, 0.01, 10)
    model = ModelConfig(n, m, feature_probability=ps)
    start = time.perf_counter()
    trained = train(model, TrainConfig(steps=steps, n_restarts=2))
    seconds = time.perf_counter() - start
    print_sweep(f"{n} → {m}, equal importances, {steps} steps, best of 2 "
                f"(trained in {seconds:.0f} s), ε = {EPSILON}, {SAMPLES} samples",
                sweep_rows(model, trained.W, trained.b))  # fmt: skip
    if not shipped:
        return
    (preset,) = [p for p in presets() if p.id == "features-vs-sparsity"]
    request = preset.requests[0].normalised()
    entry = Path(__file__).resolve().parents[1] / "models_cache" / request.model_id()
    with tempfile.TemporaryDirectory() as folder:  # a failed read removes the entry it reads
        shutil.copytree(entry, Path(folder) / entry.name)
        cache = ModelCache(Path(folder))
        tensors = cache.read(entry.name, "model", lambda stored, _: stored.tensors)
    assert tensors is not None, "the shipped features-vs-sparsity entry is missing"
    importance = request.importance or []
    print_sweep(f"shipped features-vs-sparsity ({request.n_features} → {request.n_hidden}, "
                f"I = {importance[0]:.3g}, {importance[1]:.3g}, …)",
                sweep_rows(request.to_config(), tensors["W"], tensors["b"]))  # fmt: skip


def training(n: int, m: int, p: float, steps: int) -> None:
    print(f"\nadversarial training, {n} → {m}, p = {p}, {steps} steps, one seed")
    print("| ε | represented (‖Wᵢ‖ > 0.5) | 1/D* | median superposition | clean L | "
          "vulnerability (ε = 0.1) | s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    model = ModelConfig(n, m, feature_probability=p)
    for epsilon in (0.0, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2):
        start = time.perf_counter()
        trained = train(model, TrainConfig(steps=steps, adversarial_epsilon=epsilon))
        seconds = time.perf_counter() - start
        norms = trained.feature_norms[0]
        represented = norms > 0.5
        superposition = trained.superposition[0][represented]
        median = float(superposition.median()) if represented.any() else float("nan")
        measured = vulnerability(trained.W[0], trained.b[0], torch.full((n,), p),
                                 torch.ones(n), EPSILON, SAMPLES, seed=0)  # fmt: skip
        per_dimension = 1 / float(trained.dimensions_per_feature[0])
        print(
            f"| {epsilon} | {int(represented.sum())} | {per_dimension:.2f} | {median:.3f} | "
            f"{float(trained.loss[0]):.4g} | {measured.vulnerability:.2f} | {seconds:.1f} |"
        )


def step_ms(model: ModelConfig, epsilon: float, steps: int = 1000) -> float:
    run = Run(model, TrainConfig(steps=steps, adversarial_epsilon=epsilon))
    batch = TrainingBatch()
    batch.add(run)
    start = time.perf_counter()
    while not run.done:
        batch.step()
    return (time.perf_counter() - start) / steps * 1e3


def cost() -> None:
    print("\n| model | plain ms/step | adversarial (ε = 0.8) ms/step | ratio |")
    print("|---|---|---|---|")
    for n, m in ((5, 2), (20, 5)):
        model = ModelConfig(n, m, feature_probability=0.05)
        for _ in range(3):
            plain, attacked = step_ms(model, 0.0), step_ms(model, 0.8)
            print(f"| {n} → {m} | {plain:.3f} | {attacked:.3f} | {attacked / plain:.2f}× |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", nargs="+", default=["restarts", "sweep", "cost", "training"])
    parser.add_argument("--shipped", action="store_true", help="also the shipped 100 → 20")
    parser.add_argument("--steps", type=int, default=5000)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    if "restarts" in args.part:
        restarts()
    if "sweep" in args.part:
        sweep(20, 5, args.steps, args.shipped)
        sweep(5, 2, args.steps, False)
    if "cost" in args.part:
        cost()
    if "training" in args.part:
        training(5, 2, 0.05, args.steps)
        training(20, 5, 0.03, args.steps)


if __name__ == "__main__":
    main()
