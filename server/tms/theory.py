"""Closed-form theory of the toy models: what the optimal solution is, without training.

Pure Python (``math`` only), no torch and no web imports. Formulas, sources and numeric oracles
are in ``docs/THEORY.md``; each function names its item (F3, F6–F8, F11). Conventions:

- ``p`` is the feature probability (density) ρ = 1 − S; a feature is 0 with probability S and
  U[0, 1] otherwise (or exactly 1, for ``magnitude="boolean"``; signed for the power model).
- Losses are the paper's per-sample sum over features, L = E Σᵢ Iᵢ (xᵢ − x′ᵢ)², the same
  quantity the trainer reports.
- In the phase diagrams feature 1 (and 2, for n = 3) has importance 1 and the last, "extra",
  feature has importance ``r``.

Phase names (TMS §"Superposition as a Phase Change"):

- n = 2, m = 1 (:data:`PHASES_2x1`): ``"not_learned"`` W = [1, 0]; ``"dedicated"`` W = [0, 1]
  (the extra feature takes the dimension); ``"superposition"`` W = [1, −1] (antipodal).
- n = 3, m = 2 (:data:`PHASES_3x2`), named by the direction W ignores: ``"not_learned"``
  W ⊥ [0, 0, 1]; ``"dedicated"`` W ⊥ [1, 0, 0] (the extra feature gets a dimension, feature 1 is
  dropped); ``"extra_superposed"`` W ⊥ [0, 1, 1] (the extra feature in an antipodal pair with
  feature 2); ``"others_superposed"`` W ⊥ [1, 1, 0] (features 1 and 2 antipodal, the extra
  feature dedicated). The paper leaves out W ⊥ [1, 1, 1]; so does this theory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from server.tms.config import Magnitude

PHASES_2x1 = ("not_learned", "dedicated", "superposition")
PHASES_3x2 = ("not_learned", "dedicated", "extra_superposed", "others_superposed")

# ρ below which two features sharing a dimension antipodally beat one dedicated and one dropped
# feature, whatever their importances (F7, F11): ρ²/3 < V(ρ) ⟺ ρ < 4/7, i.e. S > 3/7.
ANTIPODAL_DENSITY = 4.0 / 7.0


def log_spaced(first: float, last: float, count: int) -> list[float]:
    """``count`` values from ``first`` to ``last`` (both kept), evenly spaced on a log scale."""
    if count == 1 or first == last:
        return [first] * count
    # In logs, so that no ratio of the ends overflows (first = 5e-324, say); the ends are exact.
    lo, hi = math.log(first), math.log(last)
    inner = [math.exp(lo + (hi - lo) * k / (count - 1)) for k in range(1, count - 1)]
    return [first, *inner, last]


def _check_probability(p: float) -> None:
    if not 0.0 < p <= 1.0 or math.isnan(p):
        raise ValueError(f"feature probability must be in (0, 1], got {p}")


# The size of an active feature: U[0, 1] (the paper's) or exactly 1 ("boolean", Linsefors).
def moment(j: int, magnitude: Magnitude = "uniform", signed: bool = False) -> float:
    """μⱼ = E ξʲ of an active feature's value ξ (docs/THEORY.md §0; F15 for the signed case).

    Unsigned: U[0, 1] has μⱼ = 1/(j + 1), boolean has μⱼ = 1. Signed (times a fair random sign,
    so U[−1, 1] or ±1): the same for even j, 0 for odd j.

    Raises:
        ValueError: j < 0, or an unknown magnitude.
    """
    if j < 0:
        raise ValueError(f"moment order must be ≥ 0, got {j}")
    if magnitude not in ("uniform", "boolean"):
        raise ValueError(f"unknown magnitude {magnitude!r}")
    if signed and j % 2 == 1:
        return 0.0
    return 1.0 / (j + 1) if magnitude == "uniform" else 1.0


def variance(p: float, magnitude: Magnitude = "uniform", signed: bool = False) -> float:
    """Var xᵢ = ρ·μ₂ − (ρ·μ₁)² for one feature of density ρ = ``p``.

    The paper's U[0, 1] gives V(ρ) = ρ/3 − ρ²/4 (docs/THEORY.md §0); boolean features ρ(1 − ρ).

    Raises:
        ValueError: ``p`` is not in (0, 1].
    """
    _check_probability(p)
    mean = p * moment(1, magnitude, signed)
    return p * moment(2, magnitude, signed) - mean * mean


def zero_output_loss(
    total_importance: float, p: float, magnitude: Magnitude = "uniform", signed: bool = False
) -> float:
    """The loss of answering x′ = 0: E Σᵢ Iᵢ xᵢ² = ρ·μ₂·Σᵢ Iᵢ, given ``total_importance`` Σᵢ Iᵢ.

    For the power model it is C–W's p·n·μ₂ (equal importances 1: Σᵢ Iᵢ = n), and
    L = zero_output − L̃ defines the gain L̃ (docs/THEORY.md F15, Eqs. 6–7).

    Raises:
        ValueError: ``p`` is not in (0, 1].
    """
    _check_probability(p)
    return p * moment(2, magnitude, signed) * total_importance


# -- n = 2, m = 1 ---------------------------------------------------------------------------------
def candidate_losses_2x1(p: float, r: float) -> dict[str, float]:
    """Losses of the three candidate solutions for n = 2, m = 1 (docs/THEORY.md F6).

    - ``not_learned``: W = [1, 0], b = (0, ρ/2): L = r·V(ρ).
    - ``dedicated``: W = [0, 1], b = (ρ/2, 0): L = V(ρ).
    - ``superposition``: W = [1, −1], b = 0: L = (1 + r)·ρ²/6 (errs by min(x₁, x₂) on each
      feature when both are active).

    Args:
        p: feature probability ρ in (0, 1], shared by both features.
        r: the extra feature's importance (feature 1 has importance 1), ≥ 0.

    Raises:
        ValueError: ``p`` out of (0, 1] or ``r`` negative.
    """
    if r < 0 or math.isnan(r):
        raise ValueError(f"relative importance must be ≥ 0, got {r}")
    v = variance(p)
    return {"not_learned": r * v, "dedicated": v, "superposition": (1.0 + r) * p * p / 6.0}


def antipodal_bias_loss(b: float, p: float) -> float:
    """f(b): loss per unit importance of W = [1, −1] with a shared bias b ∈ [0, 1]
    (docs/THEORY.md F8).

    f(b) = S·b² + S·ρ·b³/3 + ρ²·{[(1 − b)³ + b³]/3 − (1 − b)⁴/6}; the model's loss is (1 + r)·f(b).
    """
    _check_probability(p)
    s = 1.0 - p
    return (
        s * b * b + s * p * b**3 / 3.0 + p * p * (((1 - b) ** 3 + b**3) / 3.0 - (1 - b) ** 4 / 6.0)
    )


def _antipodal_bias_slope(b: float, p: float) -> float:
    """f′(b), increasing in b because f is convex on [0, 1]."""
    s = 1.0 - p
    return 2 * s * b + s * p * b * b + p * p * (b * b - (1 - b) ** 2 + 2 * (1 - b) ** 3 / 3.0)


def _bisect(fn: Callable[[float], float], lo: float, hi: float, iterations: int = 1100) -> float:
    """The root of ``fn`` on [lo, hi], given fn(lo) < 0 < fn(hi) (plain bisection, to rounding)."""
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if fn(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def optimal_antipodal_bias(p: float) -> tuple[float, float]:
    """The bias b* that minimises f on [0, 1], and f(b*) (docs/THEORY.md F8).

    f′(0) = −ρ²/3 < 0 and f is convex, so b* > 0 is the root of f′, found by bisection to
    rounding error. b* ≈ ρ²/(6S) when sparse.

    Returns:
        (b*, f*). The antipodal model's loss with that bias is (1 + r)·f*.
    """
    _check_probability(p)
    if _antipodal_bias_slope(1.0, p) <= 0:  # never for p in (0, 1]; kept for safety
        return 1.0, antipodal_bias_loss(1.0, p)
    b = _bisect(lambda x: _antipodal_bias_slope(x, p), 0.0, 1.0)
    return b, antipodal_bias_loss(b, p)


def antipodal_window(p: float, optimised_bias: bool = False) -> tuple[float, float] | None:
    """The range of r in which the antipodal solution is optimal (docs/THEORY.md F7, F8).

    Canonical (b = 0): 2ρ/(4 − 5ρ) < r < (4 − 5ρ)/(2ρ), non-empty iff ρ < 4/7.
    With the optimised bias: f*/(V − f*) < r < (V − f*)/f*, non-empty iff f* < V/2.
    Both windows are symmetric under r ↔ 1/r.

    Returns:
        (lower, upper), or None where the window is empty (the dense side of the triple point).
    """
    v = variance(p)
    f = optimal_antipodal_bias(p)[1] if optimised_bias else p * p / 6.0
    if f == 0.0:  # f ∝ ρ² underflows for ρ below about 1e-154: the window's limit is (0, ∞)
        return 0.0, math.inf
    if f >= v / 2.0:
        return None
    return f / (v - f), (v - f) / f


def triple_point(optimised_bias: bool = False) -> float:
    """The feature probability ρ of the triple point at r = 1 (docs/THEORY.md F7, F8).

    Canonical: ρ = 4/7 (S = 3/7 ≈ 0.4286). With the optimised antipodal bias: the root of
    f*(ρ) = V(ρ)/2, ρ ≈ 0.62692 (S ≈ 0.37308).
    """
    if not optimised_bias:
        return ANTIPODAL_DENSITY
    return _bisect(lambda p: optimal_antipodal_bias(p)[1] - variance(p) / 2.0, 0.3, 0.95)


def best_candidate(losses: dict[str, float]) -> str:
    """The candidate of least loss; a tie goes to the one listed first."""
    return min(losses, key=lambda name: losses[name])


def phase_2x1(p: float, r: float) -> str:
    """The theoretical phase of the extra feature for n = 2, m = 1: the F6 candidate of least loss.

    Ties (exactly r = 1 on the dense side) go to ``not_learned``.
    """
    return best_candidate(candidate_losses_2x1(p, r))


# -- n = 3, m = 2 ---------------------------------------------------------------------------------
def candidate_losses_3x2(p: float, r: float) -> dict[str, float]:
    """Losses of the paper's four candidate solutions for n = 3, m = 2, importances (1, 1, r).

    Exact integration, as F6: a dedicated feature (unit norm, b = 0) costs 0, a dropped feature
    with b = ρ/2 costs I·V(ρ), and an antipodal pair with importances Iₐ, I_b and b = 0 costs
    (Iₐ + I_b)·ρ²/6; the parts are orthogonal, so they add.

    - ``not_learned`` (W ⊥ [0, 0, 1]): r·V(ρ).
    - ``dedicated`` (W ⊥ [1, 0, 0]): V(ρ).
    - ``extra_superposed`` (W ⊥ [0, 1, 1]): (1 + r)·ρ²/6.
    - ``others_superposed`` (W ⊥ [1, 1, 0]): 2·ρ²/6.

    Raises:
        ValueError: ``p`` out of (0, 1] or ``r`` negative.
    """
    if r < 0 or math.isnan(r):
        raise ValueError(f"relative importance must be ≥ 0, got {r}")
    v, pair = variance(p), p * p / 6.0
    return {
        "not_learned": r * v,
        "dedicated": v,
        "extra_superposed": (1.0 + r) * pair,
        "others_superposed": 2.0 * pair,
    }


def phase_3x2(p: float, r: float) -> str:
    """The theoretical phase for n = 3, m = 2: the candidate of least loss (ties: listed order)."""
    return best_candidate(candidate_losses_3x2(p, r))


# -- boundaries -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Boundary:
    """A curve where the optimal candidate switches between ``between[0]`` and ``between[1]``.

    Attributes:
        feature_probability, relative_importance: the curve's points (same length).
        between: the two phases on either side.
        optimised_bias: True for F8's curves (antipodal solution with its best bias).
    """

    between: tuple[str, str]
    feature_probability: list[float]
    relative_importance: list[float]
    optimised_bias: bool = False


def _curve(
    between: tuple[str, str],
    r_of_p: Callable[[float], float | None],
    ps: Sequence[float],
    r_range: tuple[float, float],
    optimised_bias: bool = False,
) -> Boundary | None:
    """Sample r(p) and keep the points inside the diagram's r range."""
    r_lo, r_hi = min(r_range), max(r_range)
    points = [(p, r) for p in ps if (r := r_of_p(p)) is not None and r_lo <= r <= r_hi]
    if not points:
        return None
    return Boundary(between, [p for p, _ in points], [r for _, r in points], optimised_bias)


