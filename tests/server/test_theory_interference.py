"""Random-vector and Johnson–Lindenstrauss predictions of interference (docs/THEORY.md F13–F14)
against F13's oracles, exact results and Monte Carlo. Here n is the number of features and m the
hidden dimension (Linsefors swaps them)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from server.tms import theory_interference as ti


def _exact_mean_abs_cosine(m: int) -> float:
    """E|cos| of two independent uniform unit vectors in Rᵐ: Γ(m/2) / (√π·Γ((m + 1)/2))."""
    return math.exp(math.lgamma(m / 2) - math.lgamma((m + 1) / 2)) / math.sqrt(math.pi)


def _max_abs_cosines(n: int, m: int, draws: int, seed: int) -> torch.Tensor:
    """max over pairs of |cos| of n random unit vectors in Rᵐ, once per draw: (draws,)."""
    generator = torch.Generator().manual_seed(seed)
    out = torch.empty(draws, dtype=torch.float64)
    for d in range(draws):
        v = torch.randn((m, n), generator=generator)
        v = v / torch.linalg.vector_norm(v, dim=0, keepdim=True)
        cos = (v.mT @ v).abs()
        cos.fill_diagonal_(0.0)
        out[d] = cos.max().item()
    return out


def test_f13_jl_oracles() -> None:
    """F13: ε = √(8 ln n / m) and the worst-case budget m / (8 ln n), to docs/THEORY.md's digits."""
    assert ti.jl_overlap(10**4, 100) == pytest.approx(0.8584, abs=5e-5)
    assert ti.jl_overlap(2000, 100) == pytest.approx(0.7798, abs=5e-5)
    assert ti.jl_overlap(10**6, 1000) == pytest.approx(0.3325, abs=5e-5)
    assert ti.worst_case_budget(10**4, 100) == pytest.approx(1.357, abs=5e-4)
    assert ti.worst_case_budget(10**6, 1000) == pytest.approx(9.05, abs=5e-3)
    # the budget is where ε·√l reaches 1
    budget = ti.worst_case_budget(2000, 100)
    assert budget is not None
    assert ti.jl_overlap(2000, 100) * math.sqrt(budget) == pytest.approx(1.0, rel=1e-12)


def test_f13_random_rms_overlap() -> None:
    """The reply in F13's thread: two random unit vectors in Rᵐ have RMS cosine 1/√m."""
    assert ti.random_rms_overlap(100) == pytest.approx(0.1, rel=1e-12)
    assert ti.random_rms_overlap(1) == 1.0
    assert ti.random_rms_overlap(256) == pytest.approx(1 / 16, rel=1e-12)


def test_interference_bounds_fields() -> None:
    """F13–F14's calculator: random noise √(l/m) (l = 10, m = 100: 0.3162, MC 0.3158), JL noise
    ε·√l, typical budget m, worst-case budget m/(8 ln n), and the two overlap figures."""
    bounds = ti.interference_bounds(2000, 100, 10)
    assert (bounds.n_features, bounds.n_hidden, bounds.l) == (2000, 100, 10)
    assert bounds.random_noise == pytest.approx(0.3162, abs=5e-5)
    assert bounds.random_rms_overlap == pytest.approx(0.1, rel=1e-12)
    assert bounds.jl_overlap == pytest.approx(0.7798, abs=5e-5)
    assert bounds.jl_noise == pytest.approx(0.7798 * math.sqrt(10), abs=5e-4)
    assert bounds.typical_budget == 100.0
    assert bounds.worst_case_budget == pytest.approx(100 / (8 * math.log(2000)), rel=1e-12)
    assert bounds.random_expected_max_overlap == ti.random_expected_max_overlap(2000, 100)
    assert bounds.as_dict()["random_noise"] == bounds.random_noise
    assert set(bounds.as_dict()) == {
        "n_features",
        "n_hidden",
        "l",
        "random_rms_overlap",
        "random_expected_max_overlap",
        "jl_overlap",
        "random_noise",
        "jl_noise",
        "typical_budget",
        "worst_case_budget",
    }
    # l = m: the typical noise reaches a unit signal
    assert ti.interference_bounds(2000, 100, 100).random_noise == pytest.approx(1.0, rel=1e-12)


def test_one_feature_has_no_interference() -> None:
    """n = 1: no other feature, so no budgets, no max overlap, and ε = √(8 ln 1 / m) = 0."""
    bounds = ti.interference_bounds(1, 50, 1)
    assert bounds.worst_case_budget is None
    assert bounds.random_expected_max_overlap is None
    assert bounds.jl_overlap == 0.0 and bounds.jl_noise == 0.0
    assert ti.worst_case_budget(1, 50) is None
    assert ti.random_expected_max_overlap(1, 50) is None


