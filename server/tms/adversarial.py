"""Adversarial vulnerability (TMS §"Relationship to Adversarial Robustness"): the paper's analytic
L2 attack on one feature, the vulnerability it measures, and the perturbation of adversarial
training.

The attack on feature i moves the input along the end-to-end weights that read feature i out,
(WᵀW)ᵢ (row i of the symmetric WᵀW), to the attack norm λ:

    δᵢ = λ (WᵀW)ᵢ / ‖(WᵀW)ᵢ‖,      λ = ε · E‖x‖

the optimal L2 attack on output i's pre-activation (it raises (WᵀW(x + δ))ᵢ by λ ‖(WᵀW)ᵢ‖, the
most any δ of norm λ can). The paper (attack norm 0.1 of the average input norm) tries the attack
of every feature with (WᵀW)ᵢ ≠ 0 on each input and keeps the one that most harms it: the
attacked loss of x is maxᵢ Σⱼ Iⱼ (xⱼ − x′ⱼ(x + δᵢ))², the target still the clean x. We report

    vulnerability = (E attacked loss − E clean loss) / λ²

which is 1 for orthogonal unit features (W with orthonormal columns, b = 0, inputs ≥ 0: the
attack adds exactly λ to one output), and grows as superposition makes (WᵀW)ᵢ spread over other
features (the pentagon's is about 1/D* = 2.5 and more). For the untied absolute-value model the
row that reads output i is (W_out W)ᵢ; the same formula uses it (our extension: the paper's
models are tied).

Adversarial training (the paper's last paragraph of that section) perturbs each training input
with the attack against one feature drawn uniformly at random, λ = ε · the batch's mean ‖x‖,
the perturbation held constant in the gradient (:func:`perturb`).

Torch only; docs/THEORY.md states the formulas.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from server.tms.data import PAPER_FEATURES, FeatureDistribution, sample_features
from server.tms.model import Architecture, forward, target

CheckCallback = Callable[[], None]  # called between chunks; may raise to stop
PAPER_MODEL = Architecture()  # x′ = ReLU(WᵀW x + b)

# Entries of the attacked inputs (attacks × n_features × samples) one chunk holds.
CHUNK_ENTRIES = 1 << 22


def attack_directions(
    W: Tensor, features: Tensor | None = None, W_out: Tensor | None = None
) -> Tensor:
    """Unit directions of the analytic attack on features: (WᵀW)ᵢ / ‖(WᵀW)ᵢ‖.

    Args:
        W: (rows, n_hidden, n_features).
        features: (rows, k) long, which feature each column attacks (per row); None: every
            feature in order (k = n_features).
        W_out: (rows, n_features, n_hidden) of an untied model, whose output i is read by
            (W_out W)ᵢ; None for tied weights.

    Returns:
        (rows, n_features, k), column j the direction attacking feature j (or features[:, j]);
        a zero column where that feature's (WᵀW)ᵢ is exactly 0 (no attack).
    """
    readers = W if W_out is None else W_out.mT  # (rows, m, n): column i reads output i out
    if features is not None:
        index = features.unsqueeze(1).expand(-1, readers.shape[1], -1)  # (rows, m, k)
        readers = readers.gather(2, index)
    rows = torch.bmm(W.mT, readers)  # (rows, n, k): (WᵀW)ᵢ as columns (WᵀW is symmetric)
    # 1/‖(WᵀW)ᵢ‖, and 0 (no attack) where the column is 0 (rsqrt gives inf there)
    inverse = (rows * rows).sum(dim=1, keepdim=True).rsqrt_().nan_to_num_(posinf=0.0)
    return rows.mul_(inverse)


def _norms(x: Tensor) -> Tensor:
    """‖·‖ over dim 1 of (rows, n, k), kept as (rows, 1, k): a plain sum of squares, several
    times faster than ``torch.linalg.vector_norm`` over a strided dimension on the CPU."""
    return (x * x).sum(dim=1, keepdim=True).sqrt_()


def mean_input_norm(
    feature_probability: Tensor,
    distribution: FeatureDistribution,
    n_samples: int,
    generator: torch.Generator,
) -> float:
    """E‖x‖ estimated on ``n_samples`` inputs, drawn in chunks (all-zero inputs count as 0).

    Args:
        feature_probability: (n_features,), p = 1 − S per feature.
    """
    n = feature_probability.shape[0]
    chunk = max(1, min(n_samples, CHUNK_ENTRIES // n))
    total, done = 0.0, 0
    while done < n_samples:
        size = min(chunk, n_samples - done)
        x = sample_features(feature_probability.unsqueeze(0), size, generator, distribution)
        total += float(_norms(x.double()).sum())
        done += size
    return total / n_samples


@dataclass(frozen=True)
class Vulnerability:
    """An instance's losses under the analytic attack (TMS §"Relationship to Adversarial
    Robustness").

    Attributes:
        epsilon: ε, the attack norm as a fraction of the mean input norm.
        mean_input_norm: E‖x‖ on the samples.
        attack_norm: λ = ε · E‖x‖.
        clean_loss: E Σⱼ Iⱼ (yⱼ − x′ⱼ(x))² on the samples.
        attacked_loss: E maxᵢ Σⱼ Iⱼ (yⱼ − x′ⱼ(x + δᵢ))² on the same samples.
        vulnerability: (attacked_loss − clean_loss) / λ².
        vulnerability_stderr: its standard error over the samples.
        samples: how many inputs.
        attacked_features: how many features have (WᵀW)ᵢ ≠ 0 (and so an attack).
        worst_feature: per feature, how many inputs its attack harmed most (n_features,).
    """

    epsilon: float
    mean_input_norm: float
    attack_norm: float
    clean_loss: float
    attacked_loss: float
    vulnerability: float
    vulnerability_stderr: float
    samples: int
    attacked_features: int
    worst_feature: list[int]


@torch.no_grad()
def vulnerability(
    W: Tensor,
    b: Tensor,
    feature_probability: Tensor,
    importance: Tensor,
    epsilon: float,
    n_samples: int,
    seed: int,
    arch: Architecture = PAPER_MODEL,
    distribution: FeatureDistribution = PAPER_FEATURES,
    W_out: Tensor | None = None,
    check: CheckCallback | None = None,
) -> Vulnerability:
    """One instance's vulnerability to the paper's analytic L2 attack.

    The inputs are drawn twice from a generator seeded with ``seed``: once for E‖x‖ (hence λ),
    then the same inputs again in chunks, each attacked along every feature's direction.

    Args:
        W: (n_hidden, n_features); b: (n_features,); W_out: (n_features, n_hidden) of the
            absolute-value model, else None.
        feature_probability: (n_features,), p per feature; importance: (n_features,), Iⱼ.
        epsilon: ε > 0, the attack norm as a fraction of the mean input norm (the paper: 0.1).
        n_samples: fresh inputs, at least 1.
        seed: seeds the inputs.
        arch, distribution: the model and its inputs, as in training.
        check: called before every chunk; may raise to stop.

    Returns:
        :class:`Vulnerability`.

    Raises:
        ValueError: epsilon ≤ 0 or not finite, n_samples < 1, or every sampled input is zero
            (λ = 0: draw more samples).
    """
    if not (epsilon > 0 and epsilon < float("inf")):
        raise ValueError(f"epsilon must be a positive number, not {epsilon}")
    if n_samples < 1:
        raise ValueError("n_samples must be at least 1")
    W = W.detach().float().unsqueeze(0)  # (1, m, n)
    b = b.detach().float().unsqueeze(0)
    W_out = None if W_out is None else W_out.detach().float().unsqueeze(0)
    p = feature_probability.detach().float()
    weight = importance.detach().float().view(1, -1, 1, 1)  # (1, n, 1, 1)
    n = W.shape[-1]
    norm = mean_input_norm(p, distribution, n_samples, torch.Generator().manual_seed(seed))
    attack_norm = epsilon * norm
    if attack_norm <= 0:
        raise ValueError(f"every one of the {n_samples} sampled inputs is zero: draw more")
    directions = attack_directions(W, W_out=W_out)  # (1, n, n)
    attacked = _norms(directions)[0, 0] > 0  # (n,)
    index = attacked.nonzero().flatten()
    delta = attack_norm * directions[:, :, index]  # (1, n, A)
    A = len(index)
    chunk = max(1, min(n_samples, CHUNK_ENTRIES // (max(1, A) * n)))
    generator = torch.Generator().manual_seed(seed)
    sums = torch.zeros(4, dtype=torch.float64)  # Σ clean, Σ attacked, Σ diff, Σ diff²
    worst = torch.zeros(n, dtype=torch.long)
    done = 0
    while done < n_samples:
        if check is not None:
            check()
        size = min(chunk, n_samples - done)
        x = sample_features(p.unsqueeze(0), size, generator, distribution)  # (1, n, c)
        y = target(x, arch.absolute_value).unsqueeze(2)  # (1, n, 1, c)
        clean = _losses(forward(W, b, x, arch, W_out).unsqueeze(2), y, weight)[0, 0]  # (c,)
        if A:
            moved = (x.unsqueeze(2) + delta.unsqueeze(-1)).reshape(1, n, A * size)
            out = forward(W, b, moved, arch, W_out).view(1, n, A, size)
            per_attack = _losses(out, y, weight)[0]  # (A, c)
            hit, which = per_attack.max(dim=0)
            worst += torch.bincount(index[which], minlength=n)
        else:
            hit = clean
        diff = hit.double() - clean.double()
        sums += torch.stack(
            [clean.double().sum(), hit.double().sum(), diff.sum(), diff.square().sum()]
        )
        done += size
    clean_loss, attacked_loss, mean_diff, mean_sq = (sums / n_samples).tolist()
    variance = max(0.0, mean_sq - mean_diff**2) * n_samples / max(1, n_samples - 1)
    scale = attack_norm**2
    return Vulnerability(
        epsilon=epsilon,
        mean_input_norm=norm,
        attack_norm=attack_norm,
        clean_loss=clean_loss,
        attacked_loss=attacked_loss,
        vulnerability=mean_diff / scale,
        vulnerability_stderr=(variance / n_samples) ** 0.5 / scale,
        samples=n_samples,
        attacked_features=A,
        worst_feature=worst.tolist(),
    )


def _losses(out: Tensor, y: Tensor, weight: Tensor) -> Tensor:
    """Per-input Σⱼ Iⱼ (yⱼ − x′ⱼ)²: out (rows, n, A, c), y (rows, n, 1, c) → (rows, A, c)."""
    error = out - y
    return (weight * error * error).sum(dim=1)


@torch.no_grad()
def perturb(
    x: Tensor,
    W: Tensor,
    epsilon: float,
    generators: Sequence[tuple[slice, torch.Generator]],
    W_out: Tensor | None = None,
) -> Tensor:
    """A training batch under adversarial training: each input attacked against one feature
    drawn uniformly at random (TMS §"Relationship to Adversarial Robustness": "the analytic
    optimal attack against a random feature").

    Args:
        x: (rows, n_features, B), the clean inputs (they stay the target).
        W: (rows, n_hidden, n_features), the weights now; W_out: (rows, n_features, n_hidden)
            of an untied model, else None.
        epsilon: ε ≥ 0; each row's λ = ε · its batch's mean ‖x‖.
        generators: (rows, generator) pairs covering every row: each draws its rows' features,
            so a run's draws do not depend on the runs beside it.

    Returns:
        x + δ, a new (rows, n_features, B) tensor (x is not changed).
    """
    rows, n, batch = x.shape
    features = torch.empty((rows, batch), dtype=torch.long, device=x.device)
    for part, generator in generators:
        count = part.stop - part.start
        features[part] = torch.randint(n, (count, batch), generator=generator, device=x.device)
    directions = attack_directions(W, features, W_out)  # (rows, n, B)
    attack_norm = epsilon * _norms(x).mean(dim=2, keepdim=True)  # (rows, 1, 1)
    return directions.mul_(attack_norm).add_(x)
