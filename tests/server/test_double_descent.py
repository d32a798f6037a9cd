"""Finite training sets (Henighan et al. 2023): data-point dimensionality, unit-length inputs, the
warm-up-then-cosine schedule, memorisation at small T, and runs that stay their own when batched
or joined into a sweep."""

from __future__ import annotations

import math

import pytest
import torch

from server.tms import ModelConfig, TrainConfig, metrics, train
from server.tms.data import FeatureDistribution, sample_features
from server.tms.training import Run, TrainingBatch, run_to_end


def polygon(T: int, radius: float = 1.0, phase: float = 0.3) -> torch.Tensor:
    """(2, T): the vertices of a regular T-gon, one per column."""
    angles = phase + 2 * math.pi * torch.arange(T, dtype=torch.float64) / T
    return radius * torch.stack([angles.cos(), angles.sin()])


@pytest.mark.parametrize("T", [3, 5, 8, 20])
def test_a_regular_polygon_gives_each_point_two_over_T(T: int) -> None:
    D = metrics.data_dimensionality(polygon(T, radius=1.7))
    torch.testing.assert_close(D, torch.full((T,), 2 / T, dtype=torch.float64))


def test_orthogonal_points_get_one_and_a_zero_point_gets_zero() -> None:
    hidden = torch.zeros(4, 5, dtype=torch.float64)
    hidden[:, :4] = torch.diag(torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64))
    D = metrics.data_dimensionality(hidden)
    torch.testing.assert_close(D, torch.tensor([1.0, 1, 1, 1, 0], dtype=torch.float64))
    # Two points on one line share it, by their sizes: ‖h‖² / (‖h‖² + ‖h'‖²) each.
    pair = torch.tensor([[1.0, -2.0], [0.0, 0.0]], dtype=torch.float64)
    expected = torch.tensor([1 / 5, 4 / 5], dtype=torch.float64)
    torch.testing.assert_close(metrics.data_dimensionality(pair), expected)


