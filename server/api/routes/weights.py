"""GET /api/models/{model_id}/weights: a stored model's weights as a safetensors file."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from server.api.deps import ModelId, WorkerDep, not_found

router = APIRouter(prefix="/models", tags=["models"])


@router.get(
    "/{model_id}/weights",
    response_class=Response,
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "the safetensors file",
        },
        404: {"description": "no such model in the cache"},
    },
)
async def read_weights(model_id: ModelId, worker: WorkerDep) -> Response:
    """The cache entry's ``weights.safetensors``, as stored and verified against its checksum.

    Tensors, float32: ``W`` (n_instances, n_hidden, n_features), ``b`` (n_instances,
    n_features), the absolute-value model's ``W_out`` (n_instances, n_features, n_hidden), and
    for a model trained with ``snapshots`` > 0 ``snapshot_W``, ``snapshot_b`` (and
    ``snapshot_W_out``) with the snapshot index first. Read it with ``safetensors.numpy.load``
    (or ``safetensors.torch.load``). Served as an attachment ``model-<first 12 digits of the
    id>.safetensors``; 404 if the model is not stored (or its entry was unusable).
    """
    blob = await asyncio.to_thread(worker.cache.load_weights, model_id)
    if blob is None:
        raise not_found(f"model {model_id}")
    return Response(
        blob,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="model-{model_id[:12]}.safetensors"'
        },
    )
