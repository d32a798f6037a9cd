"""A training step that uses the sparse rows' sparsity: products on non-zero entries, zero samples
in closed form (issue 17, config D).

For a row drawn sparsely (``sparse.SparseSampler``), most of the batch is zero:

* **Sparse encoder products.** h = W x and the encoder half of ∂L/∂W, g_h xᵀ, touch only the
  non-zero entries of x: h[:, t] = Σ_(f, t) W[:, f] x_ft (an ``index_add`` over the entries) and
  ∂L/∂W[:, f] += Σ_(f, t) g_h[:, t] x_ft. The decoder half (x′ = act(Wᵀh + b), W g, h gᵀ) stays
  a dense batched product: x′ is dense whatever x is.
* **All-zero samples in closed form.** A sample with no active feature has h = 0, so
  x′ = act(b) and y = 0 whatever W is: its loss is Σᵢ Iᵢ act(bᵢ)², its gradient reaches b alone,
  2 Iᵢ act(bᵢ) act′(bᵢ) / B (ReLU: 2 Iᵢ ReLU(bᵢ) / B; linear: 2 Iᵢ bᵢ / B; the power model has
  no bias and x′ = 0 there), and ∂L/∂W = ∂L/∂W_out = 0. So each row's active samples are
  packed into the first columns of a narrower batch and the rest count once, times their number.

Rows of one *group* share a width A (the most active samples of any of them this step); a row
with fewer has zero columns, which are zero samples computed densely, so the result is exact
either way, and the closed form covers the B − A samples past A. A run's sparse rows are grouped
by their expected active samples (rows of similar p share a group, so padding wastes little), and
whether a run takes this path at all is decided by a fixed cost model. Both choices use the
run's own request only (p, shape, batch size), never timings or the other runs in the batch, so
a run trains to the same weights alone or batched (``tests/server/test_sparse.py``).

``tests/server/test_sparse_products.py`` checks the gradients against autograd for every
architecture, the closed form against the dense computation, and alone against batched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from server.tms.model import Architecture, Gradients, Workspace, loss_gradients
from server.tms.sparse import SparseSampler

if TYPE_CHECKING:  # training imports this module
    from server.tms.training import Run

# Runs with fewer features keep the dense step: the path is meant for large shapes (hundreds of
# features, benchmarks/RESULTS.md "D: sparse products"), where a group's fixed cost is small
# beside its products.
MIN_FEATURES = 64
# The cost model (constants, so that the choice is the same on every machine): a group costs
# about 40 eager ops (GROUP_NS); a packed-away sample column saves its decoder products (three of
# 2·n·m flops at FLOP_NS) and some five elementwise passes over n entries (ENTRY_NS); the
# sparse encoder saves two products over all B columns.
GROUP_NS = 150_000.0
FLOP_NS = 0.01
ENTRY_NS = 1.0


def column_ns(n_features: int, n_hidden: int) -> float:
    """What one sample column of one row costs in the decoder half of a step, in ns."""
    return n_features * (6 * n_hidden * FLOP_NS + 5 * ENTRY_NS)


def supported(adversarial_epsilon: float) -> bool:
    """Whether this path computes a step's gradient: for every architecture of ``model.py``
    (ReLU, linear and power output, ReLU hidden layer, untied absolute-value model), on clean
    inputs only (an adversarial step perturbs x densely)."""
    return not adversarial_epsilon


class RunProducts:
    """Which of one run's rows take the sparse path, and in which groups.

    Args:
        sampler: the run's sampler; its sparse rows are the candidates.
        n_hidden: m.

    Attributes:
        groups: per group, the run's row indices (long tensors), in the sampler's order.
        rows: every row in a group, (rows_p,).
        used: whether the run takes the path (False: every row stays dense): on the CPU, with
            at least :data:`MIN_FEATURES` features, when the cost model's saving exceeds its
            groups' fixed cost.
    """

    def __init__(self, sampler: SparseSampler, n_hidden: int) -> None:
        self.sampler = sampler
        n, B = sampler.n_features, sampler.batch_size
        self.groups: list[Tensor] = []
        # CPU only: measured there; on a GPU a group's some 40 small kernels would cost more
        # launches than its products save (not measured, so not taken)
        cpu = sampler.lane_probability.device.type == "cpu"
        if sampler.all_dense or n < MIN_FEATURES or not cpu:
            self.rows, self.used = torch.empty(0, dtype=torch.long), False
            return
        expected = sampler.expected_active().tolist()  # per sparse row
        per_column = column_ns(n, n_hidden)
        order = sorted(range(len(expected)), key=lambda i: (-expected[i], i))
        # Greedy: a row joins the current group (whose width is its first row's) while the
        # columns it would pad cost less than a group of its own.
        members: list[list[int]] = []
        for i in order:
            if members and (expected[members[-1][0]] - expected[i]) * per_column < GROUP_NS:
                members[-1].append(i)
            else:
                members.append([i])
        encoder = 4 * n * n_hidden * B * FLOP_NS  # two products a row, now over its entries
        saved = sum(B - e for e in expected) * per_column + len(expected) * encoder
        self.used = saved > len(members) * GROUP_NS
        sparse_rows = sampler.sparse_rows.cpu()
        self.groups = [sparse_rows[sorted(g)] for g in members] if self.used else []
        self.rows = torch.cat(self.groups) if self.groups else torch.empty(0, dtype=torch.long)


@dataclass
class Entries:
    """A group's non-zero inputs, packed: entry e is x[pos[e], feature[e], sample] = value[e],
    and that sample is column col[e] of the packed batch, which is ``width`` wide. Entries are
    in (pos, feature) order; ``by_column`` is the permutation that sorts them by (pos, col)."""

    pos: Tensor  # (nnz,) the row's position in the group
    feature: Tensor  # (nnz,)
    col: Tensor  # (nnz,)
    value: Tensor  # (nnz,)
    width: int
    by_column: Tensor  # (nnz,)


def pack(keys: Tensor, x: Tensor, group: Tensor) -> list[Entries]:
    """Split a run's non-zero entries by group and pack each group's active samples.

    Args:
        keys: sorted flat positions of the non-zero entries in ``x`` (``SparseSampler.entries``).
        x: the run's batch (rows, n, B), contiguous, holding their values.
        group: (rows,) long, each row's group (−1: not in one), on the CPU.

    Returns:
        per group (in order), its :class:`Entries`, rows at their position in the group.
    """
    rows, n, B = x.shape
    device = keys.device
    value = x.reshape(-1).index_select(0, keys)
    row, rest = keys // (n * B), keys % (n * B)
    feature, sample = rest // B, rest % B
    of_row = group.to(device).index_select(0, row)
    packed = []
    for g in range(int(group.max()) + 1):
        members = (group == g).nonzero().flatten().to(device)  # run rows, ascending
        position = torch.full((rows,), -1, dtype=torch.long, device=device)
        position[members] = torch.arange(len(members), device=device)
        mine = (of_row == g).nonzero().flatten()
        pos = position.index_select(0, row.index_select(0, mine))
        slot = pos * B + sample.index_select(0, mine)  # (row, sample) in the group
        active = torch.zeros(len(members) * B, dtype=torch.long, device=device)
        active[slot] = 1
        active = active.view(len(members), B)
        column = active.cumsum(dim=1).sub_(1).view(-1)  # a sample's packed column, if active
        # at least one column: a group without entries this step is one dense zero sample plus
        # the closed form, so no product is ever empty
        width = max(1, int(active.sum(dim=1).max()))
        packed.append(
            Entries(
                pos,
                feature.index_select(0, mine),
                column.index_select(0, slot),
                value.index_select(0, mine),
                width,
                torch.sort(slot, stable=True).indices,  # deterministic order within a column
            )
        )
    return packed


def _bags(bag: Tensor, count: int) -> Tensor:
    """``embedding_bag`` offsets of ``count`` bags from each (sorted) entry's bag id."""
    sizes = torch.bincount(bag, minlength=count)
    return torch.cumsum(sizes, dim=0).sub_(sizes)


