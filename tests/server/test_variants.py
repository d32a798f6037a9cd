"""The model variants (TMS §"Correlated and Anticorrelated Features", §"Superposition in a
Privileged Basis", §"Computation in Superposition") and per-feature sparsity: the exact gradients
of the ReLU hidden layer and of the untied absolute-value model against autograd, the runs against
torch.optim.AdamW, the linked-feature sampler, weight snapshots, and each variant's signature in a
model trained on the CPU in a second or two."""

from __future__ import annotations

import math

import pytest
import torch

from server.api.schemas.models import ModelRequest
from server.results import neuron_views
from server.tms import metrics
from server.tms.config import TrainConfig
from server.tms.data import PAPER_FEATURES, FeatureDistribution, FeatureSet, sample_features
from server.tms.measures import theory_losses as config_theory_losses
from server.tms.model import (
    Activation,
    Architecture,
    forward,
    init_output_weights,
    init_weights,
    loss_gradients,
    reconstruction_loss,
    target,
)
from server.tms.training import TrainingBatch, snapshot_steps
from tests.server.runs import eager_only
from tests.server.runs import make_run as Run
from tests.server.runs import train_tensors as train

SIGNED = FeatureDistribution("uniform", signed=True)

UNTIED = Architecture("relu", hidden="relu", absolute_value=True)  # the |x| model


def cosine(W: torch.Tensor, i: int, j: int) -> float:
    """cos(Wᵢ, Wⱼ) of two columns of one W (m, n)."""
    a, b = W[:, i].double(), W[:, j].double()
    return (a @ b / (a.norm() * b.norm())).item()


# -- gradients ------------------------------------------------------------------------------------
SHAPES = ((3, 5, 2, 64), (2, 12, 4, 128), (4, 2, 1, 32), (1, 3, 6, 256))


def _assert_gradient(ours: torch.Tensor, autograd: torch.Tensor, dtype: torch.dtype) -> None:
    """Equal to rounding, relative to the gradient's scale (float32 sums cancel near zero)."""
    scale = autograd.abs().max().item()
    tolerance = 1e-5 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(ours, autograd, rtol=tolerance, atol=tolerance * scale)


