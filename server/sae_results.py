"""SAEs as the API's results, and the task that lets the training worker train one.

An SAE needs its toy model first: :meth:`SAETask.prepare` (awaited by ``jobs.train_or_load``
before the SAE's job is queued) trains the model through the worker, or loads it from the cache,
like any other client of that model would. The SAE itself then trains in the worker as an
:class:`~server.tms.sae.SAERun` (stepped in a :class:`~server.tms.sae.SAEBatch`).

Cache entries are of kind ``"sae"``: the tensors W_enc, b_enc, W_dec, b_dec and the model's
``features`` in weights.safetensors; the rest in meta.json, from which every comparison with the
features (cosines, matches, MMCS, MCC) is recomputed and checked on load.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import torch

from server.api.schemas.models import ModelResult
from server.api.schemas.saes import FeatureMatch, ResampleEvent, SAERequest, SAEResult
from server.cache import ModelCache, Stored
from server.jobs import Job, JobBoard, TrainingFailed, train_or_load
from server.results import ModelTask
from server.tms import sae_metrics
from server.tms.sae import SAERun, TrainedSAE

KIND = "sae"
# Errors in pydantic's shape for an SAE whose model is known (the configured limits' checks).
LimitCheck = Callable[[SAERequest, ModelResult], list[dict[str, Any]]]


class SAEModelMissing(TrainingFailed):
    """The request's ``model_id`` names no trained model in the cache."""


class SAEDiverged(TrainingFailed):
    """The SAE (or its model) has non-finite weights: nothing to show, nothing to store."""


class SAERefused(TrainingFailed):
    """The request does not fit its model (instance) or a limit, found once the model was known
    (the REST routes refuse these with a 422 before; a live socket gets this message)."""


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def comparisons(features: np.ndarray, W_dec: np.ndarray) -> dict[str, Any]:
    """Every field of :class:`SAEResult` that compares the decoder with the features.

    Args:
        features: (n_hidden, n_features), the toy model's W; W_dec: (n_hidden, n_latents).
    """
    cos = sae_metrics.cosines(features, W_dec)
    scored = sae_metrics.represented(features)
    matched = sae_metrics.matching(cos, scored)

    def schema(matches: list[sae_metrics.Match]) -> list[FeatureMatch]:
        return [FeatureMatch(feature=m.feature, latent=m.latent, cosine=m.cosine) for m in matches]

    return {
        "feature_norms": np.linalg.norm(features.astype(np.float64), axis=0).tolist(),
        "represented": scored,
        "cosines": cos.tolist(),
        "feature_matches": schema(sae_metrics.feature_matches(cos, scored)),
        "mmcs": _finite(sae_metrics.mmcs(cos, scored)),
        "matching": schema(matched),
        "mcc": _finite(sae_metrics.mcc(cos, scored)),
        "latent_order": sae_metrics.latent_order(matched, W_dec.shape[1]),
    }


