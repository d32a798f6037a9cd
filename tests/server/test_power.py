"""The power-activation model x′ = (WᵀWx)ᵏ of Chowdhury & Weiner (docs/THEORY.md F15): its signed
inputs, its exact gradient, its gain L̃ against F15's oracles, and :mod:`server.tms.theory_power`.

Every Monte Carlo here goes through the trainer's own sampler (``sample_features``) and
``training.evaluate``, on U[−1, 1] features: μ₂ = 1/3, μ₄ = 1/5, μ₆ = 1/7.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from server.tms import theory, theory_power
from server.tms.config import TrainConfig
from server.tms.data import FeatureDistribution, sample_features
from server.tms.model import Architecture, forward, loss_gradients, reconstruction_loss
from server.tms.training import TrainResult, evaluate
from tests.server.runs import train_tensors as train

SIGNED_UNIFORM = FeatureDistribution("uniform", signed=True)
MU2, MU4, MU6 = 1 / 3, 1 / 5, 1 / 7


def _gain(
    W: torch.Tensor, p: float, k: int, n_samples: int, seed: int, importance: torch.Tensor | None
) -> tuple[float, float]:
    """(L, L̃) of one power model (W of shape (m, n), b = 0) by ``training.evaluate``."""
    n = W.shape[-1]
    importance = torch.ones(1, n) if importance is None else importance
    result = evaluate(
        W.unsqueeze(0),
        torch.zeros(1, n),
        Architecture("power", k),
        SIGNED_UNIFORM,
        torch.full((1, n), p),
        importance,
        n_samples,
        torch.Generator().manual_seed(seed),
    )
    return result.loss.item(), result.gain.item()


def _lines(count: int, scale: float) -> torch.Tensor:
    """``count`` vectors of norm √scale at angles πj/count in R²: W of shape (2, count)."""
    angles = torch.arange(count, dtype=torch.float64) * math.pi / count
    return (math.sqrt(scale) * torch.stack([angles.cos(), angles.sin()])).float()


# -- data -----------------------------------------------------------------------------------------
def test_signed_uniform_features() -> None:
    """Signed uniform inputs are C–W's ξ·b with ξ ~ U[−1, 1] (F15): P(xᵢ ≠ 0) = p, values in
    [−1, 1], mean 0, and active values with E x² = 1/3, E x⁴ = 1/5, E|x| = 1/2, half positive."""
    p = torch.tensor([[0.1, 0.3, 0.7], [1.0, 0.05, 0.5]])
    x = sample_features(p, 200_000, torch.Generator().manual_seed(0), SIGNED_UNIFORM)
    assert x.shape == (2, 3, 200_000)
    active = x != 0
    torch.testing.assert_close(active.float().mean(dim=-1), p, atol=0.004, rtol=0)
    assert x.min().item() >= -1.0 and x.max().item() <= 1.0
    assert x.min().item() < -0.999 and x.max().item() > 0.999  # both ends are reached
    torch.testing.assert_close(x.mean(dim=-1), torch.zeros_like(p), atol=0.004, rtol=0)
    values = x[active]
    assert (values > 0).float().mean().item() == pytest.approx(0.5, abs=0.003)
    assert values.abs().mean().item() == pytest.approx(0.5, abs=0.002)
    assert (values**2).mean().item() == pytest.approx(MU2, abs=0.002)
    assert (values**4).mean().item() == pytest.approx(MU4, abs=0.002)


def test_boolean_features() -> None:
    """Boolean inputs (Linsefors's, F13): unsigned ones are exactly 0 or 1 with P(1) = p; signed
    ones are exactly −1, 0 or 1 with P(≠ 0) = p and balanced signs."""
    p = torch.tensor([[0.1, 0.4, 1.0]])
    unsigned = sample_features(
        p, 200_000, torch.Generator().manual_seed(1), FeatureDistribution("boolean")
    )
    assert set(unsigned.unique().tolist()) == {0.0, 1.0}
    torch.testing.assert_close(unsigned.mean(dim=-1), p, atol=0.004, rtol=0)

    signed = sample_features(
        p, 200_000, torch.Generator().manual_seed(1), FeatureDistribution("boolean", signed=True)
    )
    assert set(signed.unique().tolist()) == {-1.0, 0.0, 1.0}
    torch.testing.assert_close((signed != 0).float().mean(dim=-1), p, atol=0.004, rtol=0)
    positive = (signed == 1).float().sum(dim=-1) / (signed != 0).float().sum(dim=-1)
    torch.testing.assert_close(positive, torch.full_like(p, 0.5), atol=0.01, rtol=0)
    assert (signed[0, 2] != 0).all()  # p = 1: every feature is on


@pytest.mark.parametrize(
    "distribution",
    [SIGNED_UNIFORM, FeatureDistribution("boolean"), FeatureDistribution("boolean", signed=True)],
)
def test_new_distributions_are_deterministic_per_seed(distribution: FeatureDistribution) -> None:
    """The same seed gives the same batch, another seed another one."""
    p = torch.full((2, 4), 0.3)
    a = sample_features(p, 256, torch.Generator().manual_seed(5), distribution)
    b = sample_features(p, 256, torch.Generator().manual_seed(5), distribution)
    c = sample_features(p, 256, torch.Generator().manual_seed(6), distribution)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


# -- model ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3, 5])
def test_power_gradients_match_autograd(k: int) -> None:
    """``loss_gradients`` of x′ = (WᵀWx)ᵏ (F15) equals autograd's, in float64; the loss too; and
    ∂L/∂b is exactly 0 (the model has no bias), even when written into a dirty buffer."""
    generator = torch.Generator().manual_seed(k)
    for rows, n, m, batch in ((3, 5, 2, 64), (2, 12, 4, 128), (1, 9, 2, 256)):
        W = 0.7 * torch.randn((rows, m, n), generator=generator, dtype=torch.float64)
        b = 0.3 * torch.randn((rows, n), generator=generator, dtype=torch.float64)
        probability = torch.full((rows, n), 0.4, dtype=torch.float64)
        x = sample_features(probability, batch, generator, SIGNED_UNIFORM)
        importance = torch.rand((rows, n), generator=generator, dtype=torch.float64)

        W_ = W.clone().requires_grad_(True)
        loss = reconstruction_loss(x, forward(W_, b, x, Architecture("power", k)), importance)
        loss.sum().backward()
        dW, db, ours, _ = loss_gradients(
            W, b, x, importance, Architecture("power", k), with_loss=True
        )
        assert ours is not None
        torch.testing.assert_close(ours, loss.detach(), rtol=1e-12, atol=0)
        torch.testing.assert_close(dW, W_.grad, rtol=1e-10, atol=1e-12)
        assert dW.abs().max() > 1e-3  # the comparison is not between zeros
        assert db.shape == b.shape and torch.count_nonzero(db) == 0

        buffers = (torch.full_like(W, 7.0), torch.full_like(b, 7.0))
        dW_into, db_into, _, _ = loss_gradients(
            W, b, x, importance, Architecture("power", k), into=buffers
        )
        assert dW_into is buffers[0] and db_into is buffers[1]
        torch.testing.assert_close(dW_into, W_.grad, rtol=1e-10, atol=1e-12)
        assert torch.count_nonzero(db_into) == 0


def test_power_forward_ignores_the_bias() -> None:
    """x′ = (WᵀWx)ᵏ with no bias (F15): b changes nothing; k = 3 is the cube of k = 1."""
    generator = torch.Generator().manual_seed(0)
    W = torch.randn((2, 3, 7), generator=generator, dtype=torch.float64)
    x = sample_features(torch.full((2, 7), 0.5, dtype=torch.float64), 32, generator, SIGNED_UNIFORM)
    zero, bias = torch.zeros(2, 7, dtype=torch.float64), torch.ones(2, 7, dtype=torch.float64)
    linear = forward(W, zero, x, Architecture("power", 1))
    torch.testing.assert_close(linear, W.mT @ W @ x)
    torch.testing.assert_close(forward(W, bias, x, Architecture("power", 3)), linear**3)
    assert torch.equal(
        forward(W, bias, x, Architecture("power", 5)), forward(W, zero, x, Architecture("power", 5))
    )


# -- F15 oracles by Monte Carlo -------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3, 5])
def test_f15_loss_identity(k: int) -> None:
    """L = p·μ₂·Σ Iᵢ − L̃ (F15, Eqs. 6–7) for a random W: ``evaluate``'s L + L̃ is the exact loss of
    x′ = 0, ``theory.zero_output_loss``; and its L̃ agrees with 2E⟨x, Iφ⟩ − E⟨φ, Iφ⟩ computed
    from separately drawn samples. Both within 4 standard errors."""
    generator = torch.Generator().manual_seed(3)
    n, m, p, samples = 6, 3, 0.2, 1 << 19
    W = 0.8 * torch.randn(m, n, generator=generator) / math.sqrt(m)
    importance = 0.5 + torch.rand(1, n, generator=generator)
    loss, gain = _gain(W, p, k, samples, 10 + k, importance)

    zero = theory.zero_output_loss(importance.sum().item(), p, signed=True)
    assert zero == pytest.approx(p * MU2 * importance.sum().item(), rel=1e-6)
    # Var Σ Iᵢxᵢ² = Σ Iᵢ²·(p·μ₄ − p²·μ₂²) for independent features
    zero_error = math.sqrt((importance.double() ** 2).sum().item() * (p * MU4 - (p * MU2) ** 2))
    assert abs(loss + gain - zero) < 4 * zero_error / math.sqrt(samples)

    probability = torch.full((1, n), p)
    x = sample_features(probability, samples, torch.Generator().manual_seed(20 + k), SIGNED_UNIFORM)
    phi = forward(W.unsqueeze(0), torch.zeros(1, n), x, Architecture("power", k))
    per_sample = ((2 * x - phi) * phi * importance.unsqueeze(-1)).sum(dim=1)[0].double()
    independent = per_sample.mean().item()
    error = per_sample.std().item() / math.sqrt(samples)  # the same for evaluate's estimate
    assert abs(gain - independent) < 4 * math.sqrt(2) * error
    assert error < 0.05 * abs(independent)  # precise enough to mean something


def test_f15_unsuperposed_gain() -> None:
    """F15 oracle: m = 2, n = 9, p = 0.01, k = 3, two dedicated features with Aᵢᵢ³ = μ₄/μ₆ gain
    p·2·μ₄²/μ₆ = 0.0056 (docs/THEORY.md MC 0.005565 ± 0.000034), which is
    ``theory_power.unsuperposed_gain``; half that Aᵢᵢ³ gains (2s − s²) = 3/4 of it (Eqs. 9–10)."""
    expected = theory_power.unsuperposed_gain(0.01, 3, theory_power.kept_importance([1.0] * 9, 2))
    assert expected == pytest.approx(0.0056, rel=1e-12)
    for s, fraction, seed in ((1.0, 1.0, 0), (0.5, 0.75, 1)):
        W = torch.zeros(2, 9)
        W[0, 0] = W[1, 1] = math.sqrt((s * MU4 / MU6) ** (1 / 3))
        _, gain = _gain(W, 0.01, 3, 1 << 21, seed, None)
        # per-sample sd ≈ 0.057, so the standard error is 4e-5, 0.7 % of 0.0056
        assert gain == pytest.approx(fraction * expected, rel=0.03), s


def test_f15_nine_lines_beat_the_unsuperposed_optimum() -> None:
    """F15 [derived]: 9 lines at angles πj/9 in R² with A = t·Gram, t³ = μ₄·9/(μ₆·5·81/16)
    (t ≈ 0.7925), at p = 10⁻³, k = 3: L̃/p ≈ 0.885 (docs/THEORY.md MC 8.85e−4; first order 0.896),
    well above the best unsuperposed 0.56: for k = 3 superposition pays."""
    t = (MU4 * 9 / (MU6 * 5 * 81 / 16)) ** (1 / 3)
    assert t == pytest.approx(0.7925, abs=5e-5)
    p = 1e-3
    _, gain = _gain(_lines(9, t), p, 3, 1 << 22, 0, None)
    # standard error of L̃/p at 2^22 samples: 0.0096 (1.1 %)
    assert gain / p == pytest.approx(0.885, rel=0.04)
    unsuperposed = theory_power.unsuperposed_gain(p, 3, theory_power.kept_importance([1.0] * 9, 2))
    assert unsuperposed == pytest.approx(0.56 * p, rel=1e-12)
    assert gain > 1.4 * unsuperposed


def test_f15_linear_ceiling_by_a_projection() -> None:
    """F15, k = 1: a rank-2 projection (the first two unit vectors, n = 5) at p = 0.3 gains
    p·μ₂·m = 0.2 = ``theory_power.linear_ceiling(0.3, 2, 5)``."""
    ceiling = theory_power.linear_ceiling(0.3, 2, 5)
    assert ceiling == pytest.approx(0.2, rel=1e-12)
    W = torch.zeros(2, 5)
    W[0, 0] = W[1, 1] = 1.0
    loss, gain = _gain(W, 0.3, 1, 1 << 20, 0, None)
    # the gain per sample is x₀² + x₁², sd 0.32: standard error 3.1e-4
    assert gain == pytest.approx(ceiling, abs=1.3e-3)
    assert loss == pytest.approx(3 * 0.3 * MU2, abs=2e-3)  # the three dropped features


def _train_power(p: float, n: int, k: int, steps: int, seed: int) -> TrainResult:
    config = TrainConfig(steps=steps, n_eval_samples=1 << 21)
    return train(torch.tensor([[p]]), torch.ones(1, n), 2, "power", config, seed=seed, power=k)


def test_trained_linear_power_model_reaches_the_ceiling() -> None:
    """F15, k = 1: no W gains more than p·μ₂·m (superposition is useless); a trained model
    (n = 6, m = 2, p = 0.3, 3000 steps) gets within 10 % of it and not measurably above it."""
    result = _train_power(0.3, 6, 1, 3000, seed=0)
    ceiling = theory_power.linear_ceiling(0.3, 2, 6)
    gain = result.gain.item()
    assert 0.9 * ceiling <= gain <= ceiling * 1.01  # standard error ≈ 2e-4, 0.1 % of 0.2
    assert torch.count_nonzero(result.b) == 0


@pytest.fixture(scope="module")
def trained_cubic() -> TrainResult:
    """k = 3, n = 9, m = 2, p = 0.01, seed 0, default lr, 5000 steps (about 1 s)."""
    return _train_power(0.01, 9, 3, 5000, seed=0)


def test_trained_power_model_keeps_b_exactly_zero(trained_cubic: TrainResult) -> None:
    """The power model has no bias (F15): its gradient is 0, so AdamW leaves b exactly 0."""
    assert trained_cubic.b.shape == (1, 9)
    assert torch.count_nonzero(trained_cubic.b) == 0
    assert trained_cubic.W.abs().max() > 0.5  # it did train


def test_trained_cubic_model_uses_superposition(trained_cubic: TrainResult) -> None:
    """F15: for k = 3 a trained model beats the best unsuperposed W (0.56·p here) by storing
    more than m = 2 features. Measured: L̃/p = 0.815 at seed 0 (0.81–0.84 over seeds 0–7, each
    with 4–6 features of norm > 0.5), against 0.56; the standard error at 2^21 samples is 0.004."""
    unsuperposed = theory_power.unsuperposed_gain(
        0.01, 3, theory_power.kept_importance([1.0] * 9, 2)
    )
    assert trained_cubic.gain.item() > 1.3 * unsuperposed
    norms = trained_cubic.W[0].norm(dim=0)
    assert (norms > 0.5).sum().item() >= 3


# -- theory_power ---------------------------------------------------------------------------------
def test_per_feature_gain() -> None:
    """μ_{k+1}²/μ_{2k} (F15): 0.28 for k = 3 on U[−1, 1], μ₂ = 1/3 for k = 1, (1/7)²/(1/11) = 11/49
    for k = 5, and 1 for ±1 features, whatever k."""
    assert theory_power.per_feature_gain(3) == pytest.approx(0.28, rel=1e-12)
    assert theory_power.per_feature_gain(1) == pytest.approx(1 / 3, rel=1e-12)
    assert theory_power.per_feature_gain(5) == pytest.approx((1 / 7) ** 2 * 11, rel=1e-12)
    for k in (1, 3, 5):
        assert theory_power.per_feature_gain(k, "boolean") == 1.0


def test_kept_importance_and_unsuperposed_gain() -> None:
    """The m most important features are kept; for k = 1 the unsuperposed gain is the linear
    ceiling (F15)."""
    assert theory_power.kept_importance([0.2, 3.0, 1.0, 0.5], 2) == pytest.approx(4.0)
    assert theory_power.kept_importance([0.2, 3.0], 5) == pytest.approx(3.2)
    assert theory_power.kept_importance([1.0, 2.0], 0) == 0.0
    assert theory_power.unsuperposed_gain(0.3, 1, 2.0) == pytest.approx(
        theory_power.linear_ceiling(0.3, 2, 4), rel=1e-12
    )
    assert theory_power.unsuperposed_gain(0.1, 3, 2.0, "boolean") == pytest.approx(0.2)
    assert theory_power.linear_ceiling(0.3, 2, 4, magnitude="boolean") == pytest.approx(0.6)
    # a projection has rank at most min(m, n): with fewer features than dimensions, n counts
    assert theory_power.linear_ceiling(0.3, 5, 2) == pytest.approx(0.2, rel=1e-12)
    assert theory_power.linear_ceiling(0.3, 2, 0) == 0.0


def test_scaling_shapes_and_the_very_sparse_edge() -> None:
    """Theorem 2.2's shapes (p·mᵏ, m·p^(1/k)) with constant 1; they meet at p = m⁻ᵏ (F15)."""
    assert theory_power.scaling_shapes(0.01, 10, 3) == pytest.approx((10.0, 10 * 0.01 ** (1 / 3)))
    assert theory_power.scaling_shapes(0.5, 4, 1) == pytest.approx((2.0, 2.0))
    assert theory_power.very_sparse_edge(2, 3) == 0.125
    assert theory_power.very_sparse_edge(10, 5) == pytest.approx(1e-5)
    edge = theory_power.very_sparse_edge(15, 3)
    upper, lower = theory_power.scaling_shapes(edge, 15, 3)
    assert upper == pytest.approx(lower, rel=1e-12)
    below = theory_power.scaling_shapes(edge / 10, 15, 3)
    assert below[0] < below[1]  # very sparse: p·mᵏ is the smaller, and the bounds are tight


@pytest.mark.parametrize(
    "call",
    [
        lambda: theory_power.per_feature_gain(2),
        lambda: theory_power.per_feature_gain(0),
        lambda: theory_power.unsuperposed_gain(0.1, 4, 1.0),
        lambda: theory_power.unsuperposed_gain(0.0, 3, 1.0),
        lambda: theory_power.unsuperposed_gain(1.5, 3, 1.0),
        lambda: theory_power.unsuperposed_gain(math.nan, 3, 1.0),
        lambda: theory_power.linear_ceiling(0.0, 2, 4),
        lambda: theory_power.linear_ceiling(0.3, -1, 4),
        lambda: theory_power.linear_ceiling(0.3, 2, -1),
        lambda: theory_power.scaling_shapes(0.1, 4, 2),
        lambda: theory_power.scaling_shapes(-0.1, 4, 3),
        lambda: theory_power.very_sparse_edge(2, 4),
        lambda: theory_power.very_sparse_edge(0, 3),
    ],
)
def test_theory_power_rejects_bad_arguments(call: Callable[[], object]) -> None:
    """Even k, p outside (0, 1] (or NaN) and negative m or n raise ValueError."""
    with pytest.raises(ValueError):
        call()


def test_p_equal_to_one_is_allowed() -> None:
    """p = 1 is the dense end of (0, 1]."""
    assert theory_power.unsuperposed_gain(1.0, 3, 2.0) == pytest.approx(0.56)