@pytest.mark.parametrize("activation", ["relu", "linear"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_hidden_relu_gradients_match_autograd(activation: Activation, dtype: torch.dtype) -> None:
    """h = ReLU(Wx), x′ = act(Wᵀh + b), tied: W's gradient has both paths, through h and Wᵀ."""
    generator = torch.Generator().manual_seed(1)
    for rows, n, m, batch in SHAPES:
        W = torch.randn((rows, m, n), generator=generator, dtype=dtype)
        b = 0.3 * torch.randn((rows, n), generator=generator, dtype=dtype)
        x = sample_features(torch.full((rows, n), 0.4, dtype=dtype), batch, generator)
        importance = torch.rand((rows, n), generator=generator, dtype=dtype)

        W_ = W.clone().requires_grad_(True)
        b_ = b.clone().requires_grad_(True)
        out = forward(W_, b_, x, Architecture(activation, hidden="relu"))
        loss = reconstruction_loss(x, out, importance)
        loss.sum().backward()
        grads = loss_gradients(
            W, b, x, importance, Architecture(activation, hidden="relu"), with_loss=True
        )

        assert grads.loss is not None and grads.dW_out is None
        torch.testing.assert_close(grads.loss, loss.detach(), rtol=1e-5, atol=0)
        _assert_gradient(grads.dW, W_.grad, dtype)
        _assert_gradient(grads.db, b_.grad, dtype)
        assert grads.dW.abs().max() > 1e-3  # the comparison is not between zeros
        h = torch.bmm(W, x)
        assert (h < 0).any() and (h > 0).any()  # the hidden ReLU is on and off in this batch

        buffers = (torch.full_like(W, 7.0), torch.full_like(b, 7.0))
        into = loss_gradients(
            W, b, x, importance, Architecture(activation, hidden="relu"), into=buffers
        )
        assert into.dW is buffers[0] and into.db is buffers[1] and into.loss is None
        assert torch.equal(into.dW, grads.dW) and torch.equal(into.db, grads.db)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_absolute_value_gradients_match_autograd(dtype: torch.dtype) -> None:
    """y = ReLU(W_out ReLU(Wx) + b), untied, target |x|, signed inputs: dW, db and dW_out."""
    generator = torch.Generator().manual_seed(2)
    for rows, n, m, batch in SHAPES:
        W = torch.randn((rows, m, n), generator=generator, dtype=dtype)
        W_out = torch.randn((rows, n, m), generator=generator, dtype=dtype)
        b = 0.3 * torch.randn((rows, n), generator=generator, dtype=dtype)
        probability = torch.full((rows, n), 0.6, dtype=dtype)
        x = sample_features(probability, batch, generator, SIGNED)
        assert (x < 0).any()
        y = target(x, absolute=True)
        assert torch.equal(y, x.abs())
        importance = torch.rand((rows, n), generator=generator, dtype=dtype)

        W_ = W.clone().requires_grad_(True)
        b_ = b.clone().requires_grad_(True)
        W_out_ = W_out.clone().requires_grad_(True)
        out = forward(W_, b_, x, UNTIED, W_out=W_out_)
        loss = reconstruction_loss(x.abs(), out, importance)
        loss.sum().backward()
        grads = loss_gradients(W, b, x, importance, UNTIED, with_loss=True, W_out=W_out, y=y)

        assert grads.loss is not None and grads.dW_out is not None
        torch.testing.assert_close(grads.loss, loss.detach(), rtol=1e-5, atol=0)
        _assert_gradient(grads.dW, W_.grad, dtype)
        _assert_gradient(grads.db, b_.grad, dtype)
        _assert_gradient(grads.dW_out, W_out_.grad, dtype)
        assert grads.dW.abs().max() > 1e-3 and grads.dW_out.abs().max() > 1e-3
        assert grads.dW.shape == W.shape and grads.dW_out.shape == W_out.shape

        buffers = tuple(torch.full_like(t, 7.0) for t in (W, b, W_out))
        into = loss_gradients(W, b, x, importance, UNTIED, into=buffers, W_out=W_out, y=y)
        assert all(got is buf for got, buf in zip(into[:2] + into[3:], buffers, strict=True))
        assert torch.equal(into.dW, grads.dW) and torch.equal(into.db, grads.db)
        assert torch.equal(into.dW_out, grads.dW_out)


def test_the_target_is_x_unless_absolute() -> None:
    x = torch.tensor([[[-0.5, 0.25, 0.0]]])
    assert target(x, False) is x
    assert torch.equal(target(x, True), torch.tensor([[[0.5, 0.25, 0.0]]]))


# -- runs against torch.optim.AdamW ----------------------------------------------------------------
VARIANT_RUNS = {
    "hidden_relu": {"hidden": "relu"},
    "hidden_relu_linear": {"hidden": "relu", "activation": "linear"},
    "absolute_value": {"hidden": "relu", "absolute_value": True},
    "sets_per_feature": {
        "feature_sets": (FeatureSet("anticorrelated", (0, 1)), FeatureSet("correlated", (2, 4))),
        "probability": [[0.2, 0.2, 0.5, 0.1, 0.5, 0.3], [0.05, 0.05, 0.3, 0.9, 0.3, 0.6]],
    },
}


@pytest.mark.parametrize("variant", list(VARIANT_RUNS))
def test_a_variant_run_steps_like_autograd_with_torch_adamw(
    variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replay the run's own samples through autograd and torch.optim.AdamW: the same weights,
    W_out included (drawn after W from the same generator). The eager step's: the fused one
    has its own replay test (test_fused.py)."""
    eager_only(monkeypatch)
    options = dict(VARIANT_RUNS[variant])
    activation: Activation = options.pop("activation", "relu")
    probability = torch.tensor(options.pop("probability", [[0.1], [0.5]]))
    config = TrainConfig(steps=20, batch_size=64, lr=3e-3)
    rows, n, m, seed = 2, 6, 3, 4
    importance = torch.rand(rows, n, generator=torch.Generator().manual_seed(9))
    run = Run(probability, importance, m, activation, config, seed=seed, **options)  # type: ignore[arg-type]
    absolute = run.architecture.absolute_value

    generator = torch.Generator().manual_seed(seed)
    W0, b0 = init_weights(rows, n, m, generator)
    assert torch.equal(run.W, W0) and torch.equal(run.b, b0)
    W_out0 = init_output_weights(rows, n, m, generator)  # drawn after W
    if absolute:
        assert run.distribution.signed
        assert run.W_out is not None and torch.equal(run.W_out, W_out0)
        assert len(run.params) == 3
    else:
        assert run.W_out is None and len(run.params) == 2

    W = run.W.clone().requires_grad_(True)
    b = run.b.clone().requires_grad_(True)
    W_out = None if run.W_out is None else run.W_out.clone().requires_grad_(True)
    params = [W, b] + ([] if W_out is None else [W_out])
    optimizer = torch.optim.AdamW(params, lr=3e-3, weight_decay=0.01)
    batch = TrainingBatch()
    batch.add(run)
    for _ in range(config.steps):
        replay = torch.Generator()
        replay.set_state(run.generator.get_state())
        batch.step()
        x = sample_features(run.probability, 64, replay, run.distribution)
        out = forward(W, b, x, run.architecture, W_out=W_out)
        loss = reconstruction_loss(target(x, absolute), out, run.importance).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.testing.assert_close(run.W, W.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(run.b, b.detach(), rtol=1e-5, atol=1e-6)
    if W_out is not None:
        torch.testing.assert_close(run.W_out, W_out.detach(), rtol=1e-5, atol=1e-6)
        assert not torch.equal(run.W_out, W_out0)
    assert not torch.equal(run.W, W0)


def test_variants_train_in_their_own_batches() -> None:
    """A run's architecture and feature sets are part of its training shape."""
    args = (torch.tensor([[0.1]]), torch.ones(1, 4), 2, "relu", TrainConfig())
    base = Run(*args, 0)  # type: ignore[arg-type]
    others = [
        Run(*args, 0, hidden="relu"),  # type: ignore[arg-type]
        Run(*args, 0, hidden="relu", absolute_value=True),  # type: ignore[arg-type]
        Run(*args, 0, feature_sets=(FeatureSet("correlated", (0, 1)),)),  # type: ignore[arg-type]
        Run(*args, 0, feature_sets=(FeatureSet("anticorrelated", (0, 1)),)),  # type: ignore[arg-type]
    ]
    for other in others:
        batch = TrainingBatch()
        batch.add(base)
        with pytest.raises(ValueError, match="cannot join"):
            batch.add(other)
    # The same variant with another p per feature does join.
    same = TrainingBatch()
    same.add(Run(*args, 0, hidden="relu"))  # type: ignore[arg-type]
    same.add(Run(torch.tensor([[0.1, 0.2, 0.3, 0.4]]), *args[1:], 1, hidden="relu"))  # type: ignore[arg-type]
    assert len(same) == 2


# -- the sampler ----------------------------------------------------------------------------------
SAMPLES = 200_000


def _within(value: float, expected: float, sd: float, count: int, k: float = 5.0) -> None:
    """``value`` estimates ``expected`` from ``count`` draws of standard deviation ``sd``."""
    assert abs(value - expected) < k * sd / math.sqrt(count), (value, expected, count)


def _rate(events: torch.Tensor, expected: float) -> None:
    """The mean of a boolean tensor is a probability ``expected`` within 5 standard errors."""
    count = events.numel()
    _within(events.double().mean().item(), expected, math.sqrt(expected * (1 - expected)), count)


def _uniform_values(values: torch.Tensor, signed: bool) -> None:
    """Active values are U(0, 1] (mean 1/2, E v² = 1/3) or U[−1, 1] (mean 0, E v² = 1/3)."""
    v = values.double()
    count = v.numel()
    assert count > 1000
    if signed:
        assert v.min().item() >= -1.0 and v.max().item() <= 1.0
        _within(v.mean().item(), 0.0, math.sqrt(1 / 3), count)
        _within(v.abs().mean().item(), 0.5, math.sqrt(1 / 12), count)
    else:
        assert v.min().item() > 0.0 and v.max().item() <= 1.0
        _within(v.mean().item(), 0.5, math.sqrt(1 / 12), count)
    _within((v * v).mean().item(), 1 / 3, math.sqrt(1 / 5 - 1 / 9), count)


@pytest.mark.parametrize("signed", [False, True])
def test_correlated_members_are_active_together(signed: bool) -> None:
    """One draw decides a correlated set's activity; the members' values stay independent, and
    features outside the set stay independent of it."""
    p = torch.tensor([[0.3, 0.6, 0.3, 0.3, 0.1], [0.05, 0.2, 0.05, 0.05, 0.9]])
    sets = (FeatureSet("correlated", (0, 2, 3)),)
    x = sample_features(
        p, SAMPLES, torch.Generator().manual_seed(0), FeatureDistribution(signed=signed, sets=sets)
    )
    active = x != 0
    # Exactly together, in every row and sample.
    assert torch.equal(active[:, 0], active[:, 2]) and torch.equal(active[:, 0], active[:, 3])
    for row in range(2):
        for feature in range(5):
            _rate(active[row, feature], p[row, feature].item())
        # a non-member is independent of the set: P(both) = p_set · p_other
        _rate(active[row, 0] & active[row, 1], p[row, 0].item() * p[row, 1].item())
    _uniform_values(x[active], signed)
    for feature in (0, 2, 3):  # the leader's value too: it reuses the draw that set the activity
        _uniform_values(x[:, feature][active[:, feature]], signed)
    # Values independent: the members' values are uncorrelated where the set is active.
    both = active[0, 0]
    a, b = x[0, 0][both].double(), x[0, 2][both].double()
    correlation = torch.corrcoef(torch.stack([a, b]))[0, 1].item()
    _within(correlation, 0.0, 1.0, a.numel())


@pytest.mark.parametrize("signed", [False, True])
def test_anticorrelated_members_are_never_active_together(signed: bool) -> None:
    """An anticorrelated set of k is active with probability p, then exactly one member chosen
    uniformly: the members' marginals are p/k, never two at once."""
    p = torch.tensor([[0.3, 0.3, 0.3, 0.2, 0.2], [0.9, 0.9, 0.9, 0.05, 0.05]])
    sets = (FeatureSet("anticorrelated", (0, 1, 2)), FeatureSet("anticorrelated", (3, 4)))
    x = sample_features(
        p, SAMPLES, torch.Generator().manual_seed(1), FeatureDistribution(signed=signed, sets=sets)
    )
    active = x != 0
    assert (active[:, :3].sum(dim=1) <= 1).all() and (active[:, 3:].sum(dim=1) <= 1).all()
    for row in range(2):
        for members in ((0, 1, 2), (3, 4)):
            q = p[row, members[0]].item()
            _rate(active[row, list(members)].any(dim=0), q)  # the set is active with p
            for feature in members:
                _rate(active[row, feature], q / len(members))
        # the two sets are independent of each other
        first, second = active[row, :3].any(dim=0), active[row, 3:].any(dim=0)
        _rate(first & second, p[row, 0].item() * p[row, 3].item())
    for feature in range(5):  # each member's value is uniform, whichever member it is
        _uniform_values(x[:, feature][active[:, feature]], signed)


@pytest.mark.parametrize("kind", ["correlated", "anticorrelated"])
def test_boolean_members(kind: str) -> None:
    """Boolean magnitudes in sets: exactly 1 when active, or ±1 with balanced signs if signed."""
    p = torch.full((1, 4), 0.4)
    sets = (FeatureSet(kind, (1, 3)),)  # type: ignore[arg-type]
    plain = sample_features(
        p, SAMPLES, torch.Generator().manual_seed(2), FeatureDistribution("boolean", sets=sets)
    )
    assert set(plain.unique().tolist()) == {0.0, 1.0}
    signed = sample_features(
        p,
        SAMPLES,
        torch.Generator().manual_seed(2),
        FeatureDistribution("boolean", signed=True, sets=sets),
    )
    assert set(signed.unique().tolist()) == {-1.0, 0.0, 1.0}
    for x in (plain, signed):
        active = x != 0
        share = 0.4 if kind == "correlated" else 0.2
        for feature in (1, 3):
            _rate(active[0, feature], share)
        if kind == "correlated":
            assert torch.equal(active[0, 1], active[0, 3])
        else:
            assert not (active[0, 1] & active[0, 3]).any()
    for feature in range(4):
        values = signed[0, feature][signed[0, feature] != 0]
        _rate(values > 0, 0.5)


def test_independent_features_are_drawn_as_before() -> None:
    """Without sets the sampler is the paper's max(0, 1 − u/p) of one uniform draw per entry, the
    same draws as before sets existed; with sets, the features outside them are unchanged."""
    p = torch.tensor([[0.1, 0.5, 1.0, 0.02, 0.3, 0.3], [0.7, 0.7, 0.7, 0.7, 0.7, 0.7]])
    seed, B = 7, 4096
    x = sample_features(p, B, torch.Generator().manual_seed(seed))
    u = torch.rand((2, 6, B), generator=torch.Generator().manual_seed(seed))
    assert torch.equal(x, (u * (-1.0 / p.unsqueeze(-1)) + 1.0).clamp(min=0.0))
    torch.testing.assert_close(x, (1.0 - u / p.unsqueeze(-1)).clamp(min=0.0))
    assert torch.equal(
        sample_features(p, B, torch.Generator().manual_seed(seed), FeatureDistribution()), x
    )
    assert FeatureDistribution() == PAPER_FEATURES
    signed = sample_features(p, B, torch.Generator().manual_seed(seed), SIGNED)
    t = u * (-2.0 / p.unsqueeze(-1)) + 1.0  # 1 − 2u/p, in (−1, 1] iff u < p
    assert torch.equal(signed, torch.where(t > -1.0, t, 0.0))

    sets = (FeatureSet("correlated", (0, 4)), FeatureSet("anticorrelated", (1, 5)))
    linked = sample_features(
        p, B, torch.Generator().manual_seed(seed), FeatureDistribution(sets=sets)
    )
    assert torch.equal(linked[:, [2, 3]], x[:, [2, 3]])
    assert not torch.equal(linked, x)


def test_linked_sampling_is_deterministic_and_the_same_in_training() -> None:
    """The trainer fills its buffer with torch.rand and the same in-place transform."""
    p = torch.tensor([[0.2, 0.2, 0.3, 0.3]])
    distribution = FeatureDistribution(
        signed=True,
        sets=(FeatureSet("anticorrelated", (0, 1)), FeatureSet("correlated", (2, 3))),
    )
    a = sample_features(p, 512, torch.Generator().manual_seed(3), distribution)
    b = sample_features(p, 512, torch.Generator().manual_seed(3), distribution)
    assert torch.equal(a, b)
    u = torch.rand((1, 4, 512), generator=torch.Generator().manual_seed(3))
    assert torch.equal(distribution.features_from_uniform_(u, distribution.probability_term(p)), a)


# -- snapshots ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("steps", "count", "expected"),
    [
        (10_000, 0, []),
        (10_000, 1, [10_000]),
        (10_000, 2, [0, 10_000]),
        (10_000, 5, [0, 2500, 5000, 7500, 10_000]),
        (3, 10, [0, 1, 2, 3]),  # fewer than asked when steps are few
        (1, 200, [0, 1]),
    ],
)
def test_snapshot_steps(steps: int, count: int, expected: list[int]) -> None:
    assert snapshot_steps(steps, count) == expected


@pytest.mark.parametrize("steps", [1, 7, 99, 1000, 10_000])
@pytest.mark.parametrize("count", [2, 3, 11, 100, 200])
def test_snapshot_steps_span_training(steps: int, count: int) -> None:
    kept = snapshot_steps(steps, count)
    assert kept[0] == 0 and kept[-1] == steps and len(kept) <= count
    assert kept == sorted(set(kept))  # strictly increasing
    assert len(kept) == min(count, steps + 1)


@pytest.mark.parametrize("absolute_value", [False, True])
def test_snapshots_hold_the_weights_at_their_steps(absolute_value: bool) -> None:
    """Step 0 is the initial weights, the last the final ones, each of the kept restart."""
    config = TrainConfig(steps=20, batch_size=64, n_restarts=2, snapshots=5, n_eval_samples=1024)
    run = Run(
        torch.tensor([[0.2], [0.6]]),
        torch.ones(2, 5),
        3,
        "relu",
        config,
        seed=5,
        hidden="relu" if absolute_value else "none",
        absolute_value=absolute_value,
    )
    assert run.snapshot_steps == [0, 5, 10, 15, 20]
    names = ["W", "b", "W_out"] if absolute_value else ["W", "b"]
    seen = {0: [p.clone() for p in run.params]}
    batch = TrainingBatch()
    batch.add(run)
    while not run.done:
        batch.step()
        if run.step in run.snapshot_steps:
            seen[run.step] = [p.clone() for p in run.params]
    assert len(run.snapshots) == 5
    for kept, step in zip(run.snapshots, run.snapshot_steps, strict=True):
        assert list(kept) == names
        for name, value in zip(names, seen[step], strict=True):
            assert torch.equal(kept[name], value), (step, name)

    result = run.result()
    assert result.snapshot_steps == [0, 5, 10, 15, 20]
    assert sorted(result.snapshots) == sorted(names)
    assert result.snapshots["W"].shape == (5, 2, 3, 5)
    assert result.snapshots["b"].shape == (5, 2, 5)
    assert torch.equal(result.snapshots["W"][-1], result.W)
    assert torch.equal(result.snapshots["b"][-1], result.b)
    # the kept restart's initial weights
    W0, _ = init_weights(4, 5, 3, torch.Generator().manual_seed(5))
    kept_rows = [i for i in range(4) if any(torch.equal(result.W[k], run.W[i]) for k in range(2))]
    assert torch.equal(result.snapshots["W"][0], W0[kept_rows])
    assert not torch.equal(result.snapshots["W"][0], result.snapshots["W"][1])
    if absolute_value:
        assert result.W_out is not None
        assert result.snapshots["W_out"].shape == (5, 2, 5, 3)
        assert torch.equal(result.snapshots["W_out"][-1], result.W_out)


def test_no_snapshots_by_default() -> None:
    config = TrainConfig(steps=5, batch_size=16, n_eval_samples=64)
    result = train(torch.tensor([[0.3]]), torch.ones(1, 3), 2, "relu", config, seed=0)
    assert result.snapshot_steps == [] and result.snapshots == {}


# -- neurons --------------------------------------------------------------------------------------
def test_neuron_kinds_of_a_hand_made_W() -> None:
    """A dedicated neuron, a two-feature neuron, a zero row: monosemantic, polysemantic, dead."""
    W = torch.tensor([[[0.0, 1.0, 0.0], [0.6, 0.0, 0.8], [0.0, 0.0, 0.0]]])  # (1, m=3, n=3)
    strength, top, share = metrics.neuron_weights(W)
    torch.testing.assert_close(strength[0], torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64))
    assert top[0, :2].tolist() == [1, 2]
    torch.testing.assert_close(share[0], torch.tensor([1.0, 0.64, 0.0], dtype=torch.float64))
    assert metrics.neuron_kinds(strength[0], share[0]) == ["monosemantic", "polysemantic", "dead"]

    (view,) = neuron_views(W, None)
    assert [n.kind for n in view.neurons] == ["monosemantic", "polysemantic", "dead"]
    assert (view.monosemantic, view.polysemantic, view.dead) == (1, 1, 1)
    assert view.neurons[0].top_feature == 1 and view.neurons[1].top_feature == 2
    assert view.monosemantic_share == metrics.MONOSEMANTIC_SHARE

    # Untied: the strength is ‖W row‖·‖W_out column‖, unchanged by rescaling a hidden unit; a
    # neuron that nothing reads is dead whatever its input weights.
    W_out = torch.tensor([[[0.0, 0.5, 1.0], [2.0, 0.0, 1.0], [0.0, 0.0, 1.0]]])  # (1, n=3, m=3)
    scale = torch.tensor([4.0, 0.25, 1.0])
    strength, _, _ = metrics.neuron_weights(W * scale.view(1, 3, 1), W_out / scale)
    expected = torch.tensor([2.0, 0.5, 0.0], dtype=torch.float64)
    torch.testing.assert_close(strength[0], expected)
    unread = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.01, 0.0, 0.0]]])
    (view,) = neuron_views(W, unread)
    assert [n.kind for n in view.neurons] == ["dead", "dead", "dead"]


