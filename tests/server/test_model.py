"""The hand-written training step against autograd and torch.optim.AdamW."""

from __future__ import annotations

import pytest
import torch

from server.tms.config import Activation, TrainConfig
from server.tms.data import sample_features
from server.tms.model import (
    Architecture,
    forward,
    init_weights,
    loss_gradients,
    reconstruction_loss,
)
from server.tms.training import TrainingBatch
from tests.server.runs import eager_only
from tests.server.runs import make_run as Run
from tests.server.runs import train_tensors as train


@pytest.mark.parametrize("activation", ["relu", "linear"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_match_autograd(activation: Activation, dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(0)
    for rows, n, m, batch in ((3, 5, 2, 64), (2, 20, 5, 256), (4, 2, 1, 32), (1, 40, 7, 128)):
        W = torch.randn((rows, m, n), generator=generator, dtype=dtype)
        b = 0.3 * torch.randn((rows, n), generator=generator, dtype=dtype)
        x = sample_features(torch.full((rows, n), 0.4, dtype=dtype), batch, generator)
        importance = torch.rand((rows, n), generator=generator, dtype=dtype)

        W_ = W.clone().requires_grad_(True)
        b_ = b.clone().requires_grad_(True)
        loss = reconstruction_loss(x, forward(W_, b_, x, Architecture(activation)), importance)
        loss.sum().backward()  # rows are independent: the sum's gradient is each row's
        dW, db, ours, _ = loss_gradients(
            W, b, x, importance, Architecture(activation), with_loss=True
        )

        assert ours is not None
        torch.testing.assert_close(ours, loss.detach(), rtol=1e-5, atol=0)
        # 1e-5 relative to each gradient's scale: float32 sums cancel in near-zero entries
        scale_W, scale_b = W_.grad.abs().max().item(), b_.grad.abs().max().item()
        torch.testing.assert_close(dW, W_.grad, rtol=1e-5, atol=1e-5 * scale_W)
        torch.testing.assert_close(db, b_.grad, rtol=1e-5, atol=1e-5 * scale_b)
        assert dW.abs().max() > 1e-3  # the comparison is not between zeros


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_a_run_steps_like_autograd_with_torch_adamw(
    activation: Activation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Replay the run's own samples through autograd and torch.optim.AdamW: same weights.
    # The eager step's (the fused one has its own replay test, test_fused.py).
    eager_only(monkeypatch)
    config = TrainConfig(steps=20, batch_size=64, lr=3e-3)
    probability, importance = torch.tensor([[0.1], [0.5]]), torch.rand(2, 6)
    run = Run(probability, importance, 3, activation, config, seed=4)
    W = run.W.clone().requires_grad_(True)
    b = run.b.clone().requires_grad_(True)
    optimizer = torch.optim.AdamW([W, b], lr=3e-3, weight_decay=0.01)
    batch = TrainingBatch()
    batch.add(run)
    for _ in range(config.steps):
        replay = torch.Generator()
        replay.set_state(run.generator.get_state())
        batch.step()
        x = sample_features(run.probability, 64, replay)
        loss = reconstruction_loss(
            x, forward(W, b, x, Architecture(activation)), run.importance
        ).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.testing.assert_close(run.W, W.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(run.b, b.detach(), rtol=1e-5, atol=1e-6)
    assert not torch.equal(run.W, init_weights(2, 6, 3, torch.Generator().manual_seed(4))[0])


def test_a_run_in_a_batch_is_the_same_as_alone() -> None:
    # A run that joins another mid-way, with other hyper-parameters, gets the weights it gets
    # alone: its own generator, optimiser state and step count.
    config = TrainConfig(steps=300, batch_size=128, n_restarts=2, n_eval_samples=4096)
    importance = torch.ones(1, 5)
    alone = train(torch.tensor([[0.1]]), importance, 2, "relu", config, seed=1)

    joiner = Run(torch.tensor([[0.1]]), importance, 2, "relu", config, seed=1)
    other_config = TrainConfig(steps=1000, batch_size=128, lr=3e-3)
    other = Run(torch.tensor([[0.3], [0.05]]), torch.rand(2, 5), 2, "relu", other_config, 7)
    batch = TrainingBatch()
    batch.add(other)
    for _ in range(50):
        batch.step()
    batch.add(joiner)
    while not joiner.done:
        batch.step()
    together = joiner.result()
    assert torch.equal(together.W, alone.W) and torch.equal(together.b, alone.b)
    assert torch.equal(together.loss, alone.loss)
    assert other.step == 350


def test_runs_of_another_shape_cannot_join() -> None:
    batch = TrainingBatch()
    batch.add(Run(torch.tensor([[0.1]]), torch.ones(1, 5), 2, "relu", TrainConfig(), 0))
    with pytest.raises(ValueError, match="cannot join"):
        batch.add(Run(torch.tensor([[0.1]]), torch.ones(1, 5), 3, "relu", TrainConfig(), 0))
