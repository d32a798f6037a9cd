"""Is the default of 3,000 steps enough? Loss after k steps against the notebook's 10,000.

Trains the explorer's default view (n=5 → m=2, I = 0.9ⁱ) at several sparsities for each step
budget and prints the evaluated loss L (2¹⁶ fresh samples) as a ratio to the 10,000-step loss.

    python benchmarks/default_steps.py
"""

from __future__ import annotations

import time

import torch

from server.tms import ModelConfig, TrainConfig, train

BUDGETS = (1000, 2000, 3000, 5000, 10_000)
PROBABILITIES = (1.0, 0.3, 0.1, 0.03, 0.01)


def main() -> None:
    importance = (0.9 ** torch.arange(5.0)).unsqueeze(0)
    rows = []
    for p in PROBABILITIES:
        losses, seconds = {}, {}
        for steps in BUDGETS:
            start = time.perf_counter()
            result = train(
                ModelConfig(5, 2, feature_probability=p, importance=importance[0].tolist()),
                TrainConfig(steps=steps, seed=0),
            )
            seconds[steps] = time.perf_counter() - start
            losses[steps] = result.loss.item()
        rows.append((p, losses, seconds))
    header = "| p | " + " | ".join(f"L({k}) / L(10000)" for k in BUDGETS[:-1]) + " | L(10000) |"
    print(header)
    print("|" + "---|" * (len(BUDGETS) + 1))
    for p, losses, _ in rows:
        ratios = " | ".join(f"{losses[k] / losses[10_000]:.4f}" for k in BUDGETS[:-1])
        print(f"| {p} | {ratios} | {losses[10_000]:.6f} |")
    mean = {k: sum(s[k] for _, _, s in rows) / len(rows) for k in BUDGETS}
    print("\nmean training seconds: " + ", ".join(f"{k}: {mean[k]:.2f} s" for k in BUDGETS))


if __name__ == "__main__":
    main()