def test_privileged_basis_dense_is_monosemantic_and_sparse_is_polysemantic() -> None:
    """TMS §"Privileged Basis": 10 → 5 with a ReLU hidden layer, Iᵢ = 0.75ⁱ. Dense (p = 0.75)
    each live neuron holds one feature; sparse (p = 0.01) neurons hold several."""
    importance = (0.75 ** torch.arange(10.0)).expand(2, 10)
    config = TrainConfig(steps=5000, n_restarts=4, n_eval_samples=1 << 14)
    result = train(torch.tensor([[0.75], [0.01]]), importance, 5, "relu", config, 0, hidden="relu")
    dense, sparse = neuron_views(result.W, None)
    live = dense.monosemantic + dense.polysemantic
    assert live >= 4 and dense.monosemantic >= 0.8 * live, dense
    # dense: the live neurons hold the most important features, one each
    tops = {n.top_feature for n in dense.neurons if n.kind == "monosemantic"}
    assert len(tops) == dense.monosemantic and max(tops) < 6
    assert sparse.polysemantic >= 1, sparse


# -- signatures -----------------------------------------------------------------------------------
PAIRS = (0, 1), (2, 3)


def _pairs_model(kind: str) -> torch.Tensor:
    """4 → 2, two pairs linked by ``kind`` at p = 0.1: the best restart's W (2, 4)."""
    sets = tuple(FeatureSet(kind, pair) for pair in PAIRS)  # type: ignore[arg-type]
    config = TrainConfig(steps=4000, n_restarts=4, n_eval_samples=1 << 14)
    result = train(torch.tensor([[0.1]]), torch.ones(1, 4), 2, "relu", config, 0, feature_sets=sets)
    W = result.W[0]
    assert (metrics.feature_norms(W) > 0.9).all(), W  # all four are represented
    return W


