"""``python -m benchmarks.energy_jumps``: search for TMS's "energy level" jumps (§"Superposition
and Learning Dynamics", Phenomenon 1) in uniform-superposition models whose features end in
digons.

Per setting (n → m, 1 − S, seed) it trains one model with dense weight snapshots and reports the
largest change of any feature's dimensionality Dᵢ over 100 steps after step 500, and the jumps:
a feature whose Dᵢ stayed within 0.04 for 300 steps (a plateau, Dᵢ > 0.2, ‖Wᵢ‖ > 0.5) and then
moved by at least 0.15 within the next 100 steps. Also the loss on one fixed set of fresh
samples at every snapshot (not the noisy training batch), and its largest drop over 100 steps
after step 500, relative to the loss there.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import torch

from server.tms import ModelConfig, TrainConfig, metrics, train

PLATEAU_STEPS = 300
PLATEAU_BAND = 0.04
JUMP_STEPS = 100
JUMP_SIZE = 0.15


@dataclass(frozen=True)
class Search:
    live: int  # features with ‖Wᵢ‖ > 0.5 at the end
    digons: int  # of them, Dᵢ within 0.03 of 1/2
    max_change: float  # largest |ΔDᵢ| over 100 steps after step 500
    jumps: list[tuple[int, int]]  # (step, feature) of each plateau-then-jump
    loss_drop: float  # largest relative drop of the fixed-set loss over 100 steps after 500


def search(n: int, m: int, p: float, steps: int, snapshots: int, seed: int) -> Search:
    """Train one model and measure its jumps (see the module's docstring)."""
    trained = train(
        ModelConfig(n_features=n, n_hidden=m, feature_probability=[p]),
        TrainConfig(steps=steps, snapshots=snapshots, seed=seed),
    )
    S = np.asarray(trained.snapshot_steps)
    W = trained.snapshots["W"][:, 0]
    b = trained.snapshots["b"][:, 0]
    gen = torch.Generator().manual_seed(1234)
    x = torch.rand(1 << 13, n, generator=gen) * (torch.rand(1 << 13, n, generator=gen) < p)
    D = np.stack([metrics.dimensionality(Wk).numpy() for Wk in W])
    norms = np.stack([Wk.norm(dim=0).numpy() for Wk in W])
    loss = np.array(
        [
            float(((x - torch.relu(x @ Wk.T @ Wk + c)) ** 2).sum(1).mean())
            for Wk, c in zip(W, b, strict=True)
        ]
    )
    gap = int(S[1] - S[0])
    w = max(1, round(JUMP_STEPS / gap))
    pre = max(1, round(PLATEAU_STEPS / gap))
    late = S[:-w] >= 500
    change = np.abs(D[w:] - D[:-w])[late]
    jumps = []
    for i in range(n):
        for s in range(pre, len(S) - w):
            before = D[s - pre : s + 1, i]
            flat = before.max() - before.min() < PLATEAU_BAND
            if (
                flat
                and D[s, i] > 0.2
                and norms[s, i] > 0.5
                and abs(D[s + w, i] - D[s, i]) >= JUMP_SIZE
            ):
                jumps.append((int(S[s]), i))
                break
    drops = ((loss[:-w] - loss[w:]) / loss[:-w])[late]
    live = D[-1][norms[-1] > 0.5]
    return Search(
        live=len(live),
        digons=int((np.abs(live - 0.5) < 0.03).sum()),
        max_change=float(change.max()),
        jumps=jumps,
        loss_drop=float(drops.max()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--snapshots", type=int, default=501)
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = [(20, 10, p, 0) for p in (0.3, 0.1, 0.02)]
    settings += [(100, 10, p, s) for p in (0.35, 0.3, 0.25) for s in (0, 1)]
    print(
        "| n → m | 1 − S | seed | live | of them Dᵢ ≈ ½ | max ΔDᵢ / 100 steps | jumps "
        "| largest loss drop / 100 steps | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n, m, p, seed in settings:
        started = time.perf_counter()
        r = search(n, m, p, args.steps, args.snapshots, seed)
        print(
            f"| {n} → {m} | {p} | {seed} | {r.live} | {r.digons} | {r.max_change:.3f} "
            f"| {len(r.jumps)} | {100 * r.loss_drop:.1f} % "
            f"| {time.perf_counter() - started:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
