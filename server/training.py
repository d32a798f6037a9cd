"""The paper notebook's training loop: AdamW (lr 1e-3, weight decay 0.01), batch 1024, constant lr.

Pure PyTorch. ``n_restarts`` seeds of every instance train side by side in the same batch (row
``i * n_restarts + r`` is restart r of instance i); after training each restart's loss is measured
on a fresh sample and the lowest is kept, as the paper does for its 2-D models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor

from server.config import EVAL_SAMPLES
from server.data import sample_features
from server.model import Activation, ToyModel, reconstruction_loss

# Steps that touch fewer entries than this run on one thread: for small models a second thread
# costs more in synchronisation than it gains (PERFORMANCE.md, "Threads").
SINGLE_THREAD_ELEMENTS = 1 << 20


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; the defaults are the paper notebook's."""

    steps: int = 10_000
    batch_size: int = 1024
    lr: float = 1e-3
    weight_decay: float = 0.01  # torch.optim.AdamW's default, which the notebook uses
    n_restarts: int = 1
    n_eval_samples: int = EVAL_SAMPLES  # fresh inputs on which the reported loss is measured
    history_points: int = 200  # about this many (step, loss) points are kept


@dataclass
class TrainResult:
    """The best restart of every instance.

    Attributes:
        W: (n_instances, n_hidden, n_features).
        b: (n_instances, n_features).
        loss: (n_instances,), L on ``n_eval_samples`` fresh inputs.
        history_steps: the steps at which training-batch losses were recorded.
        history_loss: (len(history_steps), n_instances), training-batch L of the kept restart.
    """

    W: Tensor
    b: Tensor
    loss: Tensor
    history_steps: list[int]
    history_loss: Tensor


# Called after every optimiser step with (step, model, per-row batch loss of shape
# (n_instances * n_restarts,)). It may raise to stop training (that is how jobs are cancelled).
StepCallback = Callable[[int, ToyModel, Tensor], None]
# Called between chunks of the final evaluation; it may raise to stop it.
CheckCallback = Callable[[], None]


@contextmanager
def cpu_threads(elements_per_step: int) -> Iterator[None]:
    """Train on one CPU thread when a step is small, on all of them otherwise; then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(1 if elements_per_step < SINGLE_THREAD_ELEMENTS else before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def best_restarts(values: Tensor, n_restarts: int) -> Tensor:
    """Index of the lowest value among each instance's restarts.

    Args:
        values: (n_instances * n_restarts,), e.g. losses.

    Returns:
        (n_instances,) row indices into the restart-expanded batch.
    """
    grouped = values.reshape(-1, n_restarts)  # (I, R)
    offsets = torch.arange(grouped.shape[0], device=values.device) * n_restarts
    return offsets + grouped.argmin(dim=1)


@torch.no_grad()
def evaluate_loss(
    model: ToyModel,
    feature_probability: Tensor,
    importance: Tensor,
    n_samples: int,
    generator: torch.Generator,
    check: CheckCallback | None = None,
) -> Tensor:
    """L per instance on ``n_samples`` fresh inputs, drawn in chunks to bound memory.

    Args:
        feature_probability, importance: (n_instances, n_features).
        check: called before every chunk; may raise to stop.

    Returns:
        (n_instances,) float64 mean of Σᵢ Iᵢ (xᵢ − x′ᵢ)².
    """
    n_rows, n_features = importance.shape
    chunk = max(1, min(n_samples, (1 << 22) // (n_rows * n_features)))
    total = torch.zeros(n_rows, dtype=torch.float64, device=importance.device)
    done = 0
    while done < n_samples:
        if check is not None:
            check()
        size = min(chunk, n_samples - done)
        x = sample_features(feature_probability, size, generator)
        total += reconstruction_loss(x, model(x), importance).double() * size
        done += size
    return total / n_samples


def train(
    feature_probability: Tensor,
    importance: Tensor,
    n_hidden: int,
    activation: Activation,
    config: TrainConfig,
    seed: int,
    on_step: StepCallback | None = None,
    check: CheckCallback | None = None,
) -> TrainResult:
    """Train ``n_instances × n_restarts`` toy models in one batch and keep each instance's best.

    Deterministic: the same inputs, seed and device give the same weights.

    Args:
        feature_probability: (n_instances, n_features) or (n_instances, 1), p = 1 − S in (0, 1].
        importance: (n_instances, n_features), Iᵢ ≥ 0. Its device is the training device.
        n_hidden: m.
        activation: "relu" (the ReLU output model) or "linear".
        config: hyper-parameters.
        seed: seeds the initial weights and the training samples.
        on_step: optional callback after every step, see :data:`StepCallback`.
        check: optional callback between chunks of the final evaluation; may raise to stop.

    Returns:
        The best restart of every instance, see :class:`TrainResult`.
    """
    n_instances, n_features = importance.shape
    elements = config.batch_size * n_instances * config.n_restarts * n_features
    with cpu_threads(elements):
        device = importance.device
        restarts = config.n_restarts
        # (I·R, n): every restart of an instance shares its data distribution and importance.
        probability = feature_probability.to(device).expand(n_instances, n_features)
        probability = probability.repeat_interleave(restarts, dim=0).contiguous()
        weight = importance.repeat_interleave(restarts, dim=0)

        generator = torch.Generator(device).manual_seed(seed)
        model = ToyModel(
            n_instances * restarts, n_features, n_hidden, activation, generator, device
        )
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )

        every = max(1, config.steps // config.history_points)
        history_steps: list[int] = []
        history: list[Tensor] = []
        for step in range(1, config.steps + 1):
            x = sample_features(probability, config.batch_size, generator)  # (B, I·R, n)
            losses = reconstruction_loss(x, model(x), weight)  # (I·R,)
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()  # summed: the instances' gradients stay independent
            optimizer.step()
            if step % every == 0 or step == config.steps:
                history_steps.append(step)
                history.append(losses.detach().clone())
            if on_step is not None:
                on_step(step, model, losses.detach())

        # The generator goes on past every training draw, so these inputs are fresh.
        final = evaluate_loss(model, probability, weight, config.n_eval_samples, generator, check)
        keep = best_restarts(final, restarts)  # (I,)
        return TrainResult(
            W=model.W.detach()[keep].clone(),
            b=model.b.detach()[keep].clone(),
            loss=final[keep],
            history_steps=history_steps,
            history_loss=torch.stack(history)[:, keep],
        )