def _window_edge(k: int, optimised_bias: bool) -> Callable[[float], float | None]:
    """r(ρ) of the antipodal window's lower (k = 0) or upper (k = 1) edge; None where empty."""

    def r_of_p(rho: float) -> float | None:
        window = antipodal_window(rho, optimised_bias)
        return None if window is None else window[k]

    return r_of_p


def boundaries(
    n_features: int,
    p_range: tuple[float, float],
    r_range: tuple[float, float],
    points: int = 200,
) -> list[Boundary]:
    """The theory's phase boundaries inside a diagram's ranges (docs/THEORY.md F7, F8).

    n = 2, m = 1: the antipodal window's two edges, canonical and with the optimised bias, and
    r = 1 between ``not_learned`` and ``dedicated`` on the dense side of the triple point.
    n = 3, m = 2: from :func:`candidate_losses_3x2`: r = 2ρ/(4 − 5ρ) (``not_learned`` |
    ``extra_superposed``) and r = 1 for ρ < 4/7; r = 1 (``not_learned`` | ``dedicated``) for
    ρ > 4/7; and the vertical line ρ = 4/7 for r > 1 (``dedicated`` | ``others_superposed``).

    Args:
        n_features: 2 (m = 1) or 3 (m = 2).
        p_range, r_range: the diagram's axis ranges (either order).
        points: samples per curve, log-spaced in p.

    Raises:
        ValueError: ``n_features`` is neither 2 nor 3.
    """
    p_lo, p_hi = min(p_range), max(p_range)
    ps = log_spaced(p_lo, p_hi, points)
    sparse = [p for p in ps if p < ANTIPODAL_DENSITY]
    dense = [p for p in ps if p > ANTIPODAL_DENSITY]
    curves: list[Boundary | None] = []
    if n_features == 2:
        for optimised in (False, True):
            cut = triple_point(optimised)
            side = [p for p in ps if p < cut]
            for k, between in (
                (0, ("not_learned", "superposition")),
                (1, ("superposition", "dedicated")),
            ):
                curves.append(_curve(between, _window_edge(k, optimised), side, r_range, optimised))
            dense_side = [p for p in ps if p >= cut]
            curves.append(
                _curve(("not_learned", "dedicated"), lambda _: 1.0, dense_side, r_range, optimised)
            )
    elif n_features == 3:
        lower = lambda p: 2 * p / (4 - 5 * p)  # noqa: E731 — r·V = (1 + r)ρ²/6
        curves.append(_curve(("not_learned", "extra_superposed"), lower, sparse, r_range))
        curves.append(
            _curve(("extra_superposed", "others_superposed"), lambda _: 1.0, sparse, r_range)
        )
        curves.append(_curve(("not_learned", "dedicated"), lambda _: 1.0, dense, r_range))
        if p_lo <= ANTIPODAL_DENSITY <= p_hi:
            rs = log_spaced(max(1.0, min(r_range)), max(r_range), points)
            if max(r_range) >= 1.0:
                curves.append(
                    Boundary(("others_superposed", "dedicated"), [ANTIPODAL_DENSITY] * len(rs), rs)
                )
    else:
        raise ValueError(f"phase diagrams exist for n_features 2 and 3, not {n_features}")
    return [c for c in curves if c is not None]


