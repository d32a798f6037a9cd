"""Double-descent sweeps as the API's results, and the task that lets the worker train one.

Henighan et al. (Anthropic, 2023), "Superposition, Memorization, and Double Descent": one
model request trained on finite training sets of several sizes T. Every T is its own model
request (``n_train = T``) with its own run (seed, initial weights, training set, evaluation
draws); the runs are joined into one (``tms.training.Run.joined``), so every T × instance ×
restart trains in one batch, and each T's model is exactly what ``POST /api/models`` trains for
its request. Each T's model is stored under its own id, the sweep under its own.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from server.api.schemas.double_descent import (
    KIND,
    DoubleDescentPoint,
    DoubleDescentRequest,
    DoubleDescentResult,
)
from server.api.schemas.models import ModelResult
from server.cache import ModelCache, Stored
from server.results import ModelTask
from server.tms import measures, metrics
from server.tms.training import Run, TrainResult, best_restarts


def _mean_data_dimensionality(W: Tensor, train_x: list[Tensor], hidden: str) -> list[float]:
    """Per instance, the mean over its T points of D_t (``metrics.data_dimensionality``).

    Args:
        W: (n_instances, n_hidden, n_features); train_x: per instance (n_features, T).
    """
    return [
        metrics.data_dimensionality(measures.hidden_vectors(w, x.cpu(), hidden)).mean().item()
        for w, x in zip(W.detach().cpu(), train_x, strict=True)
    ]


class DoubleDescentTask:
    """What the training worker needs to train a :class:`DoubleDescentRequest`.

    Args:
        request: any sweep request; it is normalised, so equal sweeps share one id.
    """

    def __init__(self, request: DoubleDescentRequest) -> None:
        self.request = request.normalised_sweep()
        self.id = self.request.sweep_id()
        self.models = [
            ModelTask(self.request.model_request(T)) for T in self.request.n_train_values
        ]
        self._results: list[tuple[ModelTask, ModelResult, TrainResult]] = []

    @property
    def instances(self) -> int:
        return self.request.n_instances

    def load(self, cache: ModelCache) -> DoubleDescentResult | None:
        return load_sweep(cache, self.id)

    def start(self, device: torch.device) -> Run:
        """Every T's run (each as its model request's), joined into one."""
        return Run.joined([task.start(device) for task in self.models])

    def snapshot(self, run: Run) -> dict[str, Any]:
        """The live message's fields: every T's train loss and dimensionalities now."""
        W, _, loss, _ = run.current()
        assert run.last_loss is not None
        train_x = run.train_points(best_restarts(run.last_loss, run.config.n_restarts).tolist())
        I = self.instances  # noqa: E741
        points = []
        for k, task in enumerate(self.models):
            rows = slice(k * I, (k + 1) * I)
            points.append(
                DoubleDescentPoint(
                    n_train=task.request.n_train or 0,
                    model_id=task.id,
                    train_loss=loss[rows].double().cpu().tolist(),
                    loss=None,
                    data_dimensionality=_mean_data_dimensionality(
                        W[rows], train_x[rows], task.request.hidden
                    ),
                    feature_dimensionality=metrics.dimensionality(W[rows].cpu()).tolist(),
                    feature_norms=metrics.feature_norms(W[rows].cpu()).tolist(),
                )
            )
        sweep = self._sweep(points, step=run.step, final=False, device=str(W.device), seconds=0)
        return {"id": self.id, "step": run.step, "steps": self.request.steps, "sweep": sweep}

    def _sweep(
        self,
        points: list[DoubleDescentPoint],
        *,
        step: int,
        final: bool,
        device: str,
        seconds: float,
    ) -> DoubleDescentResult:
        peak = None
        if final and all(p.loss for p in points):
            peak = max(points, key=lambda p: p.loss[0] if p.loss else 0.0).n_train
        return DoubleDescentResult(
            id=self.id,
            cached=False,
            request=self.request,
            device=device,
            train_seconds=seconds,
            step=step,
            steps=self.request.steps,
            final=final,
            points=points,
            peak_n_train=peak,
        )

    def split(self, trained: TrainResult) -> list[TrainResult]:
        """The joined result cut into each T's, as its own run would have returned it."""
        I = self.instances  # noqa: E741
        assert trained.train_loss is not None and trained.train_x is not None
        parts = []
        for k in range(len(self.models)):
            rows = slice(k * I, (k + 1) * I)
            parts.append(
                TrainResult(
                    W=trained.W[rows],
                    b=trained.b[rows],
                    loss=trained.loss[rows],
                    gain=trained.gain[rows],
                    history_steps=list(trained.history_steps),
                    loss_history=trained.loss_history[:, rows],
                    W_out=None if trained.W_out is None else trained.W_out[rows],
                    train_loss=trained.train_loss[rows],
                    train_x=trained.train_x[rows],
                    loss_estimate=trained.loss_estimate,
                    loss_stderr=None if trained.loss_stderr is None else trained.loss_stderr[rows],
                )
            )
        return parts

    def result(
        self, trained: TrainResult, device: torch.device, seconds: float
    ) -> DoubleDescentResult:
        """Every T's model result (kept for :meth:`save`) and the sweep's points."""
        self._results = []
        points = []
        for task, part in zip(self.models, self.split(trained), strict=True):
            model = task.result(part, device, seconds)
            self._results.append((task, model, part))
            points.append(
                DoubleDescentPoint(
                    n_train=task.request.n_train or 0,
                    model_id=task.id,
                    train_loss=[i.train_loss or 0.0 for i in model.instances],
                    loss=[i.loss for i in model.instances],
                    data_dimensionality=[
                        sum(i.data_dimensionality or [0.0])
                        / max(1, len(i.data_dimensionality or []))
                        for i in model.instances
                    ],
                    feature_dimensionality=[i.dimensionality for i in model.instances],
                    feature_norms=[i.feature_norms for i in model.instances],
                )
            )
        return self._sweep(
            points, step=self.request.steps, final=True, device=str(device), seconds=seconds
        )

    def save(self, cache: ModelCache, result: DoubleDescentResult, trained: TrainResult) -> None:
        """Store every T's model under its own id, then the sweep (without the features'
        dimensionalities and norms, recomputed from the stored W on load)."""
        results = self._results or [
            (task, task.result(part, torch.device(result.device), result.train_seconds), part)
            for task, part in zip(self.models, self.split(trained), strict=True)
        ]
        for task, model, part in results:
            task.save(cache, model, part)
        body = result.model_dump(mode="json", exclude={"cached"})
        for point in body["points"]:
            del point["feature_dimensionality"], point["feature_norms"]
        cache.write(self.id, KIND, body, {"W": trained.W, "b": trained.b})


