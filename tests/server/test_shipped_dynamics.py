"""The shipped energy-level jump (TMS §"Discrete 'Energy Level' Jumps", in the 2 → 1 digon
setting) against the stored snapshot weights, read here with safetensors and measured with numpy
(dimensionality and a loss on fresh samples drawn here), not through server.claims."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from server.claims import first_jump
from server.results import ModelTask
from tests.server.test_shipped_cache import PRESETS, SHIPPED, shipped


def loss(W: np.ndarray, b: np.ndarray, p: float, importance: np.ndarray) -> float:
    """L = E Σᵢ Iᵢ (xᵢ − ReLU(WᵀWx + b)ᵢ)², W (m, n), on fresh U[0, 1] features drawn here."""
    rng = np.random.default_rng(2024)
    x = rng.random((1 << 18, 2)) * (rng.random((1 << 18, 2)) < p)
    return float((importance * (x - np.maximum(x @ W.T @ W + b, 0.0)) ** 2).sum(axis=1).mean())


def test_the_digon_jumps_after_a_long_plateau(tmp_path: Path) -> None:
    result = shipped("energy-jump-digon", tmp_path)
    request = PRESETS["energy-jump-digon"].requests[0]
    tensors = load_file(SHIPPED / ModelTask(request).id / "weights.safetensors")
    W = tensors["snapshot_W"][:, 0, 0, :]  # (snapshots, 2): m = 1
    b = tensors["snapshot_b"][:, 0]
    steps = np.array([s.step for s in result.snapshots or []])
    assert len(steps) == len(W) == 200
    # m = 1: Dᵢ = wᵢ² / Σⱼ wⱼ² (for wᵢ ≠ 0)
    D = W**2 / (W**2).sum(axis=1, keepdims=True)
    unlearned = np.flatnonzero(D[:, 1] < 0.01)
    # a plateau: feature 1 (nearly) unlearned (D₁ < 0.01, D₀ > 0.99) for 3,000 steps in a row
    runs = np.split(unlearned, np.flatnonzero(np.diff(unlearned) > 1) + 1)
    plateau = max(runs, key=len)
    assert steps[plateau[-1]] - steps[plateau[0]] >= 3000
    assert D[plateau, 0].min() > 0.99
    # then the antipodal pair within 600 steps: both Dᵢ ≈ 1/2, w₀ and w₁ of opposite signs
    after = np.flatnonzero(steps >= steps[plateau[-1]] + 600)[0]
    assert np.allclose(D[after], 0.5, atol=0.05) and W[after, 0] * W[after, 1] < 0
    assert np.allclose(D[-1], 0.5, atol=0.03)
    # with a several-fold drop of the loss on fresh samples
    imp = np.array(request.importance or [1.0, 1.0])
    p = result.instances[0].feature_probability
    assert isinstance(p, float)
    k = plateau[-1]
    before, end = loss(W[k][None], b[k], p, imp), loss(W[-1][None], b[-1], p, imp)
    assert end < before / 5
    # server.claims finds the same jump
    jump = first_jump(steps, np.array([s.dimensionality[0] for s in result.snapshots or []]))
    assert jump is not None and abs(int(steps[jump[1]]) - int(steps[plateau[-1]])) <= 500