# -- linear optimum and uniform superposition -----------------------------------------------------
def linear_optimum(
    importance: Sequence[float],
    feature_probability: Sequence[float],
    n_hidden: int,
    magnitude: Magnitude = "uniform",
) -> float:
    """The least loss of the linear model x′ = WᵀWx + b (docs/THEORY.md F3, weighted Eckart–Young).

    It keeps the m features of largest Iᵢ·V(ρᵢ) with WᵀW = diag(1 on kept) and sets bᵢ = E xᵢ
    (ρᵢ/2 for U[0, 1]) on the rest, so L* = Σ_dropped Iᵢ·V(ρᵢ). The ReLU model reaches the same loss
    with the same solution, so for it this is the best loss without superposition. By Baldi and
    Hornik every other critical point of a linear autoencoder is a saddle (F17).

    Args:
        importance: Iᵢ, length n.
        feature_probability: ρᵢ, length n (or length 1, shared by every feature).
        n_hidden: m ≥ 0.
        magnitude: the active features' size; the proof only needs their variance.

    Raises:
        ValueError: lengths differ, or a probability is out of (0, 1].
    """
    n = len(importance)
    ps = (
        list(feature_probability) * n
        if len(feature_probability) == 1
        else list(feature_probability)
    )
    if len(ps) != n:
        raise ValueError(f"{len(ps)} probabilities for {n} importances")
    costs = sorted(
        (i * variance(p, magnitude) for i, p in zip(importance, ps, strict=True)), reverse=True
    )
    return sum(costs[n_hidden:])


def uniform_superposition(n_features: int, n_hidden: int, p: float) -> dict[str, float] | None:
    """Equal importance 1, n ≥ 2m: m dedicated features vs m antipodal pairs (docs/THEORY.md F11).

    - ``dedicated``: (n − m)·V(ρ) (equal to :func:`linear_optimum` here).
    - ``antipodal_pairs``: m·ρ²/3 + (n − 2m)·V(ρ), assuming orthogonal pairs and canonical biases.

    Pairs win iff ρ < 4/7. Returns None when n < 2m (the comparison does not apply).
    """
    if n_features < 2 * n_hidden:
        return None
    v = variance(p)
    return {
        "dedicated": (n_features - n_hidden) * v,
        "antipodal_pairs": n_hidden * p * p / 3.0 + (n_features - 2 * n_hidden) * v,
    }