def load_sweep(cache: ModelCache, sweep_id: str) -> DoubleDescentResult | None:
    """A stored sweep (``cached=True``), or None if absent, not a sweep, or unusable.

    Raises:
        ValueError: ``sweep_id`` is not 64 lowercase hex digits.
    """
    return cache.read(sweep_id, KIND, _decode)


def _decode(stored: Stored, sweep_id: str) -> DoubleDescentResult:
    """The sweep of a verified entry; ValueError if its parts do not fit together."""
    body, W = stored.result, stored.tensors["W"]
    request = DoubleDescentRequest.model_validate(body["request"])
    if request.sweep_id() != sweep_id:
        raise ValueError("request does not hash to the id")
    I, T = request.n_instances, len(request.n_train_values)  # noqa: E741
    if W.shape != (T * I, request.n_hidden, request.n_features):
        raise ValueError(f"weights have shape {tuple(W.shape)}")
    points = body["points"]
    if [p["n_train"] for p in points] != request.n_train_values:
        raise ValueError("the points are not the request's n_train_values")
    dimensionality, norms = metrics.dimensionality(W).tolist(), metrics.feature_norms(W).tolist()
    for k, point in enumerate(points):
        point["feature_dimensionality"] = dimensionality[k * I : (k + 1) * I]
        point["feature_norms"] = norms[k * I : (k + 1) * I]
    return DoubleDescentResult.model_validate(body | {"cached": True})
