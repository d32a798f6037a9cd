"""Training lands where the theory says (THEORY.md F3, F9, F10)."""

from __future__ import annotations

import pytest
import torch

from server import metrics
from server.model import ToyModel
from server.training import EVAL_SEED_OFFSET, TrainConfig, best_restarts, evaluate_loss, train


def test_two_features_one_dimension_sparse_lands_antipodal() -> None:
    # n=2, m=1, equal importance, S=0.9: the optimum is W ≈ ±(1, −1), L = 0.003319 (F9).
    result = train(
        torch.tensor([[0.1]]),
        torch.ones(1, 2),
        1,
        "relu",
        TrainConfig(steps=3000, n_restarts=4),
        seed=0,
    )
    w = result.W[0, 0]
    sign = torch.sign(w[0])
    torch.testing.assert_close(sign * w, torch.tensor([1.0, -1.0]), atol=0.1, rtol=0)
    assert result.loss.item() == pytest.approx(0.003319, rel=0.10)


def test_dense_linear_model_keeps_the_two_most_important_features() -> None:
    # The linear model learns the top-m features by importance, like PCA (F3).
    importance = (0.7 ** torch.arange(5.0)).unsqueeze(0)
    result = train(
        torch.tensor([[1.0]]), importance, 2, "linear", TrainConfig(steps=2000, lr=1e-2), seed=0
    )
    norms = metrics.feature_norms(result.W)[0]
    torch.testing.assert_close(norms[:2], torch.ones(2, dtype=torch.float64), atol=0.02, rtol=0)
    assert (norms[2:] < 0.05).all(), norms
    torch.testing.assert_close(
        metrics.gram(result.W)[0, :2, :2], torch.eye(2, dtype=torch.float64), atol=0.03, rtol=0
    )
    # Dropped features are predicted by their mean, ρ/2 = 0.5 (F3).
    torch.testing.assert_close(result.b[0, 2:], torch.full((3,), 0.5), atol=0.03, rtol=0)
    optimum = sum(0.7**i for i in range(2, 5)) / 12  # Σ_dropped Iᵢ V(1), V(1) = 1/12
    assert result.loss.item() == pytest.approx(optimum, rel=0.02)


def test_training_is_deterministic() -> None:
    args = (
        torch.tensor([[0.3], [0.05]]),
        torch.ones(2, 4),
        2,
        "relu",
        TrainConfig(steps=50, batch_size=64, n_restarts=2, n_eval_samples=256),
    )
    a, b = train(*args, seed=3), train(*args, seed=3)
    c = train(*args, seed=4)
    assert torch.equal(a.W, b.W) and torch.equal(a.b, b.b) and torch.equal(a.loss, b.loss)
    assert not torch.equal(a.W, c.W)


def test_shapes_and_history() -> None:
    result = train(
        torch.tensor([[0.3], [0.1], [0.01]]),
        torch.ones(3, 6),
        2,
        "relu",
        TrainConfig(steps=30, batch_size=32, n_restarts=3, history_points=10, n_eval_samples=128),
        seed=0,
    )
    assert result.W.shape == (3, 2, 6) and result.b.shape == (3, 6) and result.loss.shape == (3,)
    assert result.history_steps == [3 * k for k in range(1, 11)]
    assert result.history_loss.shape == (10, 3)


def test_best_restarts_picks_the_lowest_of_each_instance() -> None:
    losses = torch.tensor([3.0, 1.0, 2.0, 0.5, 9.0, 7.0])  # 3 instances × 2 restarts
    assert best_restarts(losses, 2).tolist() == [1, 3, 5]


def test_restarts_keep_the_lowest_evaluated_loss() -> None:
    # Capture every restart's final weights, score them ourselves, and check the kept one.
    config = TrainConfig(steps=200, batch_size=256, n_restarts=3, n_eval_samples=4096)
    final: dict[str, torch.Tensor] = {}

    def capture(step: int, model: ToyModel, losses: torch.Tensor) -> None:
        if step == config.steps:
            final["W"], final["b"] = model.W.detach().clone(), model.b.detach().clone()

    result = train(
        torch.tensor([[0.05]]), torch.ones(1, 5), 2, "relu", config, seed=11, on_step=capture
    )
    model = ToyModel(3, 5, 2)
    with torch.no_grad():
        model.W.copy_(final["W"])
        model.b.copy_(final["b"])
    scores = evaluate_loss(
        model,
        torch.full((3, 5), 0.05),
        torch.ones(3, 5),
        4096,
        torch.Generator().manual_seed(11 + EVAL_SEED_OFFSET),
    )
    best = int(scores.argmin())
    assert len(set(scores.tolist())) == 3  # the restarts really differ
    torch.testing.assert_close(result.W[0], final["W"][best])
    assert result.loss.item() == pytest.approx(scores[best].item())
