"""POST /api/models (train or load) and GET /api/models/{model_id}."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path

from server.deps import SettingsDep, WorkerDep, not_found, train_or_503, within_limits
from server.results import ModelTask
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
    result: ModelResult = await train_or_503(worker, ModelTask(request))
    return result


@router.get("/{model_id}", response_model=ModelResult)
async def read_model(model_id: ModelId, worker: WorkerDep) -> ModelResult:
    """A stored result by id; 404 if it was never trained (or its entry was unusable)."""
    result = await asyncio.to_thread(worker.cache.load, model_id)
    if result is None:
        raise not_found(f"model {model_id}")
    return result
