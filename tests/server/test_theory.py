"""The closed-form theory against docs/THEORY.md's oracles (F3, F6–F8, F11) and Monte Carlo."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from server.api.schemas.models import ModelRequest
from server.tms import theory
from server.tms.data import sample_features
from server.tms.measures import theory_losses as config_theory_losses
from server.tms.model import Architecture, forward, reconstruction_loss

# docs/THEORY.md F6's table: (r, S) → (L_A drop, L_B dedicate, L_C antipodal), to 6 decimals.
F6_TABLE = [
    (1.0, 0.9, 0.030833, 0.030833, 0.003333),
    (1.0, 0.5, 0.104167, 0.104167, 0.083333),
    (0.5, 0.8, 0.028333, 0.056667, 0.010000),
    (3.0, 0.95, 0.048125, 0.016042, 0.001667),
    (1.0, 0.0, 0.083333, 0.083333, 0.333333),
]


@pytest.mark.parametrize(("r", "S", "drop", "dedicate", "antipodal"), F6_TABLE)
def test_f6_candidate_losses(
    r: float, S: float, drop: float, dedicate: float, antipodal: float
) -> None:
    losses = theory.candidate_losses_2x1(1 - S, r)
    # the oracle is printed to 6 decimals, so it is exact to half a unit in the last place
    assert losses["not_learned"] == pytest.approx(drop, abs=5e-7)
    assert losses["dedicated"] == pytest.approx(dedicate, abs=5e-7)
    assert losses["superposition"] == pytest.approx(antipodal, abs=5e-7)


def test_f6_winners() -> None:
    assert theory.phase_2x1(0.1, 1.0) == "superposition"
    assert theory.phase_2x1(0.5, 0.5) == "not_learned"  # S = 0.5: the window is 2/3 < r < 3/2
    assert theory.phase_2x1(0.5, 1.2) == "superposition"
    assert theory.phase_2x1(1.0, 0.5) == "not_learned"
    assert theory.phase_2x1(1.0, 2.0) == "dedicated"
    assert theory.phase_2x1(0.1, 0.02) == "not_learned"  # F10: r = 0.02, S = 0.9 drops it


# F7: S → (lower, upper) edges of the antipodal window, as printed in docs/THEORY.md.
F7_WINDOWS = [
    (0.99, 0.00506, 197.5),
    (0.9, 0.05714, 17.5),
    (0.7, 0.24, 4.16667),
    (0.5, 0.66667, 1.5),
]


@pytest.mark.parametrize(("S", "lower", "upper"), F7_WINDOWS)
def test_f7_boundaries(S: float, lower: float, upper: float) -> None:
    rho = 1 - S
    window = theory.antipodal_window(rho)
    assert window is not None
    assert window[0] == pytest.approx(2 * rho / (4 - 5 * rho), rel=1e-12)
    assert window[1] == pytest.approx((4 - 5 * rho) / (2 * rho), rel=1e-12)
    assert window[0] == pytest.approx(lower, abs=5e-6)  # printed to 5 decimals
    assert window[1] == pytest.approx(upper, rel=1e-6)
    assert window[0] * window[1] == pytest.approx(1.0)  # symmetric under r ↔ 1/r
    # the edges are where the candidate losses cross
    for r, other in ((window[0], "not_learned"), (window[1], "dedicated")):
        losses = theory.candidate_losses_2x1(rho, r)
        assert losses["superposition"] == pytest.approx(losses[other], rel=1e-9)


def test_f7_triple_point() -> None:
    assert 1 - theory.triple_point() == pytest.approx(3 / 7, abs=1e-12)
    assert theory.antipodal_window(4 / 7 + 1e-9) is None
    lo, hi = theory.antipodal_window(4 / 7 - 1e-6)  # type: ignore[misc]
    assert lo == pytest.approx(1.0, abs=1e-4) and hi == pytest.approx(1.0, abs=1e-4)
    # F8: with the optimised bias the triple point moves to S = 0.37308
    assert 1 - theory.triple_point(optimised_bias=True) == pytest.approx(0.37308, abs=5e-6)


@pytest.mark.parametrize(("S", "b", "two_f"), [(0.9, 0.05, 0.007509), (0.5, 0.1, 0.077158)])
def test_f8_bias_loss(S: float, b: float, two_f: float) -> None:
    assert 2 * theory.antipodal_bias_loss(b, 1 - S) == pytest.approx(two_f, abs=5e-7)


def test_f8_bias_loss_at_zero_is_canonical() -> None:
    for rho in (0.01, 0.3, 0.9):
        assert theory.antipodal_bias_loss(0.0, rho) == pytest.approx(rho * rho / 6, rel=1e-12)


@pytest.mark.parametrize(
    ("S", "b_star", "f_star", "f_zero"),
    [(0.9, 0.00185, 0.0016636, 0.0016667), (0.5, 0.07876, 0.0383254, 0.0416667)],
)
def test_f8_optimal_bias(S: float, b_star: float, f_star: float, f_zero: float) -> None:
    b, f = theory.optimal_antipodal_bias(1 - S)
    assert b == pytest.approx(b_star, abs=5e-6)  # printed to 5 decimals
    assert f == pytest.approx(f_star, abs=5e-8)  # printed to 7 decimals
    assert theory.antipodal_bias_loss(0.0, 1 - S) == pytest.approx(f_zero, abs=5e-8)
    assert f < theory.antipodal_bias_loss(b * 0.9, 1 - S)  # it is a minimum
    assert f < theory.antipodal_bias_loss(b * 1.1, 1 - S)


def test_f8_quick_oracle_list() -> None:
    # docs/THEORY.md F8: r = 1, S = 0.9, antipodal with optimal bias = 0.0033272
    assert 2 * theory.optimal_antipodal_bias(0.1)[1] == pytest.approx(0.0033272, abs=5e-8)


def test_optimised_window_contains_canonical() -> None:
    for rho in (0.01, 0.1, 0.3, 0.5):
        canonical, optimised = theory.antipodal_window(rho), theory.antipodal_window(rho, True)
        assert canonical is not None and optimised is not None
        assert optimised[0] <= canonical[0] and optimised[1] >= canonical[1]
    assert theory.antipodal_window(0.6) is None and theory.antipodal_window(0.6, True) is not None


def test_variance_and_input_errors() -> None:
    assert theory.variance(0.1) == pytest.approx(0.0308333, abs=5e-8)
    assert theory.variance(1.0) == pytest.approx(1 / 12)
    for bad in (0.0, -0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="feature probability"):
            theory.variance(bad)
    with pytest.raises(ValueError, match="relative importance"):
        theory.candidate_losses_2x1(0.5, -1.0)
    with pytest.raises(ValueError, match="n_features 2 and 3"):
        theory.boundaries(4, (1.0, 0.01), (0.1, 10.0))


# -- n = 3, m = 2 -----------------------------------------------------------------------------
CANDIDATES_3x2 = {
    # W (m=2, n=3) of each candidate with b, importance (1, 1, r)
    "not_learned": ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], lambda rho: [0.0, 0.0, rho / 2]),
    "dedicated": ([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], lambda rho: [rho / 2, 0.0, 0.0]),
    "extra_superposed": ([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0]], lambda rho: [0.0, 0.0, 0.0]),
    "others_superposed": ([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]], lambda rho: [0.0, 0.0, 0.0]),
}


@pytest.mark.parametrize(("rho", "r"), [(0.3, 0.5), (0.05, 3.0), (0.8, 1.5)])
def test_3x2_candidate_losses_against_monte_carlo(rho: float, r: float) -> None:
    """The closed forms against the trainer's own sampler and forward pass, 2^21 samples."""
    names = list(CANDIDATES_3x2)
    W = torch.tensor([CANDIDATES_3x2[k][0] for k in names], dtype=torch.float64)
    b = torch.tensor([CANDIDATES_3x2[k][1](rho) for k in names], dtype=torch.float64)
    importance = torch.tensor([[1.0, 1.0, r]] * len(names), dtype=torch.float64)
    probability = torch.full((len(names), 3), rho, dtype=torch.float64)
    x = sample_features(probability, 1 << 21, torch.Generator().manual_seed(0))  # (4, 3, B)
    per_sample = ((x - forward(W, b, x, Architecture())) ** 2 * importance.unsqueeze(-1)).sum(dim=1)
    mean, error = per_sample.mean(dim=1), per_sample.std(dim=1) / math.sqrt(x.shape[-1])
    assert torch.allclose(
        mean, reconstruction_loss(x, forward(W, b, x, Architecture()), importance)
    )
    exact = theory.candidate_losses_3x2(rho, r)
    for k, name in enumerate(names):
        assert abs(mean[k].item() - exact[name]) < 4 * error[k].item() + 1e-12, name
        assert error[k].item() < 0.03 * exact[name]  # enough samples to tell the candidates apart


