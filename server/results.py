"""Trained models as the API's results: each instance's metrics as plain lists, and the task that
lets the training worker train a :class:`ModelRequest`."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from server import metrics, theory, theory_power
from server.cache import ModelCache
from server.schemas import DEFAULT_POWER, InstanceResult, LossPoint, ModelRequest, ModelResult
from server.training import Run, TrainConfig, TrainResult


def theory_losses(request: ModelRequest, p: float) -> dict[str, float]:
    """The closed-form losses an instance of feature probability ``p`` is compared with.

    ``zero_output`` always. ReLU and linear models: THEORY.md F3, and F11 for uniform magnitudes
    when importances are equal and n ≥ 2m. Power models: the best unsuperposed loss (F15).
    """
    importance = request.importances
    signed = request.activation == "power"
    zero = theory.zero_output_loss(math.fsum(importance), p, request.magnitude, signed)
    losses = {"zero_output": zero}
    if signed:
        k = request.power if request.power is not None else DEFAULT_POWER
        kept = theory_power.kept_importance(importance, request.n_hidden)
        gain = theory_power.unsuperposed_gain(p, k, kept, request.magnitude)
        return losses | {"power_unsuperposed": zero - gain}
    losses["linear_optimum"] = theory.linear_optimum(
        importance, [p], request.n_hidden, request.magnitude
    )
    if request.magnitude == "uniform" and len(set(importance)) == 1:
        uniform = theory.uniform_superposition(request.n_features, request.n_hidden, p)
        if uniform is not None:  # F11 assumes importance 1; the loss scales with it
            losses |= {f"uniform_{k}": importance[0] * v for k, v in uniform.items()}
    return losses


def exact_linear_losses(request: ModelRequest, W: Tensor, b: Tensor) -> list[float | None]:
    """Each instance's exact loss if the model is linear (``metrics.linear_model_loss``), else
    None per instance.

    Args:
        W: (n_instances, n_hidden, n_features); b: (n_instances, n_features), on the CPU.
    """
    ps = request.feature_probabilities
    if request.activation != "linear":
        return [None] * len(ps)
    p = torch.tensor(ps, dtype=torch.float64).unsqueeze(1)  # (I, 1)
    variance = torch.tensor([[theory.variance(q, request.magnitude)] for q in ps])
    importance = torch.tensor(request.importances, dtype=torch.float64)
    mean = p * theory.moment(1, request.magnitude)
    return metrics.linear_model_loss(W, b, importance, mean, variance).tolist()


@torch.no_grad()
def instance_results(
    request: ModelRequest, W: Tensor, b: Tensor, loss: Tensor, gain: Tensor | None = None
) -> list[InstanceResult]:
    """Measure every instance (BACKGROUND.md "Metrics").

    Args:
        request: the normalised request the weights were trained for.
        W: (n_instances, n_hidden, n_features); b: (n_instances, n_features).
        loss: (n_instances,), L of each instance.
        gain: (n_instances,), L̃ measured with the loss (final results), or None (snapshots).
    """
    W = W.detach().cpu()
    b = b.detach().cpu()
    columns = {
        "W": W.tolist(),
        "b": b.tolist(),
        "exact_loss": exact_linear_losses(request, W, b),
        "loss": loss.detach().double().cpu().tolist(),
        "gain": [None] * len(W) if gain is None else gain.detach().double().cpu().tolist(),
        "gram": metrics.gram(W).tolist(),
        "feature_norms": metrics.feature_norms(W).tolist(),
        "superposition": metrics.superposition(W).tolist(),
        "dimensionality": metrics.dimensionality(W).tolist(),
        "dimensions_per_feature": metrics.dimensions_per_feature(W).tolist(),
    }
    importance = request.importances
    return [
        InstanceResult(
            feature_probability=p,
            importance=importance,
            theory_loss=theory_losses(request, p),
            **{name: values[k] for name, values in columns.items()},
        )
        for k, p in enumerate(request.feature_probabilities)
    ]


class ModelTask:
    """What the worker needs to train a :class:`ModelRequest`: its run, snapshots and result.

    Args:
        request: any request; it is normalised, so equal models share one id.
    """

    def __init__(self, request: ModelRequest) -> None:
        self.request = request.normalised()
        self.id = self.request.model_id()

    def load(self, cache: ModelCache) -> ModelResult | None:
        return cache.load(self.id)

    def start(self, device: torch.device) -> Run:
        request = self.request
        probability = torch.tensor(request.feature_probabilities, device=device).unsqueeze(1)
        importance = torch.tensor([request.importances] * request.n_instances, device=device)
        config = TrainConfig(
            steps=request.steps,
            batch_size=request.batch_size,
            lr=request.lr,
            n_restarts=request.n_restarts,
        )
        return Run(
            probability,
            importance,
            request.n_hidden,
            request.activation,
            config,
            request.seed,
            power=request.power or 1,
            magnitude=request.magnitude,
        )

    def snapshot(self, run: Run) -> dict[str, Any]:
        """The live message's fields: id, step, steps and the best restarts' metrics now."""
        W, b, loss = run.current()
        return {
            "id": self.id,
            "step": run.step,
            "steps": self.request.steps,
            "instances": instance_results(self.request, W, b, loss),
        }

    def result(self, trained: TrainResult, device: torch.device, seconds: float) -> ModelResult:
        return ModelResult(
            id=self.id,
            cached=False,
            request=self.request,
            device=str(device),
            train_seconds=seconds,
            loss_history=[
                LossPoint(step=step, loss=losses)
                for step, losses in zip(
                    trained.history_steps, trained.history_loss.tolist(), strict=True
                )
            ],
            instances=instance_results(
                self.request, trained.W, trained.b, trained.loss, trained.gain
            ),
        )

    def save(self, cache: ModelCache, result: ModelResult, trained: TrainResult) -> None:
        cache.save(result, trained.W, trained.b)