def test_anticorrelated_pairs_are_antipodal() -> None:
    """TMS §"Correlated and Anticorrelated Features": features never active together share a
    direction with opposite signs, where they cannot interfere."""
    W = _pairs_model("anticorrelated")
    for i, j in PAIRS:
        assert cosine(W, i, j) < -0.9, W


def test_correlated_pairs_are_not_antipodal() -> None:
    """Features active together would interfere in an antipodal pair: at sparse p they are
    orthogonal instead."""
    W = _pairs_model("correlated")
    for i, j in PAIRS:
        assert cosine(W, i, j) > -0.5, W
        assert abs(cosine(W, i, j)) < 0.2, W


def test_the_absolute_value_model_computes_absolute_values() -> None:
    """TMS §"Computation in Superposition", 3 → 6: enough neurons for ReLU(x) + ReLU(−x) per
    feature; the output approximates |x| on fresh dense inputs and on hand-picked ones."""
    importance = (0.8 ** torch.arange(3.0)).unsqueeze(0)
    config = TrainConfig(steps=4000, n_restarts=4, n_eval_samples=1 << 14)
    result = train(
        torch.tensor([[0.3]]), importance, 6, "relu", config, 0, hidden="relu", absolute_value=True
    )
    assert result.W_out is not None and result.W_out.shape == (1, 3, 6)

    def model(x: torch.Tensor) -> torch.Tensor:
        return forward(result.W, result.b, x, UNTIED, W_out=result.W_out)

    x = sample_features(torch.ones(1, 3), 1 << 15, torch.Generator().manual_seed(9), SIGNED)
    error = ((model(x) - x.abs()) ** 2).sum(dim=1).mean().item()
    assert error < 0.05 * (x.abs() ** 2).sum(dim=1).mean().item()
    hand = torch.tensor(
        [[0.5, -0.5, 1.0, 0.0, -1.0], [-0.7, 0.9, -1.0, 0.0, 0.3], [0.2, -0.3, 0.0, 0.0, -0.6]]
    ).unsqueeze(0)  # (1, n = 3, 5 inputs)
    torch.testing.assert_close(model(hand), hand.abs(), atol=0.05, rtol=0)
    # Every feature is read by neurons of both signs: ReLU(x) and ReLU(−x).
    for i in range(3):
        column = result.W[0, :, i]
        assert column.max() > 0.3 and column.min() < -0.3, result.W[0]


