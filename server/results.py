"""Trained models as the API's results: each instance's metrics as plain lists, and the task that
lets the training worker train a :class:`ModelRequest`."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from server import metrics, theory, theory_power
from server.cache import ModelCache
from server.data import FeatureSet
from server.schemas import (
    DEFAULT_POWER,
    InstanceResult,
    LossPoint,
    ModelRequest,
    ModelResult,
    NeuronSummary,
    NeuronView,
    SnapshotSummary,
)
from server.training import Run, TrainConfig, TrainResult


def marginal_probabilities(request: ModelRequest, row: list[float]) -> list[float]:
    """Each feature's probability of being active, from an instance's p per feature: a member of
    an anticorrelated set of k is active with probability p/k (``data.py``)."""
    marginal = list(row)
    for feature_set in request.feature_sets or []:
        if feature_set.kind == "anticorrelated":
            for j in feature_set.features:
                marginal[j] = row[j] / len(feature_set.features)
    return marginal


def theory_losses(request: ModelRequest, instance: int) -> dict[str, float]:
    """The closed-form losses instance ``instance`` is compared with.

    ``zero_output`` (E Σᵢ Iᵢ yᵢ², from each feature's marginal probability) always. With
    independent features: for ReLU and linear models THEORY.md F3 (the best without
    superposition, which a ReLU hidden layer reaches too), and F11 for uniform magnitudes, one p
    and equal importances with n ≥ 2m, without a hidden ReLU (its antipodal pairs assume h = Wx);
    for power models with one p the best unsuperposed loss (F15); for the absolute-value model
    F3's formula with m // 2 features kept (two neurons per feature, |x| = ReLU(x) + ReLU(−x),
    and the mean of |x| on the rest). Correlated sets change
    the covariance that F3 assumes, so they get ``zero_output`` only.
    """
    importance = request.importances
    row = request.probability_rows[instance]
    p = request.feature_probabilities[instance]
    marginal = marginal_probabilities(request, row)
    # E Σᵢ Iᵢ yᵢ² = μ₂ Σᵢ Iᵢ qᵢ: theory's zero-output loss of "importance" Σᵢ Iᵢ qᵢ at p = 1
    weighted = math.fsum(i * q for i, q in zip(importance, marginal, strict=True))
    zero = theory.zero_output_loss(weighted, 1.0, request.magnitude, request.signed)
    losses = {"zero_output": zero}
    if request.feature_sets:
        return losses
    if request.activation == "power":
        if isinstance(p, list):
            return losses
        k = request.power if request.power is not None else DEFAULT_POWER
        kept = theory_power.kept_importance(importance, request.n_hidden)
        gain = theory_power.unsuperposed_gain(p, k, kept, request.magnitude)
        return losses | {"power_unsuperposed": losses["zero_output"] - gain}
    if request.task == "absolute_value":
        kept_features = request.n_hidden // 2
        unsuperposed = theory.linear_optimum(importance, row, kept_features, request.magnitude)
        return losses | {"absolute_value_unsuperposed": unsuperposed}
    losses["linear_optimum"] = theory.linear_optimum(
        importance, row, request.n_hidden, request.magnitude
    )
    uniform_inputs = request.magnitude == "uniform" and request.hidden == "none"
    if uniform_inputs and len(set(importance)) == 1 and not isinstance(p, list):
        uniform = theory.uniform_superposition(request.n_features, request.n_hidden, p)
        if uniform is not None:  # F11 assumes importance 1; the loss scales with it
            losses |= {f"uniform_{k}": importance[0] * v for k, v in uniform.items()}
    return losses


def exact_linear_losses(request: ModelRequest, W: Tensor, b: Tensor) -> list[float | None]:
    """Each instance's exact loss if the model is linear with independent features and no hidden
    ReLU (``metrics.linear_model_loss``), else None per instance.

    Args:
        W: (n_instances, n_hidden, n_features); b: (n_instances, n_features), on the CPU.
    """
    rows = request.probability_rows
    if request.activation != "linear" or request.hidden != "none" or request.feature_sets:
        return [None] * len(rows)
    p = torch.tensor(rows, dtype=torch.float64)  # (I, n)
    variance = torch.tensor([[theory.variance(q, request.magnitude) for q in row] for row in rows])
    importance = torch.tensor(request.importances, dtype=torch.float64)
    mean = p * theory.moment(1, request.magnitude)
    return metrics.linear_model_loss(W, b, importance, mean, variance).tolist()


def neuron_views(W: Tensor, W_out: Tensor | None) -> list[NeuronView]:
    """The neuron view of every instance: W (I, m, n), W_out (I, n, m) or None."""
    strength, top_feature, share = metrics.neuron_weights(W, W_out)
    views = []
    for k in range(W.shape[0]):
        kinds = metrics.neuron_kinds(strength[k], share[k])
        neurons = [
            NeuronSummary(strength=s, top_feature=f, top_share=q, kind=kind)  # type: ignore[arg-type]
            for s, f, q, kind in zip(
                strength[k].tolist(), top_feature[k].tolist(), share[k].tolist(), kinds, strict=True
            )
        ]
        views.append(
            NeuronView(
                neurons=neurons,
                monosemantic=kinds.count("monosemantic"),
                polysemantic=kinds.count("polysemantic"),
                dead=kinds.count("dead"),
                monosemantic_share=metrics.MONOSEMANTIC_SHARE,
                dead_strength=metrics.DEAD_STRENGTH,
            )
        )
    return views


@torch.no_grad()
def weight_metrics(
    request: ModelRequest,
    W: Tensor,
    b: Tensor,
    W_out: Tensor | None = None,
    gram: bool = True,
) -> list[dict[str, Any]]:
    """The weights and metrics of every instance (:class:`InstanceMetrics`' fields).

    Args:
        W: (n_instances, n_hidden, n_features); b: (n_instances, n_features); W_out:
            (n_instances, n_features, n_hidden) of the absolute-value model, else None.
        gram: compute WᵀW; False leaves it None.
    """
    W, b = W.detach().cpu(), b.detach().cpu()
    W_out = None if W_out is None else W_out.detach().cpu()
    columns: dict[str, list[Any]] = {
        "W": W.tolist(),
        "b": b.tolist(),
        "W_out": [None] * len(W) if W_out is None else W_out.tolist(),
        "gram": metrics.gram(W).tolist() if gram else [None] * len(W),
        "feature_norms": metrics.feature_norms(W).tolist(),
        "superposition": metrics.superposition(W).tolist(),
        "dimensionality": metrics.dimensionality(W).tolist(),
        "dimensions_per_feature": metrics.dimensions_per_feature(W).tolist(),
        "neurons": neuron_views(W, W_out) if request.hidden == "relu" else [None] * len(W),
    }
    return [{name: values[k] for name, values in columns.items()} for k in range(len(W))]


@torch.no_grad()
def instance_results(
    request: ModelRequest,
    W: Tensor,
    b: Tensor,
    loss: Tensor,
    gain: Tensor | None = None,
    W_out: Tensor | None = None,
) -> list[InstanceResult]:
    """Measure every instance (BACKGROUND.md "Metrics").

    Args:
        request: the normalised request the weights were trained for.
        W: (n_instances, n_hidden, n_features); b: (n_instances, n_features).
        loss: (n_instances,), L of each instance.
        gain: (n_instances,), L̃ measured with the loss (final results), or None (snapshots).
        W_out: (n_instances, n_features, n_hidden) of the absolute-value model, else None.
    """
    exact = exact_linear_losses(request, W.detach().cpu(), b.detach().cpu())
    losses = loss.detach().double().cpu().tolist()
    gains = [None] * len(W) if gain is None else gain.detach().double().cpu().tolist()
    importance = request.importances
    return [
        InstanceResult(
            feature_probability=p,
            importance=importance,
            theory_loss=theory_losses(request, k),
            loss=losses[k],
            exact_loss=exact[k],
            gain=gains[k],
            **fields,
        )
        for k, (p, fields) in enumerate(
            zip(request.feature_probabilities, weight_metrics(request, W, b, W_out), strict=True)
        )
    ]


@torch.no_grad()
def snapshot_summaries(steps: list[int], W: Tensor) -> list[SnapshotSummary]:
    """Dᵢ, ‖Wᵢ‖ and D* of every kept snapshot.

    Args:
        steps: the snapshots' steps.
        W: (len(steps), n_instances, n_hidden, n_features).
    """
    measured = metrics.per_feature_measures(W.detach().cpu())
    return [
        SnapshotSummary(
            index=k, step=step, **{name: values[k] for name, values in measured.items()}
        )
        for k, step in enumerate(steps)
    ]


def instances_without_gram(instances: list[InstanceResult]) -> list[InstanceResult]:
    """Copies with the n × n ``gram`` left out (null): for clients that asked for
    ``gram=false`` and compute WᵀW themselves from W."""
    return [i.model_copy(update={"gram": None}) for i in instances]


def without_gram(result: ModelResult) -> ModelResult:
    """The result with every instance's ``gram`` left out (:func:`instances_without_gram`)."""
    return result.model_copy(update={"instances": instances_without_gram(result.instances)})


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
        probability = torch.tensor(request.probability_rows, device=device)  # (I, n)
        importance = torch.tensor([request.importances] * request.n_instances, device=device)
        config = TrainConfig(
            steps=request.steps,
            batch_size=request.batch_size,
            lr=request.lr,
            n_restarts=request.n_restarts,
            snapshots=request.snapshots,
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
            hidden=request.hidden,
            absolute_value=request.task == "absolute_value",
            feature_sets=tuple(
                FeatureSet(s.kind, tuple(s.features)) for s in request.feature_sets or []
            ),
        )

    def snapshot(self, run: Run) -> dict[str, Any]:
        """The live message's fields: id, step, steps and the best restarts' metrics now."""
        W, b, loss, W_out = run.current()
        return {
            "id": self.id,
            "step": run.step,
            "steps": self.request.steps,
            "instances": instance_results(self.request, W, b, loss, W_out=W_out),
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
                self.request, trained.W, trained.b, trained.loss, trained.gain, trained.W_out
            ),
            snapshots=snapshot_summaries(trained.snapshot_steps, trained.snapshots["W"])
            if trained.snapshots
            else None,
        )

    def save(self, cache: ModelCache, result: ModelResult, trained: TrainResult) -> None:
        extra = {f"snapshot_{name}": value for name, value in trained.snapshots.items()}
        if trained.W_out is not None:
            extra["W_out"] = trained.W_out
        cache.save(result, trained.W, trained.b, extra)
