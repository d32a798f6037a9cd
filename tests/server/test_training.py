"""Training lands where the theory says (docs/THEORY.md F3, F9, F10)."""

from __future__ import annotations

import pytest
import torch

from server.tms import metrics, training
from server.tms.config import TrainConfig
from server.tms.data import PAPER_FEATURES, sample_features
from server.tms.model import Architecture, forward
from server.tms.training import best_restarts
from tests.server.runs import make_run
from tests.server.runs import train_tensors as train


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
    assert result.loss_history.shape == (10, 3)


def test_best_restarts_picks_the_lowest_of_each_instance() -> None:
    losses = torch.tensor([3.0, 1.0, 2.0, 0.5, 9.0, 7.0])  # 3 instances × 2 restarts
    assert best_restarts(losses, 2).tolist() == [1, 3, 5]


def test_restarts_keep_the_lowest_evaluated_loss_and_report_an_independent_one() -> None:
    """The kept restart is the one of lowest L on the first n_eval_samples fresh inputs (as
    before the reported loss got inputs of its own), and the reported L is measured on further
    fresh inputs: it agrees, within its standard error, with L on inputs the test draws itself."""
    config = TrainConfig(steps=200, batch_size=256, n_restarts=3, n_eval_samples=4096)
    p, importance = torch.tensor([[0.05], [0.5]]), torch.ones(2, 5)
    run = make_run(p, importance, 2, "relu", config, seed=11)
    batch = training.TrainingBatch()
    batch.add(run)
    while not run.done:
        batch.step()
    state = run.generator.get_state()
    final = run.final_evaluation()
    while not final.done:
        final.advance()
    result = final.result()
    # The selection, recomputed independently: every row on the same first 4096 inputs.
    rows_p = run.probability
    scores = training.evaluate(
        run.W, run.b, Architecture(), PAPER_FEATURES, rows_p, run.importance, 4096,
        torch.Generator().set_state(state),
    ).loss.reshape(2, 3)  # fmt: skip
    assert len(set(scores.flatten().tolist())) == 6  # the restarts really differ
    assert result.loss_estimate == training.LossEstimate(4096, "fresh_samples", 4096)
    assert result.selection_loss is not None
    for instance in range(2):
        best = int(scores[instance].argmin())
        torch.testing.assert_close(result.W[instance], run.W[instance * 3 + best])
        assert result.selection_loss[instance].item() == scores[instance, best].item()
        assert result.loss[instance].item() != scores[instance, best].item()
    # An independent measurement: per-sample losses on 2¹⁶ inputs of the test's own generator.
    x = sample_features(p.expand(2, 5).contiguous(), 1 << 16, torch.Generator().manual_seed(99))
    per_sample = ((forward(result.W, result.b, x, Architecture()) - x) ** 2).sum(1).double()
    mean, std = per_sample.mean(1), per_sample.std(1)
    error = std * (1 / 4096 + 1 / (1 << 16)) ** 0.5  # both estimates' standard errors
    assert ((result.loss - mean).abs() < 4 * error).all(), (result.loss, mean, error)


def test_one_restart_reports_its_only_evaluation() -> None:
    config = TrainConfig(steps=20, batch_size=64, n_eval_samples=512)
    result = train(torch.tensor([[0.1]]), torch.ones(1, 3), 2, "relu", config, seed=0)
    assert result.loss_estimate == training.LossEstimate(512, "none")
    assert result.selection_loss is None


def test_evaluation_does_not_replay_the_training_stream() -> None:
    # The reported loss is measured on fresh inputs. Had the evaluation restarted the training
    # seed's stream (as a seed that only differs above 32 bits does on the CPU), scoring the model
    # on a replay of that stream would give exactly the reported value.
    config = TrainConfig(steps=20, batch_size=64, n_eval_samples=4096)
    p, importance = torch.full((1, 4), 0.3), torch.ones(1, 4)
    result = train(p[:, :1], importance, 2, "relu", config, seed=5)
    replay = training.evaluate(
        result.W,
        result.b,
        Architecture(),
        PAPER_FEATURES,
        p,
        importance,
        4096,
        torch.Generator().manual_seed(5),
    ).loss
    assert replay.item() != result.loss.item()
    assert replay.item() == pytest.approx(result.loss.item(), rel=0.2)  # same distribution


def test_a_run_carries_on_from_initial_weights() -> None:
    from server.tms import InitialWeights, ModelConfig
    from server.tms import train as train_model

    model = ModelConfig(n_features=5, n_hidden=2, feature_probability=[0.1, 0.01])
    start = train_model(model, TrainConfig(steps=200, seed=1))
    one = train_model(model, TrainConfig(steps=1, seed=2), init=InitialWeights(start.W, start.b))
    for new, old in ((one.W, start.W), (one.b, start.b)):
        # AdamW's first step moves every weight by lr (Adam's m/√v = ±1) plus the decay lr·wd·w.
        assert ((new - old).abs() <= 1e-3 * (1 + 0.01 * old.abs()) + 1e-7).all()
    fresh = train_model(model, TrainConfig(steps=1, seed=2))
    assert (fresh.W - start.W).abs().max() > 0.1
    # The data a run sees does not depend on where it starts: same seed, same batch stream.
    assert one.history_steps == fresh.history_steps


def test_initial_weights_must_fit_the_run() -> None:
    from server.tms import InitialWeights, ModelConfig

    model = ModelConfig(n_features=5, n_hidden=2, feature_probability=[0.1, 0.2, 0.3])
    two = InitialWeights(torch.zeros(2, 2, 5), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="2 instances cannot seed 3"):
        training.Run(model, TrainConfig(), init=two)
    wide = InitialWeights(torch.zeros(1, 3, 5), torch.zeros(1, 5))
    with pytest.raises(ValueError, match="do not fit"):
        training.Run(model, TrainConfig(), init=wide)
    one = InitialWeights(torch.ones(1, 2, 5), torch.zeros(1, 5))
    run = training.Run(model, TrainConfig(n_restarts=2), init=one)
    assert run.W.shape == (6, 2, 5) and bool((run.W == 1).all())


def test_the_final_evaluation_counts_both_stages_chunks() -> None:
    config = TrainConfig(steps=2, batch_size=8, n_restarts=4, n_eval_samples=50_000)
    run = make_run(torch.full((3, 1), 0.1), torch.ones(3, 300), 2, "relu", config, seed=0)
    batch = training.TrainingBatch()
    batch.add(run)
    while not run.done:
        batch.step()
    final = run.final_evaluation()
    expected = final.chunks
    advanced = 0
    while not final.done:
        final.advance()
        advanced += 1
    assert advanced == expected == final.chunks > final.evaluator.chunks
