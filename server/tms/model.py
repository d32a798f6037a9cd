"""The toy model of TMS §"Demonstrating Superposition", batched over rows, with its exact gradient.

    h  = W x                      W: (n_hidden, n_features) per row, no hidden bias
    x′ = ReLU(WᵀW x + b)          or, for the linear model, x′ = WᵀW x + b
    x′ = (WᵀW x)^k                the power model (Chowdhury & Weiner, docs/THEORY.md F15): no bias
    L  = E_x Σᵢ Iᵢ (yᵢ − x′ᵢ)²    per sample, summed over features (docs/THEORY.md §0); y = x

and two variants of TMS §"Superposition in a Privileged Basis" and §"Computation in Superposition":

    h  = ReLU(W x)                ``hidden="relu"``: the ReLU hidden layer (privileged basis)
    x′ = ReLU(W_out h + b)        ``W_out`` (n_features, n_hidden) untied from W: the
                                  absolute-value model, whose target is y = |x|

Many independent models ("rows": instances × restarts, possibly of several requests) live side
by side in one tensor; their losses never interact. Inputs are feature-major, x of shape
(rows, n_features, B), because the batched matrix products are several times faster in that
layout than with the batch first (benchmarks/RESULTS.md).

The gradient is written out by hand rather than taken by autograd: for a model this small,
autograd's bookkeeping costs more than the arithmetic. With e = x′ − y and g = 2 I ⊙ e / B
masked where the ReLU is off (the gradient at the pre-activation z; for the power model
g = 2 I ⊙ e ⊙ k z^(k−1) / B, and b stays 0 because its gradient is 0), and g_h = W g (tied) or
W_outᵀ g, masked where a hidden ReLU is off,

    ∂L/∂b = Σ_batch g
    ∂L/∂W = h gᵀ + g_h xᵀ         (tied: W appears twice, in h = W x and in x′ = Wᵀ h)
    ∂L/∂W = g_h xᵀ,  ∂L/∂W_out = g hᵀ   (untied)

``tests/server/test_model.py`` checks both against autograd.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from server.tms.config import Activation, Hidden, ModelConfig, WeightInit


@dataclass(frozen=True)
class Architecture:
    """What maps x to x′, apart from the weights' values.

    Attributes:
        activation: the output's, "relu", "linear" or "power".
        power: k of the power model (1 otherwise).
        hidden: "relu" for the ReLU hidden layer h = ReLU(W x) (TMS §"Privileged Basis").
        absolute_value: the absolute-value model (TMS §"Computation in Superposition"): untied
            W_out and target |x|, with signed inputs.
    """

    activation: Activation = "relu"
    power: int = 1
    hidden: Hidden = "none"
    absolute_value: bool = False

    @classmethod
    def of(cls, config: ModelConfig) -> Architecture:
        """The architecture a :class:`~server.tms.config.ModelConfig` describes."""
        return cls(config.activation, config.k, config.hidden, config.absolute_value)


def init_std(n_features: int, n_hidden: int, init: WeightInit = "xavier") -> float:
    """The standard deviation of W's (and W_out's) initial entries.

    "xavier": Xavier-normal with the fans of one (m, n) matrix, sqrt(2 / (n + m)).
    "notebook": what the paper's notebook gets from ``xavier_normal_`` on its (n_instances,
    n_features, n_hidden) tensor, whose fans are n·m and n_instances·m, taken with one instance so
    that the scale does not depend on how many rows share a batch: sqrt(2 / (n·m + m)). It is
    about sqrt(m) times smaller; dense many-feature models need it (benchmarks/RESULTS.md,
    "Stuck output units": from the larger scale 400 → 30-like models settle with output units
    that are zero for every input).
    """
    if init == "notebook":
        return math.sqrt(2.0 / (n_features * n_hidden + n_hidden))
    return math.sqrt(2.0 / (n_features + n_hidden))


def init_weights(
    rows: int,
    n_features: int,
    n_hidden: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    init: WeightInit = "xavier",
) -> tuple[Tensor, Tensor]:
    """Initial W of shape (rows, n_hidden, n_features) and b = 0 of shape (rows, n_features).

    Normal with the standard deviation :func:`init_std` gives for ``init``, per row, so that a
    row's initial scale does not depend on how many rows share the batch.
    """
    std = init_std(n_features, n_hidden, init)
    W = torch.randn((rows, n_hidden, n_features), generator=generator, device=device) * std
    return W, torch.zeros((rows, n_features), device=device)


def init_output_weights(
    rows: int,
    n_features: int,
    n_hidden: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    init: WeightInit = "xavier",
) -> Tensor:
    """Initial W_out of an untied model, (rows, n_features, n_hidden), with W's scale.

    Drawn after W from the same generator, so W matches the tied model's at the same seed.
    """
    std = init_std(n_features, n_hidden, init)
    return torch.randn((rows, n_features, n_hidden), generator=generator, device=device) * std


def activate(z: Tensor, b: Tensor, activation: Activation, power: int = 1) -> Tensor:
    """The output x′ from the readout z = WᵀW x: ReLU(z + b), z + b, or zᵏ (no bias).

    Args:
        z: (rows, n_features, B); b: (rows, n_features).
    """
    if activation == "power":
        return z.pow(power)
    out = z + b.unsqueeze(-1)
    return out.relu_() if activation == "relu" else out


def forward(
    W: Tensor, b: Tensor, x: Tensor, arch: Architecture, W_out: Tensor | None = None
) -> Tensor:
    """The model's output: x (rows, n_features, B) → x′ of the same shape.

    The power model has no bias, so ``b`` is not used by it. ``arch.hidden="relu"`` puts a ReLU
    on h; ``W_out`` (rows, n_features, n_hidden) unties the output weights (None: x′ reads h
    through Wᵀ).
    """
    h = torch.bmm(W, x)  # (rows, m, B)
    if arch.hidden == "relu":
        h = h.relu_()
    readout = W.mT if W_out is None else W_out  # (rows, n, m)
    return activate(torch.bmm(readout, h), b, arch.activation, arch.power)  # (rows, n, B)


def target(x: Tensor, absolute: bool) -> Tensor:
    """What the model is trained to output: x itself, or |x| for the absolute-value model."""
    return x.abs() if absolute else x


def reconstruction_loss(x: Tensor, x_hat: Tensor, importance: Tensor) -> Tensor:
    """The paper's L per row: importance-weighted squared error, summed over features.

    Args:
        x, x_hat: (rows, n_features, B): the target (x, or |x| for the absolute-value model) and
            the model's output.
        importance: (rows, n_features), Iᵢ.

    Returns:
        (rows,), the batch mean of Σᵢ Iᵢ (xᵢ − x′ᵢ)².
    """
    error = x_hat - x
    return (importance.unsqueeze(-1) * error * error).sum(dim=(1, 2)) / x.shape[-1]


class Workspace:
    """Scratch tensors that :func:`loss_gradients` reuses from one call to the next.

    A step of a large model allocates several (rows, n, B) and (rows, m, B) intermediates (h,
    x′, the error, ∂L/∂h). Fresh allocations of that size go to the allocator's mmap path and are
    unmapped again when freed, so every step pays the kernel's page faults on each of them: on the
    2-core machines 4–5 ms of the 400 → 30, 8-row step's 35 ms per such tensor
    (benchmarks/RESULTS.md, "D: sparse products"). Keeping them here makes the step's arithmetic
    and its results exactly what they were (the same kernels, written into old memory).

    Not thread-safe: one owner (a training batch's layout) per workspace.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
        """An uninitialised contiguous tensor of ``shape`` with ``like``'s dtype and device, in
        the memory of the previous call with this ``name`` when that is large enough (so a
        shape that changes from step to step, such as a compacted batch's width, reuses it)."""
        numel = math.prod(shape)
        buffer = self._buffers.get(name)
        if (
            buffer is None
            or buffer.numel() < numel
            or buffer.dtype != like.dtype
            or buffer.device != like.device
        ):
            buffer = torch.empty(numel, dtype=like.dtype, device=like.device)
            self._buffers[name] = buffer
        return buffer[:numel].view(shape)


class Gradients(NamedTuple):
    """∂L/∂W (rows, m, n), ∂L/∂b (rows, n), L (rows,) or None, and ∂L/∂W_out (rows, n, m) of an
    untied model or None."""

    dW: Tensor
    db: Tensor
    loss: Tensor | None
    dW_out: Tensor | None = None


def loss_gradients(
    W: Tensor,
    b: Tensor,
    x: Tensor,
    importance: Tensor,
    arch: Architecture,
    with_loss: bool = False,
    into: tuple[Tensor, ...] | None = None,
    W_out: Tensor | None = None,
    y: Tensor | None = None,
    workspace: Workspace | None = None,
) -> Gradients:
    """∂L/∂W, ∂L/∂b (and ∂L/∂W_out) of every row's batch loss, and optionally the loss itself.

    Args:
        W: (rows, m, n); b: (rows, n).
        x: (rows, n, B), a batch of inputs.
        importance: (rows, n), Iᵢ.
        arch: the activation, k of the power model, and the hidden layer's activation.
        with_loss: also return L per row (costs one more pass over the batch).
        into: optional buffers for dW, db (and dW_out), written in place (saves allocations).
        W_out: (rows, n, m), untied output weights; None for x′ = Wᵀ h.
        y: (rows, n, B), the target; None for x itself.
        workspace: where to keep the intermediates between calls (:class:`Workspace`); None
            allocates them afresh. The results are the same either way.

    Returns:
        :class:`Gradients`.
    """
    activation, power, hidden = arch.activation, arch.power, arch.hidden
    rows, n, batch = x.shape
    m = W.shape[1]

    def scratch(name: str, shape: tuple[int, ...]) -> Tensor | None:
        return None if workspace is None else workspace.get(name, shape, x)

    h = torch.bmm(W, x, out=scratch("h", (rows, m, batch)))  # (rows, m, B)
    if hidden == "relu":
        h.relu_()
    readout = W.mT if W_out is None else W_out  # (rows, n, m)
    polynomial = activation == "power" and power != 1
    if activation == "power":
        z = torch.bmm(readout, h, out=scratch("z", (rows, n, batch)))  # (rows, n, B), no bias
        out = z.pow(power) if polynomial else z
    else:  # (rows, n, B): z, then x′ in place
        out = torch.baddbmm(b.unsqueeze(-1), readout, h, out=scratch("z", (rows, n, batch)))
    if activation == "relu":
        out.relu_()
    error = torch.sub(out, x if y is None else y, out=scratch("error", (rows, n, batch)))
    weight = importance.unsqueeze(-1)  # (rows, n, 1)
    loss = (error * error).mul_(weight).sum(dim=(1, 2)) / batch if with_loss else None
    grad = error.mul_(weight * (2.0 / batch))  # ∂L/∂x′
    if activation == "relu":  # ∂L/∂z: zero where the ReLU was off (x′ = 0 there), in place
        grad = torch.ops.aten.threshold_backward.grad_input(grad, out, 0.0, grad_input=grad)
    elif polynomial:  # ∂L/∂z = ∂L/∂x′ · k z^(k−1)
        grad.mul_(z.pow_(power - 1)).mul_(float(power))
    dW_buf, db_buf, dW_out_buf = (*into, None)[:3] if into is not None else (None, None, None)
    if activation == "power":  # no bias: its gradient is 0, so AdamW keeps b = 0 exactly
        db = db_buf.zero_() if db_buf is not None else torch.zeros_like(b)
    else:
        db = torch.sum(grad, dim=-1, out=db_buf)  # (rows, n)
    grad_h = torch.bmm(readout.mT, grad, out=scratch("grad_h", (rows, m, batch)))  # ∂L/∂h
    if hidden == "relu":  # zero where the hidden ReLU was off
        grad_h = torch.ops.aten.threshold_backward.grad_input(grad_h, h, 0.0, grad_input=grad_h)
    if W_out is None:
        dW = torch.bmm(h, grad.mT, out=dW_buf)  # (rows, m, n): from x′ = Wᵀ h
        dW.baddbmm_(grad_h, x.mT)  # from h = W x
        return Gradients(dW, db, loss)
    dW = torch.bmm(grad_h, x.mT, out=dW_buf)  # (rows, m, n)
    dW_out = torch.bmm(grad, h.mT, out=dW_out_buf)  # (rows, n, m)
    return Gradients(dW, db, loss, dW_out)
