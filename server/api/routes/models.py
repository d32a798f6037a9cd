"""POST /api/models (train or load), GET /api/models/{model_id} and its weight snapshots."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from server.api.deps import (
    ModelId,
    SettingsDep,
    WorkerDep,
    load_model,
    model_task,
    not_found,
    query_error,
    train_or_503,
    within_limits,
)
from server.api.schemas.models import (
    MAX_SNAPSHOTS,
    InstanceMetrics,
    ModelRequest,
    ModelResult,
    WeightSnapshot,
)
from server.cache import MODEL_KIND
from server.results import weight_metrics

router = APIRouter(prefix="/models", tags=["models"])

GramQuery = Annotated[
    bool,
    Query(description="include each instance's n × n WᵀW; false leaves `gram` null (smaller)"),
]


@router.post("", response_model=ModelResult)
async def create_model(
    request: ModelRequest, settings: SettingsDep, worker: WorkerDep, http: Request
) -> ModelResult:
    """Train the requested toy model, or load it from the cache (`cached: true`).

    With ``init_from`` a trained model's id, training carries on from that model's weights.

    422 names the field and the limit for out-of-range requests, and ``init_from`` when it names
    no stored model or one that does not fit; 503 if training failed, or with
    a ``Retry-After`` header if the training queue is full (``max_queued_jobs``).
    """
    within_limits(request, settings)
    task = await model_task(request, worker.cache)
    result: ModelResult = await train_or_503(worker, task, http)
    return result


@router.get("/{model_id}", response_model=ModelResult)
async def read_model(model_id: ModelId, worker: WorkerDep, gram: GramQuery = True) -> ModelResult:
    """A stored result by id; 404 if it was never trained (or its entry was unusable)."""
    return await load_model(worker.cache, model_id, gram)


@router.get("/{model_id}/snapshots/{index}", response_model=WeightSnapshot)
async def read_snapshot(
    model_id: ModelId,
    index: Annotated[int, Path(ge=0, le=MAX_SNAPSHOTS, description="which snapshot, from 0")],
    worker: WorkerDep,
    gram: GramQuery = True,
) -> WeightSnapshot:
    """The weights and metrics of a stored model at one of its kept snapshots (replay).

    404 if the model is not stored; 422 if it kept no snapshots (``snapshots: 0``) or fewer than
    ``index + 1``.
    """
    result = await load_model(worker.cache, model_id)
    kept = result.snapshots or []
    if index >= len(kept):
        what = f"this model kept {len(kept)}" + (f" (0 to {len(kept) - 1})" if kept else "")
        raise query_error("index", f"index is {index}; {what}", index, where="path")
    tensors = await asyncio.to_thread(
        worker.cache.read, model_id, MODEL_KIND, lambda stored, _: stored.tensors
    )
    if tensors is None:  # removed since the load above
        raise not_found(f"model {model_id}")
    W_out = tensors.get("snapshot_W_out")
    fields = weight_metrics(
        result.request.to_config(),
        tensors["snapshot_W"][index],
        tensors["snapshot_b"][index],
        None if W_out is None else W_out[index],
        gram,
    )
    return WeightSnapshot(
        id=model_id,
        index=index,
        step=kept[index].step,
        steps=result.request.steps,
        instances=[InstanceMetrics(**f) for f in fields],
    )