def test_per_feature_sparsity_drops_the_sparser_feature() -> None:
    """The pentagon (5 → 2, p = 0.05, Dᵢ = 2/5) with one feature five times sparser collapses to
    two antipodal pairs (Dᵢ = 1/2) and drops that feature (TMS §"Feature Geometry")."""
    probability = torch.tensor([[0.05] * 4 + [0.01], [0.05] * 5])
    config = TrainConfig(steps=3000, n_restarts=8, n_eval_samples=1 << 14)
    result = train(probability, torch.ones(2, 5), 2, "relu", config, 0)
    norms, D = metrics.feature_norms(result.W), metrics.dimensionality(result.W)
    assert norms[0, 4] < 0.1, norms
    torch.testing.assert_close(
        D[0, :4], torch.full((4,), 0.5, dtype=torch.float64), atol=0.03, rtol=0
    )
    torch.testing.assert_close(D[1], torch.full((5,), 0.4, dtype=torch.float64), atol=0.03, rtol=0)
    assert (norms[1] > 0.9).all(), norms


# -- theory lines ---------------------------------------------------------------------------------
def test_theory_losses_of_the_variants() -> None:
    """zero_output from each feature's marginal probability (p/k in an anticorrelated set of k);
    F3 and F11 only with independent features; the absolute-value model's own line."""
    pairs = [{"kind": "anticorrelated", "features": [0, 1]}]
    anti = config_theory_losses(
        ModelRequest(
            n_features=4, n_hidden=2, feature_probability=0.2, feature_sets=pairs
        ).to_config(),
        0,
    )
    assert anti == {"zero_output": pytest.approx((0.1 + 0.1 + 0.2 + 0.2) / 3, rel=1e-12)}
    correlated = [{"kind": "correlated", "features": [0, 1]}]
    corr = config_theory_losses(
        ModelRequest(
            n_features=4, n_hidden=2, feature_probability=0.2, feature_sets=correlated
        ).to_config(),
        0,
    )
    assert corr == {"zero_output": pytest.approx(4 * 0.2 / 3, rel=1e-12)}

    per_feature = ModelRequest(n_features=3, n_hidden=1, feature_probability=[[0.1, 0.5, 1.0]])
    losses = config_theory_losses(per_feature.to_config(), 0)
    assert losses["zero_output"] == pytest.approx(1.6 / 3, rel=1e-12)
    assert "linear_optimum" in losses and not any(k.startswith("uniform_") for k in losses)

    absolute = ModelRequest(
        n_features=3, n_hidden=2, feature_probability=0.5, task="absolute_value"
    )
    losses = config_theory_losses(absolute.to_config(), 0)
    assert set(losses) == {"zero_output", "absolute_value_unsuperposed"}
    assert losses["zero_output"] == pytest.approx(3 * 0.5 / 3, rel=1e-12)  # E x² of U[−1, 1]
    # one feature kept by its two neurons; the other two predicted by their mean, V = p/3 − p²/4
    assert losses["absolute_value_unsuperposed"] == pytest.approx(2 * (0.5 / 3 - 0.25 / 4))


