"""Trained models as the API's results: each instance's metrics as plain lists, and the task that
lets the training worker train a :class:`ModelRequest`.

The numbers come from the core (``server.tms``: ``metrics`` and ``measures``); this module only
turns them into the API's schemas.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from server.api.schemas.models import (
    InstanceResult,
    LossEstimate,
    LossPoint,
    ModelRequest,
    ModelResult,
    NeuronView,
    SnapshotSummary,
)
from server.cache import MODEL_KIND, ModelCache
from server.tms import measures, metrics
from server.tms.config import ModelConfig
from server.tms.training import InitialWeights, Run, TrainResult, best_restarts
from server.tms.training import LossEstimate as MeasuredHow


def neuron_views(W: Tensor, W_out: Tensor | None) -> list[NeuronView]:
    """The neuron view of every instance (``measures.neuron_views``) as the API's schema."""
    return [
        NeuronView.model_validate(dataclasses.asdict(view))
        for view in measures.neuron_views(W, W_out)
    ]


@torch.no_grad()
def weight_metrics(
    config: ModelConfig,
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
        "neurons": neuron_views(W, W_out) if config.hidden == "relu" else [None] * len(W),
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
    train_loss: Tensor | None = None,
    train_x: list[Tensor] | None = None,
    selection_loss: Tensor | None = None,
    loss_stderr: Tensor | None = None,
) -> list[InstanceResult]:
    """Measure every instance (the paper's metrics, theory losses and the exact loss).

    Args:
        request: the normalised request the weights were trained for.
        W: (n_instances, n_hidden, n_features); b: (n_instances, n_features).
        loss: (n_instances,), L of each instance.
        gain: (n_instances,), L̃ measured with the loss (final results), or None (snapshots).
        W_out: (n_instances, n_features, n_hidden) of the absolute-value model, else None.
        train_loss: (n_instances,), L on each instance's training set (``n_train``), else None.
        train_x: each instance's training points (n_features, T) (``n_train``), else None:
            they give ``hidden_train`` and ``data_dimensionality``.
        selection_loss: (n_instances,), the kept restart's L on the inputs that ranked the
            restarts (``TrainResult.selection_loss``), else None.
        loss_stderr: (n_instances,), the standard error of ``loss``, else None.
    """
    config = request.to_config()
    finite = finite_fields(config, W, train_loss, train_x)
    exact = measures.exact_linear_losses(config, W, b)
    losses = loss.detach().double().cpu().tolist()
    gains = [None] * len(W) if gain is None else gain.detach().double().cpu().tolist()
    picked = [None] * len(W) if selection_loss is None else _floats(selection_loss)
    stderrs = [None] * len(W) if loss_stderr is None else _floats(loss_stderr)
    importance = config.importances
    return [
        InstanceResult(
            feature_probability=p,
            importance=importance,
            theory_loss=measures.theory_losses(config, k),
            loss=losses[k],
            exact_loss=exact[k],
            gain=gains[k],
            selection_loss=picked[k],
            loss_stderr=stderrs[k],
            **finite[k],
            **fields,
        )
        for k, (p, fields) in enumerate(
            zip(config.feature_probabilities, weight_metrics(config, W, b, W_out), strict=True)
        )
    ]


def _floats(values: Tensor) -> list[float]:
    return values.detach().double().cpu().tolist()


@torch.no_grad()
def finite_fields(
    config: ModelConfig, W: Tensor, train_loss: Tensor | None, train_x: list[Tensor] | None
) -> list[dict[str, Any]]:
    """Each instance's ``train_loss``, ``hidden_train`` [T][m] and ``data_dimensionality`` [T]
    (Henighan et al. 2023), or nothing (empty dicts) for a model without a training set.

    Args:
        W: (n_instances, n_hidden, n_features); train_loss: (n_instances,); train_x: per
            instance (n_features, T).
    """
    if train_x is None or train_loss is None:
        return [{} for _ in range(len(W))]
    W = W.detach().cpu()
    losses = train_loss.detach().double().cpu().tolist()
    fields = []
    for k, x in enumerate(train_x):
        h = measures.hidden_vectors(W[k], x.detach().cpu(), config.hidden)  # (m, T)
        fields.append(
            {
                "train_loss": losses[k],
                "hidden_train": h.T.tolist(),
                "data_dimensionality": metrics.data_dimensionality(h).tolist(),
            }
        )
    return fields


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


def loss_estimate(estimate: MeasuredHow | None) -> LossEstimate | None:
    """The core's :class:`~server.tms.training.LossEstimate` as the API's schema."""
    return None if estimate is None else LossEstimate.model_validate(dataclasses.asdict(estimate))


