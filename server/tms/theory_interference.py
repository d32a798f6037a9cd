"""What random and worst-case geometry predicts for interference (docs/THEORY.md F13–F14).

Linsefors, "Some costs of superposition" (her m and n are swapped; here n is the number of
features and m the hidden dimension), and the reply in its thread:

- two random unit vectors in Rᵐ have RMS cosine 1/√m;
- l active unit features put noise of RMS √(l/m) on an inactive feature's readout, so noise
  reaches a unit signal at about l = m (the "typical" budget);
- her worst case takes ε = √(8 ln n / m) from Johnson–Lindenstrauss, noise ε·√l, and the budget
  l < m / (8 ln n).

Pure Python, no torch.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass


def _check(n_features: int, n_hidden: int, active: int = 1) -> None:
    if n_features < 1 or n_hidden < 1 or active < 1:
        raise ValueError(
            f"n_features, n_hidden and l must be ≥ 1, got {n_features}, {n_hidden}, {active}"
        )


def random_rms_overlap(n_hidden: int) -> float:
    """1/√m: the RMS cosine of two independent random unit vectors in Rᵐ (F13, the reply)."""
    _check(1, n_hidden)
    return 1.0 / math.sqrt(n_hidden)


def _any_above(tail: float, pairs: float) -> float:
    """1 − (1 − tail)ᴺ: the chance that one of N independent pairs exceeds a level each exceeds
    with probability ``tail``."""
    return 1.0 if tail >= 1.0 else -math.expm1(pairs * math.log1p(-tail))


def random_expected_max_overlap(n_features: int, n_hidden: int, grid: int = 4001) -> float | None:
    """E max |cos| over the N = n(n−1)/2 pairs of n random unit vectors in Rᵐ; None if n < 2.

    The angle θ between two random unit vectors has density ∝ sinᵐ⁻²θ, so P(|cos| > cos θ) is
    known for every θ ≤ π/2. Treating the N pairs as independent gives
    E max = ∫₀¹ 1 − (1 − P(|cos| > t))ᴺ dt, integrated numerically here  **[derived, standard;
    the pairs share vectors, so this is an approximation]**. For large m it tends to the
    extreme-value figure √(4 ln n / m) of docs/THEORY.md F13. Checked against Monte Carlo in
    tests/server/test_theory_interference.py: n = 2000, m = 100 gives 0.484 here, and the mean of
    20 draws is 0.481 (F13 quotes a single draw, 0.514); two vectors give E|cos| exactly.

    Args:
        grid: integration points (the density's bulk, within 14/√m of π/2, is what is sampled).

    Raises:
        ValueError: n or m < 1.
    """
    _check(n_features, n_hidden)
    if n_features < 2:
        return None
    if n_hidden == 1:
        return 1.0  # every direction is ±1
    pairs = n_features * (n_features - 1) / 2
    half_pi = math.pi / 2
    low = max(0.0, half_pi - 14.0 / math.sqrt(n_hidden))  # below it sinᵐ⁻²θ is negligible
    thetas = [low + (half_pi - low) * j / (grid - 1) for j in range(grid)]
    power = n_hidden - 2  # log sinᵐ⁻²θ; for m = 2 it is 0 everywhere, θ = 0 included
    log_density = [
        0.0 if power == 0 else power * math.log(math.sin(t)) if t > 0 else -math.inf for t in thetas
    ]
    peak = max(log_density)
    density = [math.exp(d - peak) for d in log_density]
    step = (half_pi - low) / (grid - 1)
    cumulative = [0.0]  # ∫ from low to θⱼ: P(|cos| > cos θⱼ), unnormalised
    for a, b in itertools.pairwise(density):
        cumulative.append(cumulative[-1] + (a + b) * step / 2)
    total = cumulative[-1]
    # P(max > cos θ) · d(cos θ), with d(cos θ) = sin θ dθ, integrated over θ in [low, π/2].
    above = [
        _any_above(c / total, pairs) * math.sin(t) for c, t in zip(cumulative, thetas, strict=True)
    ]
    expected = sum((a + b) * step / 2 for a, b in itertools.pairwise(above))
    return min(1.0, expected)


def jl_overlap(n_features: int, n_hidden: int) -> float:
    """ε = √(8 ln n / m), Linsefors's "derived from Johnson–Lindenstrauss" interference (F13).

    Oracles: n = 10⁴, m = 100 gives 0.8584; n = 2000, m = 100 gives 0.7798.

    Raises:
        ValueError: n or m < 1.
    """
    _check(n_features, n_hidden)
    return math.sqrt(8.0 * math.log(n_features) / n_hidden)


def random_noise(active: int, n_hidden: int) -> float:
    """√(l/m): the RMS readout on an inactive feature from l = ``active`` features on at magnitude
    1 in random unit directions (F13; MC oracle: l = 10, m = 100 gives 0.3158 against 0.3162).

    Raises:
        ValueError: l or m < 1.
    """
    _check(1, n_hidden, active)
    return math.sqrt(active / n_hidden)


def worst_case_budget(n_features: int, n_hidden: int) -> float | None:
    """l < m / (8 ln n): how many features may be active before ε·√l reaches 1 (F13);
    None for n = 1 (no other feature to interfere). Oracle: n = 10⁴, m = 100 gives 1.357.

    Raises:
        ValueError: n or m < 1.
    """
    _check(n_features, n_hidden)
    return None if n_features == 1 else n_hidden / (8.0 * math.log(n_features))


@dataclass(frozen=True)
class InterferenceBounds:
    """The calculator's answer for n features in m dimensions with l active (F13–F14)."""

    n_features: int
    n_hidden: int
    l: int  # noqa: E741 (Linsefors's name for the number of active features)
    random_rms_overlap: float
    random_expected_max_overlap: float | None
    jl_overlap: float
    random_noise: float
    jl_noise: float
    typical_budget: float
    worst_case_budget: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def interference_bounds(n_features: int, n_hidden: int, active: int) -> InterferenceBounds:
    """Random-vector and Johnson–Lindenstrauss figures for n, m and l = ``active`` (F13–F14).

    - ``random_noise`` √(l/m) (:func:`random_noise`);
    - ``jl_noise`` ε·√l with ε = :func:`jl_overlap`;
    - ``typical_budget`` m: where √(l/m) reaches 1; ``worst_case_budget`` m/(8 ln n).

    Raises:
        ValueError: n, m or l < 1.
    """
    _check(n_features, n_hidden, active)
    epsilon = jl_overlap(n_features, n_hidden)
    return InterferenceBounds(
        n_features=n_features,
        n_hidden=n_hidden,
        l=active,
        random_rms_overlap=random_rms_overlap(n_hidden),
        random_expected_max_overlap=random_expected_max_overlap(n_features, n_hidden),
        jl_overlap=epsilon,
        random_noise=random_noise(active, n_hidden),
        jl_noise=epsilon * math.sqrt(active),
        typical_budget=float(n_hidden),
        worst_case_budget=worst_case_budget(n_features, n_hidden),
    )