def test_3x2_phases() -> None:
    assert theory.phase_3x2(0.9, 0.5) == "not_learned"
    assert theory.phase_3x2(0.9, 2.0) == "dedicated"
    assert theory.phase_3x2(0.1, 0.5) == "extra_superposed"
    assert theory.phase_3x2(0.1, 2.0) == "others_superposed"
    assert theory.phase_3x2(0.1, 0.01) == "not_learned"


@pytest.mark.parametrize("n", [2, 3])
def test_boundaries_separate_the_phases_they_name(n: int) -> None:
    losses_of = theory.candidate_losses_2x1 if n == 2 else theory.candidate_losses_3x2
    curves = theory.boundaries(n, (1.0, 0.01), (0.1, 10.0), points=50)
    assert curves
    for curve in curves:
        for p, r in zip(curve.feature_probability, curve.relative_importance, strict=True):
            assert 0.01 <= p <= 1.0 and 0.1 <= r <= 10.0
            losses = losses_of(p, r)
            if curve.optimised_bias:
                losses["superposition"] = (1 + r) * theory.optimal_antipodal_bias(p)[1]
            a, c = curve.between
            assert losses[a] == pytest.approx(losses[c], rel=1e-9)
            assert losses[a] <= min(losses.values()) * (1 + 1e-9)


