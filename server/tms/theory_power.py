"""Closed-form lines for the power-activation model (Chowdhury & Weiner; docs/THEORY.md F15).

The model is x′ = (WᵀWx)^k with k odd, tied weights and no bias, on symmetric inputs xᵢ = ξᵢ·bᵢ
(ξ ~ U[−1, 1] or ±1, bᵢ ~ Bernoulli(p)); in this project m is the hidden dimension (the paper's d)
and k the power (the paper's m). Its loss is L = p·μ₂·Σᵢ Iᵢ − L̃ (Eqs. 6–7), where L̃ is the *gain*
over answering zero.

What is exact here: the loss identity, the best diagonal ("unsuperposed") WᵀW, and for k = 1 the
linear ceiling (Eqs. 9–10; elementary to re-derive). What is not: Theorem 2.2's bounds hold up to
unknown constants, so :func:`scaling_shapes` returns their shapes with constant 1, for a plot to
scale. docs/THEORY.md reads the paper through a secondary source; check the PDF before quoting more.
Pure Python, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from server.tms.config import Magnitude
from server.tms.theory import moment, zero_output_loss


def _check(p: float, n_hidden: int, k: int) -> None:
    if not 0.0 < p <= 1.0 or math.isnan(p):
        raise ValueError(f"feature probability must be in (0, 1], got {p}")
    if n_hidden < 0:
        raise ValueError(f"n_hidden must be ≥ 0, got {n_hidden}")
    if k < 1 or k % 2 == 0:
        raise ValueError(f"the power k must be an odd integer ≥ 1, got {k}")


def per_feature_gain(k: int, magnitude: Magnitude = "uniform") -> float:
    """μ_{k+1}² / μ_{2k}: the most one feature with its own direction gains, per unit p (F15).

    A diagonal A = WᵀW gives feature i the gain p·(2μ_{k+1}·Aᵢᵢᵏ − μ_{2k}·Aᵢᵢ²ᵏ), largest at
    Aᵢᵢᵏ = μ_{k+1}/μ_{2k}. For ξ ~ U[−1, 1] and k = 3: (1/5)²/(1/7) = 0.28.

    Raises:
        ValueError: k is not an odd integer ≥ 1.
    """
    _check(1.0, 0, k)
    return moment(k + 1, magnitude, signed=True) ** 2 / moment(2 * k, magnitude, signed=True)


def kept_importance(importance: Sequence[float], n_hidden: int) -> float:
    """Σ of the m largest importances: the features a diagonal WᵀW keeps (m of them at most)."""
    return math.fsum(sorted(importance, reverse=True)[:n_hidden])


def unsuperposed_gain(p: float, k: int, kept: float, magnitude: Magnitude = "uniform") -> float:
    """The largest gain L̃ of any W whose WᵀW is diagonal (F15, Eqs. 9–10).

    At most m features get a direction; the best are the m most important:
    L̃ = p·(μ_{k+1}²/μ_{2k})·Σ_{m largest} Iᵢ, which is p·min(m, n)·μ_{k+1}²/μ_{2k} for equal
    importances 1. For k = 1 it equals the linear ceiling p·μ₂·m, the best of *any* W (F15).
    Oracle (F15): k = 3, m = 2, p = 0.01 and U[−1, 1] give 0.0056.

    Args:
        p: feature probability in (0, 1]; k: the odd power.
        kept: :func:`kept_importance`, Σ of the m largest Iᵢ (min(m, n) for equal importances 1).

    Raises:
        ValueError: p out of (0, 1], or k not odd.
    """
    _check(p, 0, k)
    return p * per_feature_gain(k, magnitude) * kept


def linear_ceiling(
    p: float, n_hidden: int, n_features: int, magnitude: Magnitude = "uniform"
) -> float:
    """k = 1: L̃ = p·μ₂·tr(2A − A²) ≤ p·μ₂·min(m, n), attained by a projection of that rank (F15,
    equal importances 1; F15 states it as p·μ₂·m for n ≥ m). Oracle: p = 0.3, m = 2, U[−1, 1]
    gives 0.2.

    Raises:
        ValueError: p out of (0, 1], m < 0 or n < 0.
    """
    _check(p, min(n_hidden, n_features), 1)
    return p * moment(2, magnitude, signed=True) * min(n_hidden, n_features)


def scaling_shapes(p: float, n_hidden: int, k: int) -> tuple[float, float]:
    """(p·mᵏ, m·p^(1/k)): the shapes of Theorem 2.2's bounds, with constant 1 (F15).

    For m > m₀ and n > mᵏ, C₁·min(p·mᵏ, m·p^(1/k)) ≤ sup_W L̃ ≤ C₂·p·mᵏ with constants C₁, C₂ that
    depend on k and ξ's law and are not known: these are shapes to scale, not values.

    Raises:
        ValueError: p out of (0, 1], m < 0, or k not odd.
    """
    _check(p, n_hidden, k)
    return p * float(n_hidden) ** k, n_hidden * p ** (1.0 / k)


def very_sparse_edge(n_hidden: int, k: int) -> float:
    """p = m⁻ᵏ, where the two shapes of :func:`scaling_shapes` meet; below it (the "very sparse
    regime") the bounds are tight, sup L̃ = Θ(p·mᵏ) (F15).

    Raises:
        ValueError: m < 1 or k not odd.
    """
    if n_hidden < 1:
        raise ValueError(f"n_hidden must be ≥ 1, got {n_hidden}")
    _check(1.0, n_hidden, k)
    return float(n_hidden) ** -k


@dataclass(frozen=True)
class PowerMoments:
    """The signed magnitude's moments μ₂, μ_{k+1} and μ_{2k}."""

    mu2: float
    mu_k1: float
    mu_2k: float


@dataclass(frozen=True)
class PowerSeries:
    """The power model's closed forms along log-spaced p, for equal importances 1.

    Attributes:
        per_feature_gain: μ_{k+1}²/μ_{2k}, a dedicated feature's gain / p.
        in_theorem_regime: n > m^k, where Theorem 2.2 speaks.
        very_sparse_edge: p = m^−k, where the two scaling shapes meet.
        p: the feature probabilities.
        zero_output_loss: p·n·μ₂, the loss of x′ = 0 (the most gain possible).
        unsuperposed_gain: the best diagonal WᵀW's gain (Eqs. 9–10).
        linear_ceiling: for k = 1 only, p·μ₂·min(m, n); else None.
        shape_sparse, shape_dense: p·m^k and m·p^(1/k), shapes with constant 1, not values.
    """

    k: int
    n_hidden: int
    n_features: int
    magnitude: Magnitude
    moments: PowerMoments
    per_feature_gain: float
    in_theorem_regime: bool
    very_sparse_edge: float
    p: list[float]
    zero_output_loss: list[float]
    unsuperposed_gain: list[float]
    linear_ceiling: list[float] | None
    shape_sparse: list[float]
    shape_dense: list[float]


def power_series(
    k: int, n_hidden: int, n_features: int, magnitude: Magnitude, ps: Sequence[float]
) -> PowerSeries:
    """Gains of the power model against p (Chowdhury & Weiner): the best unsuperposed W (exact),
    for k = 1 the linear ceiling (exact), and Theorem 2.2's scaling shapes with constant 1.

    Raises:
        ValueError: p outside (0, 1], or m or k below 1.
    """
    m, n = n_hidden, n_features
    kept = float(min(n, m))  # equal importances 1: the m kept features
    shapes = [scaling_shapes(p, m, k) for p in ps]
    return PowerSeries(
        k=k,
        n_hidden=m,
        n_features=n,
        magnitude=magnitude,
        moments=PowerMoments(
            mu2=moment(2, magnitude, signed=True),
            mu_k1=moment(k + 1, magnitude, signed=True),
            mu_2k=moment(2 * k, magnitude, signed=True),
        ),
        per_feature_gain=per_feature_gain(k, magnitude),
        in_theorem_regime=n > m**k,
        very_sparse_edge=very_sparse_edge(m, k),
        p=list(ps),
        zero_output_loss=[zero_output_loss(n, p, magnitude, signed=True) for p in ps],
        unsuperposed_gain=[unsuperposed_gain(p, k, kept, magnitude) for p in ps],
        linear_ceiling=[linear_ceiling(p, m, n, magnitude) for p in ps] if k == 1 else None,
        shape_sparse=[sparse for sparse, _ in shapes],
        shape_dense=[dense for _, dense in shapes],
    )