def sae_result(
    request: SAERequest,
    trained: TrainedSAE,
    *,
    id: str,
    step: int,
    final: bool,
    device: str,
    seconds: float,
    eval_samples: int,
) -> SAEResult:
    """Assemble the API's result from a (trained or training) SAE.

    Raises:
        SAEDiverged: a weight or the loss is not finite (JSON has no NaN; the job fails with a
            message saying so).

    Args:
        request: the normalised request.
        trained: the SAE and its measures (``SAERun.result`` or ``SAERun.snapshot``).
        step: steps done; final: whether training is over; eval_samples: the fresh samples its
            measures come from.
    """
    m = trained.measures
    tensors = (trained.features, trained.W_enc, trained.b_enc, trained.W_dec, trained.b_dec)
    if not all(bool(t.isfinite().all()) for t in tensors) or not math.isfinite(float(m.loss)):
        raise SAEDiverged(
            "training diverged: the model's or the SAE's weights are not finite; try a smaller lr"
        )
    features = trained.features.numpy()
    frequency = m.latent_frequency.tolist()
    return SAEResult(
        id=id,
        model_id=request.resolved_model_id(),
        instance=trained.instance,
        cached=False,
        request=request,
        device=device,
        train_seconds=seconds,
        step=step,
        final=final,
        n_features=trained.model.n_features,
        n_hidden=trained.model.n_hidden,
        n_latents=trained.config.n_latents,
        features=trained.features.tolist(),
        feature_probability=list(trained.feature_probability),
        W_enc=trained.W_enc.tolist(),
        b_enc=trained.b_enc.tolist(),
        W_dec=trained.W_dec.tolist(),
        b_dec=trained.b_dec.tolist(),
        latent_frequency=frequency,
        dead_latents=sum(f == 0 for f in frequency),
        l0=float(m.l0),
        reconstruction_mse=float(m.reconstruction_mse),
        explained_variance=float(m.explained_variance),
        loss=float(m.loss),
        eval_samples=eval_samples,
        history_steps=list(trained.history_steps),
        loss_history=[_finite(v) or 0.0 for v in trained.loss_history],
        resample_steps=list(trained.resample_steps),
        resampled=[ResampleEvent(step=s, latents=ls) for s, ls in trained.resampled],
        **comparisons(features, trained.W_dec.numpy()),
    )


