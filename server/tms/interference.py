"""How much a trained model's features interfere, measured (Linsefors, "Some costs of
superposition"; docs/THEORY.md F13–F14). The predictions to compare with are in
:mod:`server.tms.theory_interference`.

- :func:`cosine_statistics`: the pairwise cosines Ŵᵢ·Ŵⱼ of the represented features, and the same
  for as many random unit vectors in the same dimension.
- :func:`noise_curve`: "compounding noise": switch on l features at once, each at magnitude 1, and
  read the inactive features out, before the activation and after it (with the trained bias).

W has shape (n_hidden, n_features), one instance. Computed in float64 on the CPU: these are small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from server.tms import metrics, theory_interference
from server.tms.config import Activation
from server.tms.model import activate

# Default l values when the caller gives none: all of 1..n up to this n, else this many log-spaced.
ALL_L_UP_TO = 64
DEFAULT_L_POINTS = 48


@dataclass(frozen=True)
class CosineSummary:
    """Pairwise cosines of a set of directions: count, RMS, max |cos|, mean, histogram counts.

    The statistics are None when there is no pair (fewer than two directions).
    """

    count: int
    rms: float | None
    max: float | None
    mean: float | None
    counts: list[int]


def histogram_edges(bins: int) -> list[float]:
    """``bins`` + 1 equal-width edges over [−1, 1], shared by the model's and the random
    histogram so that they overlay."""
    return [-1.0 + 2.0 * k / bins for k in range(bins + 1)]


def pairwise_cosines(directions: Tensor) -> Tensor:
    """Ŵᵢ·Ŵⱼ for i < j of the columns of ``directions`` (m, k), none of them zero: (k(k−1)/2,)."""
    unit = directions / torch.linalg.vector_norm(directions, dim=0, keepdim=True)
    cos = unit.mT @ unit  # (k, k)
    upper = torch.triu_indices(cos.shape[0], cos.shape[0], offset=1)
    return cos[upper[0], upper[1]].clamp(-1.0, 1.0)


def summarise(cosines: Tensor, bins: int) -> CosineSummary:
    """RMS, max |cos|, mean and a histogram over [−1, 1] of a 1-D tensor of cosines."""
    if not cosines.numel():
        return CosineSummary(0, None, None, None, [0] * bins)
    return CosineSummary(
        count=cosines.numel(),
        rms=cosines.square().mean().sqrt().item(),
        max=cosines.abs().max().item(),
        mean=cosines.mean().item(),
        counts=[int(c) for c in torch.histc(cosines, bins=bins, min=-1.0, max=1.0).tolist()],
    )


def represented_features(W: Tensor, min_norm: float) -> list[int]:
    """Indices i with ‖Wᵢ‖ ≥ ``min_norm`` (> 0): the features the model stores.

    Args:
        W: (n_hidden, n_features).
    """
    norms = metrics.feature_norms(W)
    return [i for i, norm in enumerate(norms.tolist()) if norm >= max(min_norm, 1e-12)]


def cosine_statistics(
    W: Tensor, min_norm: float, bins: int, seed: int
) -> tuple[list[int], CosineSummary, CosineSummary]:
    """The represented features' pairwise cosines, and the same for random unit vectors.

    Args:
        W: (n_hidden, n_features).
        min_norm: a feature is represented if ‖Wᵢ‖ ≥ min_norm.
        bins: histogram bins over [−1, 1].
        seed: seeds the k = len(represented) random unit vectors in R^n_hidden (normalised
            Gaussians, so uniform on the sphere).

    Returns:
        (represented indices, model summary, random summary).
    """
    W = W.detach().double().cpu()
    represented = represented_features(W, min_norm)
    model = summarise(pairwise_cosines(W[:, represented]), bins)
    generator = torch.Generator().manual_seed(seed)
    random = torch.randn((W.shape[0], len(represented)), generator=generator, dtype=torch.float64)
    return represented, model, summarise(pairwise_cosines(random), bins)


def default_active_counts(n_features: int) -> list[int]:
    """Every l in 1..n for n ≤ 64, else 48 distinct integers roughly log-spaced from 1 to n."""
    if n_features <= ALL_L_UP_TO:
        return list(range(1, n_features + 1))
    points = DEFAULT_L_POINTS
    while True:  # rounding merges the small values: space more finely until 48 stay distinct
        step = math.log(n_features) / (points - 1)
        counts = sorted({round(math.exp(step * k)) for k in range(points)} | {n_features})
        if len(counts) >= DEFAULT_L_POINTS:
            return counts[:1] + counts[len(counts) - DEFAULT_L_POINTS + 1 :]
        points += 1


@dataclass(frozen=True)
class NoiseCurve:
    """Readouts with l features active, per l (None where no feature is inactive, l = n)."""

    active: list[int]
    pre_activation_rms: list[float | None]
    post_activation_rms: list[float | None]
    signal: list[float]


@torch.no_grad()
def noise_curve(
    W: Tensor,
    b: Tensor,
    activation: Activation,
    power: int,
    active: Sequence[int],
    samples: int,
    seed: int,
) -> NoiseCurve:
    """Compounding noise: readouts of a trained model with l features on at magnitude 1.

    For each l, ``samples`` active sets of l features are drawn uniformly at random, from a
    generator seeded by (``seed``, l), so that an l's values do not depend on the other l asked.
    With x the indicator of the set, the readout is z = WᵀW x before the activation and the model's
    own x′ after it (ReLU(z + b), z + b, or zᵏ). Measured: the RMS of zⱼ and of x′ⱼ over inactive
    features j and samples, and the mean of zᵢ over active i (the signal, ‖Wᵢ‖² plus interference).
    Random unit directions predict an RMS of √(l/m) (docs/THEORY.md F13).

    Args:
        W: (n_hidden, n_features); b: (n_features,).
        activation, power: the model's, as trained.
        active: the l values, each in 1..n_features.
        samples: active sets per l, ≥ 1.
        seed: seeds the sets.

    Raises:
        ValueError: an l outside 1..n_features, or samples < 1.
    """
    n = W.shape[-1]
    if samples < 1 or any(not 1 <= count <= n for count in active):
        raise ValueError(f"every l must be in 1..{n} and samples ≥ 1")
    W64, b64 = W.detach().double().cpu().unsqueeze(0), b.detach().double().cpu().unsqueeze(0)
    pre_rms: list[float | None] = []
    post_rms: list[float | None] = []
    signal: list[float] = []
    for count in active:
        generator = torch.Generator().manual_seed(seed * (1 << 20) + count)  # l < 2²⁰
        order = torch.rand((samples, n), generator=generator).argsort(dim=1)  # random sets
        x = torch.zeros((samples, n), dtype=torch.float64)
        x.scatter_(1, order[:, :count], 1.0)
        x = x.mT.contiguous().unsqueeze(0)  # (1, n, samples): feature-major, like the model's
        on = x.bool()
        z = torch.bmm(W64.mT, torch.bmm(W64, x))  # WᵀW x, before the activation and the bias
        out = activate(z, b64, activation, power)  # the model's own x′
        signal.append(z[on].mean().item())
        if count == n:
            pre_rms.append(None)
            post_rms.append(None)
        else:
            pre_rms.append(z[~on].square().mean().sqrt().item())
            post_rms.append(out[~on].square().mean().sqrt().item())
    return NoiseCurve(list(active), pre_rms, post_rms, signal)


def crossover(curve: NoiseCurve) -> int | None:
    """The first l whose pre-activation noise RMS reaches the signal, or None."""
    for count, noise, signal in zip(
        curve.active, curve.pre_activation_rms, curve.signal, strict=True
    ):
        if noise is not None and noise >= signal:
            return count
    return None


@dataclass(frozen=True)
class NoiseReport:
    """A noise curve beside its predictions (Linsefors's compounding noise).

    Attributes:
        curve: the measured readouts per l.
        predicted_rms: √(l/m) per l, the RMS readout of random unit vectors.
        crossover_l: the first l whose noise reaches the signal (``crossover``), or None.
        typical_budget: m, the active features random directions tolerate.
        worst_case_budget: the worst case's budget (``theory_interference.worst_case_budget``).
    """

    curve: NoiseCurve
    predicted_rms: list[float]
    crossover_l: int | None
    typical_budget: float
    worst_case_budget: float | None


def active_counts(requested: Sequence[int] | None, n_features: int) -> list[int]:
    """The l of a noise curve: the requested ones, sorted and distinct, or the defaults."""
    return sorted(set(requested)) if requested else default_active_counts(n_features)


def noise_report(curve: NoiseCurve, n_features: int, n_hidden: int) -> NoiseReport:
    """A measured :func:`noise_curve` of a model with n features in m dimensions, beside what
    theory predicts for it."""
    n, m = n_features, n_hidden
    return NoiseReport(
        curve=curve,
        predicted_rms=[theory_interference.random_noise(count, m) for count in curve.active],
        crossover_l=crossover(curve),
        typical_budget=float(m),
        worst_case_budget=theory_interference.worst_case_budget(n, m),
    )