@pytest.mark.parametrize(
    "call",
    [
        lambda: ti.random_rms_overlap(0),
        lambda: ti.jl_overlap(0, 10),
        lambda: ti.jl_overlap(10, 0),
        lambda: ti.worst_case_budget(0, 10),
        lambda: ti.worst_case_budget(10, 0),
        lambda: ti.random_expected_max_overlap(0, 10),
        lambda: ti.random_expected_max_overlap(10, 0),
        lambda: ti.interference_bounds(0, 10, 1),
        lambda: ti.interference_bounds(10, 0, 1),
        lambda: ti.interference_bounds(10, 10, 0),
    ],
)
def test_zero_arguments_are_rejected(call: Callable[[], object]) -> None:
    """n, m and l must be ≥ 1."""
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("m", [2, 3, 4, 7, 10, 100, 1000, 10**5])
def test_two_vectors_give_the_exact_mean_abs_cosine(m: int) -> None:
    """n = 2 has one pair, so the expected max |cos| is E|cos| = Γ(m/2)/(√π·Γ((m+1)/2)) exactly
    (2/π for m = 2, 1/2 for m = 3); the numerical integral must reproduce it."""
    assert ti.random_expected_max_overlap(2, m) == pytest.approx(
        _exact_mean_abs_cosine(m), rel=2e-4
    )


def test_closed_forms_of_the_exact_mean() -> None:
    """The Γ formula used above: 2/π in R², 1/2 in R³, and √(2/(πm)) for large m."""
    assert _exact_mean_abs_cosine(2) == pytest.approx(2 / math.pi, rel=1e-12)
    assert _exact_mean_abs_cosine(3) == pytest.approx(0.5, rel=1e-12)
    assert _exact_mean_abs_cosine(10**6) == pytest.approx(
        math.sqrt(2 / (math.pi * 10**6)), rel=1e-5
    )


def test_one_dimension_is_all_overlap() -> None:
    """m = 1: every direction is ±1, so any two features overlap fully."""
    assert ti.random_expected_max_overlap(2, 1) == 1.0
    assert ti.random_expected_max_overlap(500, 1) == 1.0


@pytest.mark.parametrize(
    ("n", "m", "draws"), [(15, 5, 400), (50, 20, 200), (512, 256, 40), (2000, 100, 30)]
)
def test_expected_max_overlap_against_monte_carlo(n: int, m: int, draws: int) -> None:
    """E max |cos| over n random unit vectors in Rᵐ (independent-pairs approximation) is within
    3 % of a Monte Carlo mean of max |cos| over seeded draws; the MC standard error is < 1 %."""
    predicted = ti.random_expected_max_overlap(n, m)
    assert predicted is not None
    sample = _max_abs_cosines(n, m, draws, seed=n)
    mean, error = sample.mean().item(), sample.std().item() / math.sqrt(draws)
    assert error < 0.01 * mean
    assert predicted == pytest.approx(mean, rel=0.03)


def test_f13_single_draw_max_overlap() -> None:
    """F13: one draw of 2000 random unit vectors in R¹⁰⁰ had max |overlap| 0.514; the expected
    maximum (0.484) is within 8 % of it, and below √(4 ln n / m) = 0.551 and ε_JL = 0.780."""
    predicted = ti.random_expected_max_overlap(2000, 100)
    assert predicted is not None
    assert predicted == pytest.approx(0.514, rel=0.08)
    assert predicted < math.sqrt(4 * math.log(2000) / 100) < ti.jl_overlap(2000, 100)


def test_expected_max_overlap_grows_with_n_and_falls_with_m() -> None:
    """More vectors in the same space crowd closer; more room spreads them apart."""
    by_n = [ti.random_expected_max_overlap(n, 100) for n in (2, 10, 100, 1000, 10**4)]
    by_m = [ti.random_expected_max_overlap(1000, m) for m in (10, 50, 100, 1000, 10**4)]
    values = [v for v in by_n + by_m if v is not None]
    assert len(values) == len(by_n) + len(by_m)
    assert by_n == sorted(values[:5]) and len(set(by_n)) == len(by_n)
    assert by_m == sorted(values[5:], reverse=True) and len(set(by_m)) == len(by_m)
    assert all(0.0 < v <= 1.0 for v in values)