# -- F3 and F11 -------------------------------------------------------------------------------
@pytest.mark.parametrize(("S", "expected"), [(0.0, 0.046464), (0.7, 0.043212), (0.99, 0.001845)])
def test_f3_linear_optimum(S: float, expected: float) -> None:
    importance = [0.7**i for i in range(20)]
    assert theory.linear_optimum(importance, [1 - S], 5) == pytest.approx(expected, abs=5e-7)


def test_f3_keeps_largest_weighted_variance() -> None:
    # a dense unimportant feature can outrank a sparse important one: I·V decides
    loss = theory.linear_optimum([1.0, 0.5], [0.01, 1.0], 1)
    assert loss == pytest.approx(theory.variance(0.01))


@pytest.mark.parametrize(
    ("S", "dedicated", "pairs"), [(0.5, 38.5417, 37.9167), (0.3, 41.0083, 42.5833)]
)
def test_f11_uniform(S: float, dedicated: float, pairs: float) -> None:
    losses = theory.uniform_superposition(400, 30, 1 - S)
    assert losses is not None
    assert losses["dedicated"] == pytest.approx(dedicated, abs=5e-5)
    assert losses["antipodal_pairs"] == pytest.approx(pairs, abs=5e-5)
    assert theory.uniform_superposition(5, 3, 0.1) is None


def test_results_carry_the_theory_losses() -> None:
    request = ModelRequest(n_features=20, n_hidden=5, importance_decay=0.7, feature_probability=1.0)
    linear = config_theory_losses(request.to_config(), 0)
    assert linear == {  # F3, no F11; and the loss of x′ = 0, E Σ Iᵢ xᵢ² = Σ 0.7ⁱ / 3 at S = 0
        "linear_optimum": pytest.approx(0.046464, abs=5e-7),
        "zero_output": pytest.approx((1 - 0.7**20) / 0.3 / 3, rel=1e-12),
    }
    pentagon = config_theory_losses(
        ModelRequest(n_features=5, n_hidden=2, feature_probability=0.05).to_config(), 0
    )
    # F12: two digons and a dropped feature, 2ρ²/3 + V(ρ) = 0.017708 at S = 0.95
    assert pentagon["uniform_antipodal_pairs"] == pytest.approx(0.017708, abs=5e-7)
    assert (
        pentagon["uniform_dedicated"]
        == pentagon["linear_optimum"]
        == pytest.approx(3 * 0.01604167, abs=1e-6)
    )


@pytest.mark.parametrize("optimised", [False, True])
def test_the_window_is_total_down_to_the_smallest_probabilities(optimised: bool) -> None:
    """Found by the API fuzz test: ρ² underflowed to 0 and the window divided by it."""
    for rho in (1e-150, 1e-200, 1.6682611607959848e-258, 1e-300):
        window = theory.antipodal_window(rho, optimised)
        assert window is not None, rho
        assert 0.0 <= window[0] < 1e-100 and window[1] > 1e100
    # F8's bias is found to float precision however small ρ is: b* ≈ ρ²/(6S) when sparse.
    b_star, f_star = theory.optimal_antipodal_bias(1e-150)
    assert b_star == pytest.approx(1e-300 / 6, rel=1e-6) and f_star > 0
    for p_range in [(0.75, 1.6682611607959848e-258), (5e-324, 0.1)]:  # the requests that found it
        for n_features in (2, 3):
            assert isinstance(theory.boundaries(n_features, p_range, (0.1, 10.0)), list)


def test_log_spaced_keeps_its_ends_and_never_overflows() -> None:
    assert theory.log_spaced(1.0, 0.01, 3) == pytest.approx([1.0, 0.1, 0.01], rel=1e-12)
    points = theory.log_spaced(5e-324, 1.0, 50)
    assert points[0] == 5e-324 and points[-1] == 1.0
    assert all(0 < a < b <= 1 for a, b in itertools.pairwise(points))
