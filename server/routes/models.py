"""POST /api/models (train or load) and GET /api/models/{model_id}."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from server.deps import SettingsDep, WorkerDep, not_found, within_limits
from server.jobs import QueueFull, TrainingFailed, train_or_load
from server.schemas import ModelRequest, ModelResult

router = APIRouter(prefix="/models", tags=["models"])

ModelId = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="sha256 of the request")]


@router.post("", response_model=ModelResult)
async def create_model(
    request: ModelRequest, settings: SettingsDep, worker: WorkerDep
) -> ModelResult:
    """Train the requested toy model, or load it from the cache (`cached: true`).

    422 names the field and the limit for out-of-range requests; 503 if training failed, or with
    a ``Retry-After`` header if the training queue is full (``max_queued_jobs``).
    """
    within_limits(request, settings)
    try:
        return await train_or_load(worker, request)
    except QueueFull as exc:
        raise HTTPException(
            status_code=503, detail=str(exc), headers={"Retry-After": str(exc.retry_after_s)}
        ) from exc
    except TrainingFailed as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc


@router.get("/{model_id}", response_model=ModelResult)
async def read_model(model_id: ModelId, worker: WorkerDep) -> ModelResult:
    """A stored result by id; 404 if it was never trained (or its entry was unusable)."""
    result = await asyncio.to_thread(worker.cache.load, model_id)
    if result is None:
        raise not_found(f"model {model_id}")
    return result
