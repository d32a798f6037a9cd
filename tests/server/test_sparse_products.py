"""The step from non-zero entries (server/tms/sparse_products.py) against autograd and the dense
step: every architecture, the closed form of all-zero samples, and runs alone against batched."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from server.tms.config import TrainConfig
from server.tms.data import FeatureDistribution
from server.tms.model import Architecture, forward, loss_gradients, reconstruction_loss, target
from server.tms.sparse import SparseSampler
from server.tms.sparse_products import (
    BatchProducts,
    RunProducts,
    pack,
    packed_loss_gradients,
)
from server.tms.training import TrainingBatch, run_to_end
from tests.server.runs import eager_only, make_run

ARCHITECTURES = {
    "relu": Architecture("relu"),
    "linear": Architecture("linear"),
    "power-3": Architecture("power", power=3),
    "power-1": Architecture("power", power=1),
    "hidden-relu": Architecture("relu", hidden="relu"),
    "absolute-value": Architecture("relu", hidden="relu", absolute_value=True),
}


def sparse_batch(
    rows: int, n: int, batch: int, p: list[float], signed: bool, seed: int
) -> tuple[Tensor, Tensor]:
    """A batch (rows, n, batch) float64 from the sparse sampler (every row sparse), row r at
    p[r], and the flat positions of its non-zero entries."""
    probability = torch.tensor(p).unsqueeze(1).expand(rows, n).contiguous()
    sampler = SparseSampler(probability, FeatureDistribution(signed=signed), batch, every_row=True)
    x = torch.empty((rows, n, batch))  # the sampler draws float32
    sampler.draw(x, torch.Generator().manual_seed(seed))
    return x.double(), sampler.entries()


def autograd_gradients(
    W: Tensor, b: Tensor, x: Tensor, importance: Tensor, arch: Architecture, W_out: Tensor | None
) -> tuple[Tensor, ...]:
    """L per row and ∂L/∂W, ∂L/∂b (, ∂L/∂W_out) of the plain loss, by autograd."""
    tensors = (W, b) if W_out is None else (W, b, W_out)
    params = [t.clone().requires_grad_(True) for t in tensors]
    out = forward(params[0], params[1], x, arch, params[2] if W_out is not None else None)
    loss = reconstruction_loss(target(x, arch.absolute_value), out, importance)
    loss.sum().backward()  # rows are independent
    # the power model has no bias: autograd leaves its gradient None, ours is 0
    return (loss.detach(), *(torch.zeros_like(p) if p.grad is None else p.grad for p in params))


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_packed_gradients_match_autograd(name: str) -> None:
    arch = ARCHITECTURES[name]
    rows, n, m, batch = 3, 80, 6, 256
    # p = 0.003 at 80 features: about a fifth of the samples active, so most are all-zero
    x, keys = sparse_batch(rows, n, batch, [0.003, 0.01, 0.002], arch.absolute_value, seed=1)
    generator = torch.Generator().manual_seed(2)
    W = torch.randn((rows, m, n), generator=generator, dtype=torch.float64) * 0.5
    b = 0.3 * torch.randn((rows, n), generator=generator, dtype=torch.float64)
    assert (b > 0).any() and (b < 0).any()  # ReLU(b) > 0 somewhere: the closed form matters
    importance = torch.rand((rows, n), generator=generator, dtype=torch.float64)
    W_out = None
    if arch.absolute_value:
        W_out = torch.randn((rows, n, m), generator=generator, dtype=torch.float64) * 0.5
        assert (x < 0).any()
    expected = autograd_gradients(W, b, x, importance, arch, W_out)

    # rows 0 and 2 share a group (padded to the wider), row 1 alone
    group = torch.tensor([0, 1, 0])
    packed = pack(keys, x, group)
    assert len(packed) == 2
    for members, entries in zip(([0, 2], [1]), packed, strict=True):
        assert entries.width < batch  # some samples are all-zero: the closed form is used
        got = packed_loss_gradients(
            W[members], b[members], entries, importance[members], arch, batch, with_loss=True,
            W_out=None if W_out is None else W_out[members],
        )  # fmt: skip
        ours = [got.loss, got.dW, got.db] + ([got.dW_out] if W_out is not None else [])
        for mine, theirs in zip(ours, expected, strict=True):
            torch.testing.assert_close(mine, theirs[members], rtol=1e-10, atol=1e-12)
        assert got.dW.abs().max() > 1e-3  # not a comparison between zeros
        if arch.activation != "power":
            assert got.db.abs().max() > 1e-3


def test_the_group_pads_rows_to_its_widest() -> None:
    x, keys = sparse_batch(2, 80, 256, [0.003, 0.01], False, seed=3)
    (entries,) = pack(keys, x, torch.tensor([0, 0]))
    active = (x != 0).any(dim=1).sum(dim=1)  # (rows,) active samples
    assert entries.width == int(active.max()) and int(active.min()) < entries.width
    # every entry lands in its row's packed columns, in sample order
    assert int(entries.col.max()) < entries.width
    torch.testing.assert_close(entries.value, x.reshape(-1)[keys])


@pytest.mark.parametrize("name", ["relu", "linear", "hidden-relu", "absolute-value"])
def test_the_closed_form_of_zero_samples_equals_the_dense_step(name: str) -> None:
    # One active sample in row 0, none at all in row 1: every other sample is all-zero and is
    # counted in closed form (row 1: a single padded column and B − 1 closed-form samples).
    arch = ARCHITECTURES[name]
    rows, n, m, batch = 2, 70, 4, 64
    x = torch.zeros((rows, n, batch), dtype=torch.float64)
    x[0, 3, 5], x[0, 40, 5] = 0.7, -0.4 if arch.absolute_value else 0.4
    keys = x.reshape(-1).nonzero().flatten()
    generator = torch.Generator().manual_seed(4)
    W = torch.randn((rows, m, n), generator=generator, dtype=torch.float64)
    b = torch.randn((rows, n), generator=generator, dtype=torch.float64)
    importance = torch.rand((rows, n), generator=generator, dtype=torch.float64)
    W_out = torch.randn((rows, n, m), generator=generator, dtype=torch.float64)
    W_out = W_out if arch.absolute_value else None
    y = target(x, arch.absolute_value) if arch.absolute_value else None
    dense = loss_gradients(W, b, x, importance, arch, True, W_out=W_out, y=y)
    for members, entries in zip(([0], [1]), pack(keys, x, torch.tensor([0, 1])), strict=True):
        assert entries.width == 1
        got = packed_loss_gradients(
            W[members], b[members], entries, importance[members], arch, batch, True,
            None if W_out is None else W_out[members],
        )  # fmt: skip
        for mine, theirs in zip(got, dense, strict=True):
            if theirs is not None:
                torch.testing.assert_close(mine, theirs[members], rtol=1e-12, atol=1e-14)
    assert dense.db[1].abs().max() > 1e-3  # row 1's gradient is the closed form's alone


def test_which_runs_take_the_path_depends_on_the_request_alone() -> None:
    distribution = FeatureDistribution()
    large = SparseSampler(
        torch.tensor([[1.0] * 400, [0.01] * 400, [0.001] * 400, [0.0011] * 400]), distribution, 1024
    )
    products = RunProducts(large, 30)
    assert products.used
    # rows of similar p share a group; the p = 0.01 row (all samples active) is apart
    assert [g.tolist() for g in products.groups] == [[1], [2, 3]]
    small = SparseSampler(torch.full((2, 20), 0.001), distribution, 1024, every_row=True)
    assert not RunProducts(small, 5).used  # too few features: the dense step


def test_a_run_steps_as_the_dense_step_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same run (same draws) with the path and without it: the same weights, to rounding.
    eager_only(monkeypatch)  # the eager step is the one under test, whatever the fused one takes
    config = TrainConfig(steps=20, batch_size=1024, n_eval_samples=1024)
    p, importance = torch.tensor([[1.0], [0.01], [0.002], [0.2]]), torch.rand(4, 200)
    for hidden, absolute in (("none", False), ("relu", True)):
        runs = []
        for threshold in (64, 10**9):  # the module's, then one that keeps every run dense
            monkeypatch.setattr("server.tms.sparse_products.MIN_FEATURES", threshold)
            run = make_run(
                p, importance, 6, "relu", config, seed=5, hidden=hidden, absolute_value=absolute
            )
            batch = TrainingBatch()
            batch.add(run)
            batch.step()
            assert (batch._layout.products is not None) == (threshold == 64)
            while not run.done:
                batch.step(with_loss=True)
            runs.append(run)
        with_path, dense = runs
        for a, b in zip(with_path.params, dense.params, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        assert with_path.last_loss is not None and dense.last_loss is not None
        torch.testing.assert_close(with_path.last_loss, dense.last_loss, rtol=1e-4, atol=1e-6)


def test_runs_with_sparse_products_are_the_same_alone_and_batched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eager_only(monkeypatch)
    config = TrainConfig(steps=20, batch_size=1024, n_eval_samples=2048)
    p, importance = torch.tensor([[0.02], [1.0], [0.001], [0.004]]), torch.ones(4, 150)
    alone = run_to_end(make_run(p, importance, 8, "relu", config, seed=7))
    mine = make_run(p, importance, 8, "relu", config, seed=7)
    other = make_run(torch.tensor([[0.003], [0.5]]), torch.rand(2, 150), 8, "relu", config, seed=8)
    batch = TrainingBatch()
    batch.add(other)
    batch.step()
    batch.add(mine)
    batch.step()
    layout = batch._layout
    assert layout is not None and isinstance(layout.products, BatchProducts)
    assert len(layout.products.parts) == 2  # both runs take the path, each its own groups
    assert layout.products.dense_block is None  # dense rows 1 (other's) and 3 (mine's)
    while not mine.done:
        batch.step()
    together = mine.result()
    assert torch.equal(together.W, alone.W) and torch.equal(together.b, alone.b)
    assert torch.equal(together.loss, alone.loss)