class SAETask:
    """What the worker needs to train an :class:`SAERequest`.

    Args:
        request: the request (its model as a request or an id).
        model: the model's result when the caller has it already (the REST routes load it to
            check the request); else :meth:`prepare` gets it.
        check: the configured limits' checks once the model is known (None: none).
    """

    def __init__(
        self,
        request: SAERequest,
        model: ModelResult | None = None,
        check: LimitCheck | None = None,
    ) -> None:
        self.request = request
        self.normalised = request.normalised()
        self.id = request.sae_id()
        self.model = model
        self.check = check

    async def prepare(
        self,
        worker: JobBoard,
        on_job: Callable[[Job], None] | None = None,
        on_snapshot: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        """Get the toy model (trained through the worker, or from the cache) and check the
        request against it.

        Args:
            on_job: passed on to the model's training (a job follows the model's steps first).
            on_snapshot: if given, awaited with ``{"id", "step", "steps", "phase": "model",
                "sae": None}`` (the SAE's id, the model's step and steps) while the model trains.

        Raises:
            SAEModelMissing: ``model_id`` is not in the cache.
            SAERefused: the instance is out of range, or a limit is exceeded.
            Whatever training the model raises (TrainingFailed, QueueFull, …).
        """
        if self.model is None:
            if self.request.model is not None:
                progress = None
                if on_snapshot is not None:
                    forward = on_snapshot

                    async def progress(fields: dict[str, Any]) -> None:
                        await forward(
                            {"id": self.id, "step": fields["step"], "steps": fields["steps"],
                             "phase": "model", "sae": None}
                        )  # fmt: skip

                self.model = await train_or_load(
                    worker, ModelTask(self.request.model), progress, on_job=on_job
                )
            else:
                model_id = self.request.resolved_model_id()
                self.model = await asyncio.to_thread(worker.cache.load, model_id, False)
                if self.model is None:
                    raise SAEModelMissing(
                        f"model_id {model_id}: no trained model has this id; train it first "
                        "(POST /api/models) or give the model request as `model`"
                    )
        errors = instance_errors(self.request, self.model)
        if not errors and self.check is not None:
            errors = self.check(self.request, self.model)
        if errors:
            raise SAERefused("; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in errors))

    def load(self, cache: ModelCache) -> SAEResult | None:
        return load_sae(cache, self.id)

    def start(self, device: torch.device) -> SAERun:
        """The SAE's run on the prepared model's instance."""
        if self.model is None:
            raise RuntimeError("SAETask.prepare must run before start")
        instance = self.request.instance
        W = torch.tensor(self.model.instances[instance].W, dtype=torch.float32)
        config = self.model.request.to_config()
        return SAERun(config, W, instance, self.request.to_config(), device)

    def snapshot(self, run: SAERun) -> dict[str, Any]:
        """The live message's fields: the SAE of lowest latest batch loss, measured now."""
        partial = sae_result(
            self.normalised, run.snapshot(),
            id=self.id, step=run.step, final=False, device=str(run.device), seconds=0.0,
            eval_samples=run.snapshot_samples,
        )  # fmt: skip
        return {
            "id": self.id,
            "step": run.step,
            "steps": self.request.steps,
            "phase": "sae",
            "sae": partial,
        }

    def result(self, trained: TrainedSAE, device: torch.device, seconds: float) -> SAEResult:
        return sae_result(
            self.normalised, trained,
            id=self.id, step=self.request.steps, final=True, device=str(device), seconds=seconds,
            eval_samples=trained.config.n_eval_samples,
        )  # fmt: skip

    def save(self, cache: ModelCache, result: SAEResult, trained: TrainedSAE) -> None:
        save_sae(cache, result, trained)


def instance_errors(request: SAERequest, model: ModelResult) -> list[dict[str, Any]]:
    """An error naming ``instance`` if the model has no such instance, else none."""
    count = len(model.instances)
    if request.instance < count:
        return []
    return [
        {
            "type": "value_error",
            "loc": ["instance"],
            "msg": f"instance is {request.instance}; the model has {count} instance(s), "
            f"0..{count - 1}",
            "input": request.instance,
        }
    ]


# -- the cache -----------------------------------------------------------------------------------
TENSORS = ("W_enc", "b_enc", "W_dec", "b_dec", "features")
DERIVED = (
    "feature_norms", "represented", "cosines", "feature_matches", "mmcs", "matching", "mcc",
    "latent_order",
)  # fmt: skip


def save_sae(cache: ModelCache, result: SAEResult, trained: TrainedSAE) -> None:
    """Store an SAE: its tensors (and its model's features) as safetensors, the rest as JSON
    without what is recomputed from them on load."""
    body = result.model_dump(mode="json", exclude={"cached", *TENSORS, *DERIVED})
    tensors = {name: getattr(trained, name) for name in TENSORS}
    cache.write(result.id, KIND, body, tensors)


def load_sae(cache: ModelCache, sae_id: str) -> SAEResult | None:
    """A stored SAE (``cached=True``), or None if absent, not an SAE, or unusable.

    Raises:
        ValueError: ``sae_id`` is not 64 lowercase hex digits.
    """
    return cache.read(sae_id, KIND, _decode)


def _decode(stored: Stored, sae_id: str) -> SAEResult:
    """The SAE of a verified entry; ValueError if its parts do not fit together."""
    body, tensors = stored.result, stored.tensors
    request = SAERequest.model_validate(body["request"])
    if request.sae_id() != sae_id:
        raise ValueError("request does not hash to the id")
    n, m, L = body["n_features"], body["n_hidden"], request.n_latents
    shapes = {"W_enc": (L, m), "b_enc": (L,), "W_dec": (m, L), "b_dec": (m,), "features": (m, n)}
    if set(tensors) != set(shapes):
        raise ValueError(f"tensors {sorted(tensors)}, expected {sorted(shapes)}")
    for name, shape in shapes.items():
        if tuple(tensors[name].shape) != shape:
            raise ValueError(f"{name} has shape {tuple(tensors[name].shape)}, not {shape}")
    if len(body["latent_frequency"]) != L or len(body["feature_probability"]) != n:
        raise ValueError("the stored measures do not fit the tensors")
    derived = comparisons(tensors["features"].numpy(), tensors["W_dec"].numpy())
    weights = {name: tensors[name].tolist() for name in TENSORS}
    return SAEResult.model_validate(body | weights | derived | {"cached": True})