class StartingPointError(ValueError):
    """``init_from`` names no usable starting point; the message says why (a 422 names it)."""


# What a starting point must share with the model that carries on from it.
MUST_MATCH = ("n_features", "n_hidden", "activation", "hidden_activation", "task")


def check_starting_point(request: ModelRequest, start: ModelRequest) -> None:
    """Whether a model trained for ``start`` can seed ``request`` (both normalised).

    Raises:
        StartingPointError: a field of :data:`MUST_MATCH` differs, or the instance counts do
            (a one-instance model seeds any count); the message lists every difference.
    """
    differences = [
        f"{name} {getattr(start, name)} ≠ {getattr(request, name)}"
        for name in MUST_MATCH
        if getattr(start, name) != getattr(request, name)
    ]
    if start.n_instances not in (1, request.n_instances):
        differences.append(f"instances {start.n_instances} ≠ {request.n_instances}")
    if differences:
        raise StartingPointError(
            "init_from's model does not fit this request: " + "; ".join(differences)
        )


def stored_starting_point(request: ModelRequest, cache: ModelCache) -> InitialWeights | None:
    """The weights ``request.init_from`` names in the cache (None for a fresh start). Reads
    the disk: call it off the event loop.

    Raises:
        StartingPointError: init_from is "current" or a snapshot's (those exist only on the live
            socket that made them), no such model is stored, or it does not fit the request.
    """
    name = request.init_from
    if name is None:
        return None
    if name == "current" or name.startswith("snapshot-"):
        raise StartingPointError(
            f'init_from "{name}" exists only on a live socket (WS /api/models/live): send '
            "there, or give a trained model's id"
        )
    start = cache.load(name, gram=False)
    tensors = cache.read(name, MODEL_KIND, lambda stored, _: stored.tensors)
    if start is None or tensors is None:
        raise StartingPointError(f"init_from: no trained model {name} is stored on this server")
    check_starting_point(request.normalised(), start.request)
    return InitialWeights(tensors["W"], tensors["b"], tensors.get("W_out"))


class ModelTask:
    """What the worker needs to train a :class:`ModelRequest`: its run, snapshots and result.

    Args:
        request: any request; it is normalised, so equal models share one id.
        init: the weights ``request.init_from`` names (:func:`stored_starting_point`, or the
            live socket's own); required when it names any.

    Raises:
        ValueError: ``init`` is missing for an ``init_from``, or given without one.
    """

    def __init__(self, request: ModelRequest, init: InitialWeights | None = None) -> None:
        self.request = request.normalised()
        self.id = self.request.model_id()
        if (init is None) != (self.request.init_from is None):
            raise ValueError("a ModelTask takes initial weights exactly when init_from is set")
        self.init = init

    def load(self, cache: ModelCache) -> ModelResult | None:
        return cache.load(self.id)

    def start(self, device: torch.device) -> Run:
        """The request's run: the same one ``server.tms.train`` trains for its configs."""
        return Run(self.request.to_config(), self.request.train_config(), device, init=self.init)

    def snapshot(self, run: Run) -> dict[str, Any]:
        """The live message's fields: id, step, steps and the best restarts' metrics now."""
        W, b, loss, W_out = run.current()
        train_x = None
        if run.finite:  # the batch loss is the loss on the training set
            assert run.last_loss is not None
            train_x = run.train_points(best_restarts(run.last_loss, run.config.n_restarts).tolist())
        return {
            "id": self.id,
            "step": run.step,
            "steps": self.request.steps,
            "instances": instance_results(
                self.request, W, b, loss, W_out=W_out, train_loss=loss, train_x=train_x
            ),
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
                    trained.history_steps, trained.loss_history.tolist(), strict=True
                )
            ],
            instances=instance_results(
                self.request,
                trained.W,
                trained.b,
                trained.loss,
                trained.gain,
                trained.W_out,
                trained.train_loss,
                trained.train_x,
                trained.selection_loss,
                trained.loss_stderr,
            ),
            snapshots=snapshot_summaries(trained.snapshot_steps, trained.snapshots["W"])
            if trained.snapshots
            else None,
            loss_estimate=loss_estimate(trained.loss_estimate),
        )

    def save(self, cache: ModelCache, result: ModelResult, trained: TrainResult) -> None:
        extra = {f"snapshot_{name}": value for name, value in trained.snapshots.items()}
        if trained.W_out is not None:
            extra["W_out"] = trained.W_out
        cache.save(result, trained.W, trained.b, extra)