def packed_loss_gradients(
    W: Tensor,
    b: Tensor,
    entries: Entries,
    importance: Tensor,
    arch: Architecture,
    batch: int,
    with_loss: bool = False,
    W_out: Tensor | None = None,
    workspace: Workspace | None = None,
) -> Gradients:
    """:func:`model.loss_gradients` of rows given by their non-zero entries alone.

    The same L and gradient as the dense computation on the (rows, n, ``batch``) batch that
    ``entries`` describe, up to float rounding: the active samples in ``entries.width`` packed
    columns, the other ``batch − width`` in closed form (the module's docstring). The sparse
    products are ``embedding_bag`` sums (one bag per packed column for h, one per (row,
    feature) for g_h xᵀ), several times faster on these CPUs than a gather and an
    ``index_add_``.

    Args:
        W: (rows, m, n); b: (rows, n); importance: (rows, n); W_out: (rows, n, m) or None.
        entries: the rows' non-zero inputs (:func:`pack`).
        batch: B, the batch the mean is over.
        workspace: reused scratch memory (``model.Workspace``) or None.

    Returns:
        ``model.Gradients``, fresh tensors: dW (rows, m, n), db (rows, n), L (rows,) if
        ``with_loss``, dW_out (rows, n, m) if untied.
    """
    rows, m, n = W.shape
    A, untied = entries.width, W_out is not None
    pos, feature, col, value = entries.pos, entries.feature, entries.col, entries.value

    def scratch(name: str, shape: tuple[int, ...]) -> Tensor:
        if workspace is None:
            return torch.empty(shape, dtype=W.dtype, device=W.device)
        return workspace.get("packed_" + name, shape, W)

    # h = W x: packed column (row, c) sums W[row, :, f] · x over its entries, (rows·A, m)
    order = entries.by_column
    # (row, feature) → W[row, :, feature]; contiguous, or embedding_bag takes a slow path
    W_cols = W.mT.contiguous().view(rows * n, m)
    h_T = F.embedding_bag(
        (pos * n + feature).index_select(0, order),
        W_cols,
        _bags((pos * A + col).index_select(0, order), rows * A),
        mode="sum",
        per_sample_weights=value.index_select(0, order),
    )
    h = h_T.view(rows, A, m).mT  # (rows, m, A)
    if arch.hidden == "relu":
        h.relu_()
    readout = W.mT if not untied else W_out  # (rows, n, m)
    if arch.activation == "power":
        out = torch.bmm(readout, h, out=scratch("z", (rows, n, A)))
        z = out
        if arch.power != 1:
            out = z.pow(arch.power)
    else:
        out = torch.baddbmm(b.unsqueeze(-1), readout, h, out=scratch("z", (rows, n, A)))
    if arch.activation == "relu":
        out.relu_()
    target = value.abs() if arch.absolute_value else value  # y at the entries
    at_entries = (pos * n + feature) * A + col  # the entries' flat positions in (rows, n, A)
    weight = importance.unsqueeze(-1)  # (rows, n, 1)
    zeros = batch - A  # samples past the packed width: x = 0, h = 0, x′ = act(b)
    at_zero = None  # act(b), (rows, n): the error of a zero sample
    if arch.activation == "relu":
        at_zero = b.relu()
    elif arch.activation == "linear":
        at_zero = b
    loss = None
    if arch.activation == "power":  # e = x′ − y in its own tensor, then the chain rule
        error = scratch("error", (rows, n, A))
        error.copy_(out)
        error.view(-1).index_add_(0, at_entries, target, alpha=-1.0)
        if with_loss:
            loss = (error * error).mul_(weight).sum(dim=(1, 2)) / batch
        grad = error.mul_(weight * (2.0 / batch))  # ∂L/∂x′
        if arch.power != 1:
            grad.mul_(z.pow_(arch.power - 1)).mul_(float(arch.power))
    else:
        # ReLU and linear, in x′'s own memory: y is zero off the entries, so ∂L/∂z is
        # 2 I x′ / B there (0 where the ReLU is off, since x′ = 0 there), and at an entry
        # 2 I (x′ − y) / B, masked where the ReLU is off: 2 I x′ / B − 2 I y [x′ > 0] / B.
        # That saves a copy of x′ and a masking pass over the packed batch.
        out_e = out.view(-1).index_select(0, at_entries)  # x′ at the entries
        weight_e = importance.reshape(-1).index_select(0, pos * n + feature)  # I at the entries
        if with_loss:  # Σ I (x′ − y)² = Σ I x′² + Σ_entries I ((x′ − y)² − x′²)
            loss = (out * out).mul_(weight).sum(dim=(1, 2))
            fix = weight_e * ((out_e - target).square_() - out_e.square())
            loss.index_add_(0, pos, fix)
            if zeros:
                loss += (importance * at_zero * at_zero).sum(dim=1) * zeros
            loss /= batch
        grad = out.mul_(weight * (2.0 / batch))  # ∂L/∂z off the entries
        correction = weight_e * target * (2.0 / batch)
        if arch.activation == "relu":
            correction = correction.mul_(out_e > 0)
        grad.view(-1).index_add_(0, at_entries, correction, alpha=-1.0)
    if arch.activation == "power":  # no bias
        db = torch.zeros_like(b)
    else:
        db = grad.sum(dim=-1)
        if at_zero is not None and zeros:  # ReLU: the mask b > 0 is already in ReLU(b)
            db += importance * at_zero * (2.0 * zeros / batch)
    grad_h = torch.bmm(readout.mT, grad, out=scratch("grad_h", (rows, m, A)))  # ∂L/∂h
    if arch.hidden == "relu":
        grad_h = torch.ops.aten.threshold_backward.grad_input(grad_h, h, 0.0, grad_input=grad_h)
    # g_h xᵀ: (row, f) sums g_h[row, :, c] · x over its entries, (rows·n, m)
    encoder = F.embedding_bag(
        pos * A + col,
        grad_h.mT.contiguous().view(rows * A, m),
        _bags(pos * n + feature, rows * n),
        mode="sum",
        per_sample_weights=value,
    ).view(rows, n, m)
    if not untied:
        dW = torch.bmm(h, grad.mT).add_(encoder.mT)  # from x′ = Wᵀ h, then from h = W x
        return Gradients(dW, db, loss)
    dW_out = torch.bmm(grad, h.mT)  # (rows, n, m)
    return Gradients(encoder.mT.contiguous(), db, loss, dW_out)


