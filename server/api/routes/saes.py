"""POST /api/saes, GET /api/saes/{id} and WS /api/saes/live: sparse autoencoders on a toy model.

The live socket speaks the models' protocol (server/api/live.py): send an SAERequest as JSON; if
the cache does not hold the toy model it trains first, with snapshots ``{"type": "snapshot",
"seq", "id", "step", "steps", "phase": "model", "sae": null}`` (the model's step and steps); then
``{..., "phase": "sae", "sae": SAEResult}`` while the SAE trains (``final`` false, measured on
4,096 fresh samples), then ``{"type": "done", "seq", "result"}``; errors as ``{"type": "error",
"seq", "detail"}``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, WebSocket

from server.api.deps import (
    ContentId,
    SettingsDep,
    WorkerDep,
    raise_for_limits,
    stored_or_404,
    train_or_503,
)
from server.api.limits import sae_limit_errors, sae_shape_errors
from server.api.live import LiveProtocol, serve_live
from server.api.schemas.models import ModelResult
from server.api.schemas.saes import SAEDoneMessage, SAERequest, SAEResult, SAESnapshotMessage
from server.api.settings import Limits
from server.jobs import JobBoard
from server.sae_results import SAETask, instance_errors, load_sae

router = APIRouter(prefix="/saes", tags=["sparse autoencoders"])


def model_checks(limits: Limits) -> Any:
    """The checks of an SAE request against its model once that is known: the instance, and
    the limits that depend on the model's shape."""

    def check(request: SAERequest, model: ModelResult) -> list[dict[str, Any]]:
        config = model.request.to_config()
        return instance_errors(request, model) or sae_shape_errors(
            request, limits, config.n_features, config.n_hidden
        )

    return check


async def sae_task(
    request: SAERequest, worker: JobBoard, limits: Limits, loc: tuple[str, ...] = ()
) -> SAETask:
    """The worker's task for ``request``, or a 422 naming the field: a limit exceeded, a
    ``model_id`` that is not in the cache, or an ``instance`` the model lacks.

    Args:
        loc: where the request sits in the body (``("sae",)`` for POST /api/jobs).
    """
    errors = sae_limit_errors(request, limits)
    check = model_checks(limits)
    model = None
    if not errors and request.model_id is not None:
        model = await asyncio.to_thread(worker.cache.load, request.model_id, False)
        if model is None:
            errors = [
                {
                    "type": "value_error",
                    "loc": ["model_id"],
                    "msg": f"no trained model has the id {request.model_id}; train it first "
                    "(POST /api/models) or give the model request as `model`",
                    "input": request.model_id,
                }
            ]
        else:
            errors = check(request, model)
    raise_for_limits([e | {"loc": [*loc, *e["loc"]]} for e in errors])
    return SAETask(request, model, check)


SAES = LiveProtocol.of(
    SAERequest,
    sae_limit_errors,
    SAETask,
    SAESnapshotMessage,
    SAEDoneMessage,
    bind=lambda request, settings: SAETask(request, check=model_checks(settings.limits)),
)


@router.post("", response_model=SAEResult)
async def create_sae(
    request: SAERequest, settings: SettingsDep, worker: WorkerDep, http: Request
) -> SAEResult:
    """Train an SAE on a toy model's hidden layer (training the model first if it is not
    cached), or load it from the cache (`cached: true`).

    422 names the field: a limit exceeded (``max_latents``, ``max_steps``, …, or the model's own
    under ``model``), both or neither of ``model`` and ``model_id``, ``k`` > ``n_latents``, an
    ``instance`` the model lacks, a ``model_id`` not in the cache. 503 if training failed, or with
    ``Retry-After`` if the queue is full.
    """
    task = await sae_task(request, worker, settings.limits)
    result: SAEResult = await train_or_503(worker, task, http)
    return result


@router.get("/{sae_id}", response_model=SAEResult)
async def read_sae(sae_id: ContentId, worker: WorkerDep) -> SAEResult:
    """A stored SAE by id; 404 if it was never trained (or its entry was unusable)."""
    return await stored_or_404(load_sae, worker.cache, sae_id, "SAE")


@router.websocket("/live")
async def live(websocket: WebSocket) -> None:
    """Stream a training SAE; see the module docstring for the protocol."""
    await serve_live(websocket, SAES)