def test_it_is_the_feature_dimensionality_of_the_hidden_vectors() -> None:
    # Same formula as F4 with h_t for Wᵢ, computed without the T × T Gram matrix.
    hidden = torch.randn(3, 4, 50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    hidden[0, :, 7] = 0
    torch.testing.assert_close(metrics.data_dimensionality(hidden), metrics.dimensionality(hidden))


def test_the_schedule_warms_up_linearly_then_decays_to_zero() -> None:
    config = TrainConfig(steps=1000, lr=2e-3, lr_schedule="warmup_cosine", warmup_steps=100)
    assert config.lr_at(0) == 0.0
    assert config.lr_at(50) == pytest.approx(1e-3)
    assert config.lr_at(100) == pytest.approx(2e-3)
    assert config.lr_at(550) == pytest.approx(1e-3)  # halfway through the cosine
    assert config.lr_at(1000) == pytest.approx(0.0, abs=1e-15)
    assert TrainConfig(steps=10, lr=0.3).lr_at(7) == 0.3  # constant: today's


@pytest.mark.parametrize(
    "fields",
    [{"n_train": 0}, {"warmup_steps": 11}, {"warmup_steps": -1}, {"lr_schedule": "linear"}],
)
def test_train_configs_refuse_bad_finite_settings(fields: dict) -> None:
    with pytest.raises(ValueError):
        TrainConfig(steps=10, **fields)


def test_normalised_inputs_are_unit_length_and_zero_stays_zero() -> None:
    g = torch.Generator().manual_seed(0)
    p = torch.full((2, 30), 0.05)
    x = sample_features(p, 4000, g, FeatureDistribution(normalize=True))
    norms = torch.linalg.vector_norm(x, dim=1)  # (2, 4000)
    zero = norms == 0
    assert zero.any() and (~zero).any()  # at p = 0.05, 30 features: both kinds occur
    torch.testing.assert_close(norms[~zero], torch.ones_like(norms[~zero]))
    raw = sample_features(p, 4000, torch.Generator().manual_seed(0))
    assert torch.equal(torch.linalg.vector_norm(raw, dim=1) == 0, zero)  # the same draws


def small_finite(T: int, **fields: object) -> tuple[ModelConfig, TrainConfig]:
    model = ModelConfig(n_features=40, n_hidden=2, feature_probability=0.2, normalize_inputs=True)
    steps = int(fields.pop("steps", 1500))  # type: ignore[call-overload]
    config = TrainConfig(
        steps=steps, lr=1e-2, n_train=T, lr_schedule="warmup_cosine",
        warmup_steps=min(100, steps // 5), n_eval_samples=4096, seed=1, **fields,  # type: ignore[arg-type]
    )  # fmt: skip
    return model, config


def test_a_small_training_set_is_memorised_as_a_polygon() -> None:
    T = 5
    trained = train(*small_finite(T, n_restarts=2))
    assert trained.train_loss is not None and trained.train_x is not None
    assert trained.train_x[0].shape == (40, T)
    assert (trained.train_x[0].norm(dim=0) > 0).all()  # no empty point (0.8⁴⁰ ≈ 1e-4 each)
    train_loss, test_loss = trained.train_loss.item(), trained.loss.item()
    assert train_loss < 0.05 * test_loss, (train_loss, test_loss)
    hidden = trained.hidden_train
    assert hidden is not None and hidden[0].shape == (2, T)
    h = hidden[0]
    # Near a regular pentagon: every point gets about 2/T of a dimension, at equal angles.
    D = trained.data_dimensionality[0]  # type: ignore[index]
    torch.testing.assert_close(D, torch.full((T,), 2 / T, dtype=torch.float64), atol=0.08, rtol=0)
    angles = torch.atan2(h[1], h[0]).sort().values
    gaps = torch.diff(torch.cat([angles, angles[:1] + 2 * math.pi]))
    assert (gaps - 2 * math.pi / T).abs().max() < 0.45, gaps
    # The features are not what it stores: their dimensionality is far below the points'.
    assert trained.dimensionality[0].mean() < 0.5 * D.mean()


def test_the_restart_kept_is_the_lowest_train_loss() -> None:
    model, config = small_finite(4, steps=30, n_restarts=3)
    run = run_to_end(Run(model, config))
    rows = Run(model, config)
    batch = TrainingBatch()
    batch.add(rows)
    while not rows.done:
        batch.step()
    losses = rows.train_losses()
    assert losses is not None
    best = int(losses.argmin())
    assert torch.equal(run.W[0], rows.W[best])
    assert run.train_loss is not None and run.train_loss.item() == losses[best].item()


def test_a_finite_run_is_the_same_alone_batched_and_joined() -> None:
    model = ModelConfig(n_features=12, n_hidden=2, feature_probability=[0.1, 0.3])
    configs = [small_finite(T, steps=25, n_restarts=2)[1] for T in (3, 9, 40)]
    alone = [run_to_end(Run(model, c)) for c in configs]
    # Batched beside other finite runs of other T (one batch: the shape ignores T) …
    batch, runs = TrainingBatch(), [Run(model, c) for c in configs]
    for run in runs:
        batch.add(run)
    while not runs[0].done:
        batch.step()
    # … and joined into one run, as a sweep trains them.
    joined = run_to_end(Run.joined([Run(model, c) for c in configs]))
    for k, (result, run) in enumerate(zip(alone, runs, strict=True)):
        assert torch.equal(result.W, run.result().W)
        rows = slice(2 * k, 2 * k + 2)
        assert torch.equal(result.W, joined.W[rows])
        assert torch.equal(result.loss, joined.loss[rows])
        assert torch.equal(result.train_loss, joined.train_loss[rows])  # type: ignore[index]


def test_a_fresh_sample_run_and_a_finite_one_never_share_a_batch() -> None:
    model, config = small_finite(5, steps=5)
    batch = TrainingBatch()
    batch.add(Run(model, config))
    with pytest.raises(ValueError):
        batch.add(Run(model, TrainConfig(steps=5, batch_size=5)))
