"""The fused step (server/tms/fused.py): its draws follow the dense sampler's law, its gradient
is autograd's, its AdamW is torch's, and a run trains to the same weights alone or batched.

Statistical checks reuse test_sparse's tests at a false-alarm rate of about 1e-4 each, at fixed
seeds (so the outcome does not change between runs).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from server.tms import fused
from server.tms.config import ModelConfig, TrainConfig
from server.tms.model import Architecture, forward, reconstruction_loss
from server.tms.training import Run, TrainingBatch, run_to_end
from tests.server.test_sparse import assert_dense_law, assert_fits

PROBABILITIES = [1e-40, 1e-25, 1e-4, 1e-3, 1e-2, 0.1, fused.DENSE_DRAW_MIN_PROBABILITY, 0.5, 1.0]


def fused_draws(
    probability: np.ndarray, boolean: bool, signed: bool, batch: int, times: int, seed: int
) -> torch.Tensor:
    """``times`` batches of every row through the kernel's draw: (rows, n, batch · times)."""
    generators = fused.row_generators(seed, len(probability))
    states = fused.state_addresses(generators)
    dense = probability >= fused.DENSE_DRAW_MIN_PROBABILITY
    out = np.zeros((len(probability), probability.shape[1], batch * times), np.float32)
    for row in range(len(probability)):
        for t in range(times):
            x = np.zeros((probability.shape[1], batch), np.float32)
            counts = np.zeros(batch, np.int32)
            bits = np.zeros(batch // 2 + 1, np.uint64)
            fused._draw(
                x, counts, probability[row], dense[row], states[row], boolean, signed, bits,
                fused._next_uint64,
            )  # fmt: skip
            assert np.array_equal(counts, (x != 0).sum(axis=0))
            out[row, :, t * batch : (t + 1) * batch] = x
    return torch.from_numpy(out)


@pytest.mark.parametrize("magnitude", ["uniform", "boolean"])
@pytest.mark.parametrize("signed", [False, True])
def test_draws_match_the_dense_sampler(magnitude: str, signed: bool) -> None:
    n, batch, times = 8, 2048, 6
    per_feature = np.logspace(-4, 0, n)
    probability = np.concatenate(
        [np.repeat(np.array(PROBABILITIES)[:, None], n, axis=1), per_feature[None]]
    )
    x = fused_draws(probability, magnitude == "boolean", signed, batch, times, seed=1)
    assert_dense_law(x, torch.from_numpy(probability), PROBABILITIES, magnitude, signed)


def test_gaps_between_active_samples_are_geometric() -> None:
    """Activity is independent across samples, not only right in its marginal: the gaps between
    a sparse feature's active samples follow Geometric(p)."""
    p, batch = 0.02, 1 << 16
    x = fused_draws(np.full((1, 1), p), False, False, batch, 1, seed=4)[0, 0]
    where = torch.nonzero(x).flatten()
    gaps = (where[1:] - where[:-1] - 1).double()  # inactive samples between active ones
    edges = torch.arange(0, 400, 20, dtype=torch.float64)
    counts = torch.histogram(gaps, torch.cat([edges, torch.tensor([1e9])])).hist
    upper = torch.cat([edges[1:], torch.tensor([float("inf")])])
    expected = ((1 - p) ** edges - torch.where(upper.isinf(), 0.0, (1 - p) ** upper)) * len(gaps)
    assert_fits(counts, expected)


def test_a_row_draws_the_same_whoever_else_is_drawn() -> None:
    """Row r's draws come from its own generator: the same seed and row give the same batch."""
    probability = np.full((3, 5), 0.05)
    a = fused_draws(probability, False, False, 1024, 2, seed=9)
    b = fused_draws(probability[:1], False, False, 1024, 2, seed=9)
    assert torch.equal(a[:1], b)
    assert not torch.equal(a[0], a[1])


@pytest.mark.parametrize("hidden_relu", [False, True])
@pytest.mark.parametrize("relu_out", [True, False])
@pytest.mark.parametrize("compact", [False, True])
def test_gradients_match_autograd(hidden_relu: bool, relu_out: bool, compact: bool) -> None:
    n, m, batch = 7, 3, 256
    g = torch.Generator().manual_seed(0)
    W = torch.randn(1, m, n, generator=g) * 0.5
    b = torch.randn(1, n, generator=g) * 0.1
    importance = torch.rand(1, n, generator=g) + 0.5
    x = torch.rand(1, n, batch, generator=g) * (torch.rand(1, n, batch, generator=g) < 0.15)
    x[..., :40] = 0.0  # some all-zero samples, as a sparse batch has
    arch = Architecture("relu" if relu_out else "linear", hidden="relu" if hidden_relu else "none")
    Wg, bg = W.clone().requires_grad_(), b.clone().requires_grad_()
    loss = reconstruction_loss(x, forward(Wg, bg, x, arch), importance)
    loss.sum().backward()

    xs = x[0].numpy().copy()
    counts = (xs != 0).sum(axis=0).astype(np.int32)
    inputs, k = xs, batch
    if compact:
        inputs = np.zeros_like(xs)
        active = int((counts > 0).sum())
        k = fused._compact(xs, counts, inputs)
        assert k == active and np.array_equal(inputs[:, :k], xs[:, (xs != 0).any(axis=0)])
    dW, db = np.zeros((m, n), np.float32), np.zeros(n, np.float32)
    scratch = np.zeros((2 * m + n + 2, batch), np.float32)
    scratch[-1] = 1.0
    ours = fused._gradients(
        W[0].numpy(), b[0].numpy(), importance[0].numpy(), inputs, k, batch, hidden_relu,
        relu_out, dW, db, scratch[:m], scratch[2 * m : 2 * m + n], scratch[m : 2 * m],
        scratch[2 * m + n], scratch[-1],
    )  # fmt: skip
    assert ours == pytest.approx(float(loss.detach()), rel=1e-5)
    torch.testing.assert_close(torch.from_numpy(dW), Wg.grad[0], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(torch.from_numpy(db), bg.grad[0], rtol=1e-4, atol=1e-6)


def test_adamw_matches_torch() -> None:
    g = torch.Generator().manual_seed(1)
    param = torch.randn(3, 4, generator=g)
    reference = param.clone().requires_grad_()
    optimiser = torch.optim.AdamW([reference], lr=3e-3, weight_decay=0.05)
    ours, m, v = param.numpy().copy(), np.zeros((3, 4), np.float32), np.zeros((3, 4), np.float32)
    for step in range(1, 6):
        grad = torch.randn(3, 4, generator=g)
        reference.grad = grad.clone()
        optimiser.step()
        fused._adamw(ours, grad.numpy(), m, v, 3e-3, 0.05, step)
    torch.testing.assert_close(torch.from_numpy(ours), reference.detach(), rtol=1e-5, atol=1e-7)


def small_model(p: float = 0.05, **kwargs: object) -> ModelConfig:
    return ModelConfig(5, 2, feature_probability=p, importance_decay=0.9, **kwargs)  # type: ignore[arg-type]


def test_which_runs_take_the_fused_step() -> None:
    config = TrainConfig(steps=10)
    assert fused.supports(small_model(), config, "cpu")
    assert fused.supports(small_model(hidden_activation="relu", magnitude="boolean"), config, "cpu")
    assert not fused.supports(small_model(), config, "cuda")
    assert not fused.supports(small_model(), TrainConfig(steps=10, n_train=64), "cpu")
    assert not fused.supports(small_model(activation="power"), config, "cpu")
    assert not fused.supports(small_model(task="absolute_value"), config, "cpu")
    assert not fused.supports(ModelConfig(400, 30), config, "cpu")
    assert Run(small_model(), config).fused
    assert Run(small_model(), config).sampler is None


def test_a_fused_run_is_the_same_alone_and_batched() -> None:
    config = TrainConfig(steps=300, n_restarts=2, seed=5)
    alone = run_to_end(Run(small_model(0.05), config))
    run = Run(small_model(0.05), config)
    other = Run(small_model(0.3), TrainConfig(steps=120, seed=6))
    late = Run(small_model(0.01), TrainConfig(steps=300, seed=7))
    batch = TrainingBatch()
    batch.add(other)
    batch.add(run)
    while not run.done:  # others join and leave while it trains
        if run.step == 50:
            batch.add(late)
        if other.done and other in batch.runs:
            batch.remove(other)
        batch.step()
    batched = run.result()
    assert torch.equal(batched.W, alone.W)
    assert torch.equal(batched.b, alone.b)


def test_a_fused_run_learns_what_the_eager_step_learns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Different random streams, the same distribution: the final losses agree within noise."""
    config = TrainConfig(steps=3000, n_restarts=2, seed=0)
    losses = {}
    for kind in ("fused", "eager"):
        if kind == "eager":
            monkeypatch.setattr(fused, "supports", lambda *args, **kwargs: False)
        run = Run(small_model(0.1), config)
        assert run.fused == (kind == "fused")
        losses[kind] = float(run_to_end(run).loss.mean())
    assert losses["fused"] == pytest.approx(losses["eager"], rel=0.05)


def test_without_numba_small_models_take_the_eager_step(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fused, "numba", None)
    monkeypatch.setattr(fused, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="server.tms.fused"):
        run = Run(small_model(), TrainConfig(steps=20))
    assert not run.fused and run.sampler is not None
    assert "numba is not installed" in caplog.text
    assert run_to_end(run).W.isfinite().all()


@pytest.mark.parametrize(
    ("activation", "hidden", "magnitude"),
    [
        ("relu", "none", "uniform"),
        ("linear", "none", "uniform"),
        ("relu", "relu", "uniform"),
        ("linear", "relu", "boolean"),
        ("relu", "none", "boolean"),
    ],
)
def test_a_fused_run_steps_like_autograd_with_torch_adamw(
    activation: str, hidden: str, magnitude: str
) -> None:
    """Replay each row's own draws (its bit generator's state copied before every step)
    through autograd and torch.optim.AdamW: the same weights after 20 steps."""
    model = ModelConfig(
        6, 3, feature_probability=[0.1, 0.5, [0.02, 1.0, 0.3, 0.05, 0.6, 0.001]],
        importance_decay=0.8, activation=activation, hidden_activation=hidden,  # type: ignore[arg-type]
        magnitude=magnitude,  # type: ignore[arg-type]
    )  # fmt: skip
    config = TrainConfig(steps=20, batch_size=64, lr=3e-3, seed=4)
    run = Run(model, config)
    assert run.fused and run.row_generators is not None
    W = run.W.clone().requires_grad_(True)
    b = run.b.clone().requires_grad_(True)
    optimizer = torch.optim.AdamW([W, b], lr=3e-3, weight_decay=0.01)
    dense = run.probability.double().numpy() >= fused.DENSE_DRAW_MIN_PROBABILITY
    batch = TrainingBatch()
    batch.add(run)
    for _ in range(config.steps):
        replay = []
        for generator in run.row_generators:
            copy = fused.PCG64()
            copy.state = generator.state
            replay.append(copy)
        batch.step()
        x = torch.zeros(run.rows, 6, 64)
        for row, generator in enumerate(replay):
            counts = np.zeros(64, np.int32)
            fused._draw(
                x[row].numpy(), counts, run.probability[row].double().numpy(), dense[row],
                fused.state_addresses([generator])[0], magnitude == "boolean", False,
                np.zeros(32, np.uint64), fused._next_uint64,
            )  # fmt: skip
        loss = reconstruction_loss(x, forward(W, b, x, run.architecture), run.importance).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.testing.assert_close(run.W, W.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(run.b, b.detach(), rtol=1e-5, atol=1e-6)
    assert run.last_loss is not None  # the last step's batch loss, before its update
    assert float(run.last_loss.sum()) == pytest.approx(float(loss.detach()), rel=1e-5)


def test_threads_step_rows_as_one_thread_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parallel kernel (rows over numba's threads) gives the serial kernel's weights."""
    model = ModelConfig(3, 2, feature_probability=[1.0, 0.3, 0.05, 0.01, 0.5, 0.002])
    config = TrainConfig(steps=40, batch_size=256, n_restarts=3, seed=11)
    weights = {}
    for threshold in (0, 1 << 62):
        monkeypatch.setattr(fused, "PARALLEL_MIN_ENTRIES", threshold)
        run = Run(model, config)
        batch = TrainingBatch()
        batch.add(run)
        batch.step()
        assert batch._layout is not None and batch._layout.fused is not None
        assert batch._layout.fused.parallel == (threshold == 0)
        while not run.done:
            batch.step()
        weights[threshold] = (run.W.clone(), run.b.clone())
    assert torch.equal(weights[0][0], weights[1 << 62][0])
    assert torch.equal(weights[0][1], weights[1 << 62][1])


def test_a_vanishing_probability_trains_without_writing_out_of_bounds() -> None:
    """At p ≈ 1e-19 and below the gap to the first active sample exceeds int64: it must end the
    feature's draw, not wrap to a negative index (a segfault before the fix)."""
    model = ModelConfig(5, 2, feature_probability=[[1e-25, 1e-40, 0.5, 1e-30, 0.05]])
    run = Run(model, TrainConfig(steps=50, n_eval_samples=64))
    assert run.fused
    assert run_to_end(run).W.isfinite().all()