# -- tiny probabilities ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "distribution",
    [
        SIGNED,
        FeatureDistribution(sets=(FeatureSet("correlated", (0, 1)),)),
        FeatureDistribution(sets=(FeatureSet("anticorrelated", (0, 1)),)),
        FeatureDistribution(signed=True, sets=(FeatureSet("anticorrelated", (0, 1)),)),
    ],
    ids=["signed", "correlated", "anticorrelated", "signed_anticorrelated"],
)
@pytest.mark.parametrize("p", [1e-39, 4e-39])
def test_tiny_probabilities_give_finite_features(
    distribution: FeatureDistribution, p: float
) -> None:
    """p is any value in (0, 1] (the API's contract), here a float32 subnormal: −1/p or −2/p
    overflows to −inf, but the features must stay finite (0: nothing is active in 4096 draws).

    Fails now (server/data.py): the signed path returns t.mul_(active) with t = −inf where the
    feature is off (−inf·0 = NaN); a correlated set's leader is _value(leader / p) with p = 0
    recovered from term = −inf; an anticorrelated set's scaled = leader·(k/p) overflows and
    scaled − floor(scaled) = inf − inf = NaN. Masks are applied by multiplication, which keeps NaN.
    """
    x = sample_features(torch.full((2, 3), p), 4096, torch.Generator().manual_seed(0), distribution)
    assert torch.isfinite(x).all(), f"{torch.isnan(x).sum().item()} NaN of {x.numel()}"
    assert (x == 0).all()