class BatchProducts:
    """A training batch's plan: which rows step densely, which through packed groups.

    Args:
        parts: per run that takes the path, its first row in the batch and its
            :class:`RunProducts`.
        rows: the batch's rows.
    """

    def __init__(self, parts: list[tuple[int, RunProducts]], rows: int) -> None:
        self.parts = parts
        dense = torch.ones(rows, dtype=torch.bool)
        for offset, run in parts:
            dense[offset + run.rows] = False
        self.dense_rows = dense.nonzero().flatten()
        d = self.dense_rows.tolist()
        contiguous = bool(d) and d == list(range(d[0], d[0] + len(d)))
        self.dense_block = slice(d[0], d[0] + len(d)) if contiguous else None
        self.group_of = []  # per part: (run rows,) each row's group or −1
        for _, run in parts:
            group = torch.full((run.sampler.n_rows,), -1, dtype=torch.long)
            for g, members in enumerate(run.groups):
                group[members] = g
            self.group_of.append(group)

    @staticmethod
    def of(runs: list[Run], slices: list[slice]) -> BatchProducts | None:
        """The plan for a batch's runs (at ``slices`` of its rows), or None where no run takes
        the path. Each run's part depends on its own request alone (:class:`RunProducts`)."""
        parts = []
        for run, rows in zip(runs, slices, strict=True):
            if run.sampler is None or not supported(run.config.adversarial_epsilon):
                continue
            products = RunProducts(run.sampler, run.n_hidden)
            if products.used:
                parts.append((rows.start, products))
        return BatchProducts(parts, slices[-1].stop) if parts else None

    def loss_gradients(
        self,
        W: Tensor,
        b: Tensor,
        x: Tensor,
        importance: Tensor,
        arch: Architecture,
        with_loss: bool,
        into: tuple[Tensor, ...],
        W_out: Tensor | None,
        y: Tensor | None,
        workspace: Workspace,
    ) -> Tensor | None:
        """Every row's gradient into ``into`` (dW, db (, dW_out)); L per row if ``with_loss``.

        The dense rows through ``model.loss_gradients`` on their own, each run's groups through
        :func:`packed_loss_gradients` on the entries its sampler drew this step.
        """
        rows, B = x.shape[0], x.shape[-1]
        loss = torch.empty(rows, dtype=x.dtype, device=x.device) if with_loss else None
        d = self.dense_block
        if d is not None:
            dense = loss_gradients(
                W[d], b[d], x[d], importance[d], arch, with_loss,
                into=tuple(buffer[d] for buffer in into),
                W_out=None if W_out is None else W_out[d], y=None if y is None else y[d],
                workspace=workspace,
            )  # fmt: skip
            if loss is not None:
                loss[d] = dense.loss
        elif len(self.dense_rows):
            i = self.dense_rows.to(x.device)
            dense = loss_gradients(
                W[i], b[i], x[i], importance[i], arch, with_loss,
                W_out=None if W_out is None else W_out[i], y=None if y is None else y[i],
                workspace=workspace,
            )  # fmt: skip
            for buffer, grad in zip(into, dense[:2] + dense[3:4], strict=False):
                buffer.index_copy_(0, i, grad)
            if loss is not None:
                loss.index_copy_(0, i, dense.loss)
        for (offset, run), group_of in zip(self.parts, self.group_of, strict=True):
            mine = slice(offset, offset + run.sampler.n_rows)
            keys = run.sampler.entries()
            packed = pack(keys, x[mine], group_of)
            for members, entries in zip(run.groups, packed, strict=True):
                i = (members + offset).to(x.device)
                grads = packed_loss_gradients(
                    W[i], b[i], entries, importance[i], arch, B, with_loss,
                    None if W_out is None else W_out[i], workspace,
                )  # fmt: skip
                into[0].index_copy_(0, i, grads.dW)
                into[1].index_copy_(0, i, grads.db)
                if grads.dW_out is not None:
                    into[2].index_copy_(0, i, grads.dW_out)
                if loss is not None:
                    loss.index_copy_(0, i, grads.loss)
        return loss
