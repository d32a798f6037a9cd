"""The reference trainer: a plain re-implementation of the paper notebook's training loop.

Written the straightforward way on purpose, as the yardstick for ``train_speed.py``: an einsum
forward pass, autograd, ``torch.optim.AdamW(lr=1e-3)`` (weight decay 0.01, its default), batch
1024, and the sampler as the notebook writes it, two uniform draws per entry: a ``rand < p`` mask
times another ``rand``. The loss is the paper's L = E Σᵢ Iᵢ (xᵢ − x′ᵢ)² (docs/THEORY.md §0), summed
over instances so that their gradients stay independent. Initialisation is Xavier-normal per
instance, as in ``server/model.py``, so both trainers start from the same distribution.

Nothing in ``server/`` imports this file.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import torch
from torch import Tensor


def sample(probability: Tensor, batch_size: int, generator: torch.Generator) -> Tensor:
    """x of shape (B, I, n): a ``rand < p`` mask times a second ``rand``."""
    shape = (batch_size, *probability.shape)
    device = probability.device
    mask = torch.rand(shape, generator=generator, device=device) < probability
    return mask * torch.rand(shape, generator=generator, device=device)


def train_reference(
    probability: Tensor,
    importance: Tensor,
    n_hidden: int,
    seed: int,
    activation: str = "relu",
    batch_size: int = 1024,
    lr: float = 1e-3,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Train I models side by side, the notebook's way, one step per ``next``.

    Args:
        probability, importance: (I, n) feature probabilities and importances.
        n_hidden: m.

    Yields:
        After every AdamW step, W of shape (I, m, n) and b of shape (I, n) (live tensors).
    """
    n_instances, n_features = importance.shape
    device = importance.device
    generator = torch.Generator(device).manual_seed(seed)
    std = math.sqrt(2.0 / (n_features + n_hidden))
    W = torch.randn((n_instances, n_hidden, n_features), generator=generator, device=device) * std
    W.requires_grad_(True)
    b = torch.zeros((n_instances, n_features), device=device, requires_grad=True)
    optimizer = torch.optim.AdamW([W, b], lr=lr)
    while True:
        x = sample(probability, batch_size, generator)  # (B, I, n)
        h = torch.einsum("bin,imn->bim", x, W)  # (B, I, m)
        out = torch.einsum("bim,imn->bin", h, W) + b  # (B, I, n)
        if activation == "relu":
            out = torch.relu(out)
        loss = (importance * (x - out) ** 2).sum(dim=-1).mean(dim=0).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        yield W.detach(), b.detach()


def ms_per_step(
    trainer: Iterator[tuple[Tensor, Tensor]], device: torch.device, steps: int
) -> float:
    """Milliseconds per step of ``trainer`` over ``steps`` steps, after 3 warm-up steps."""
    for _ in range(3):
        next(trainer)
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        next(trainer)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - started) / steps
