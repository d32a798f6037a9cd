"""GET /api/presets: the gallery's cards, each with the cache ids of what it trains."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from server.api.deps import WorkerDep
from server.claims import preset_claims
from server.presets import PresetInfo, preset_infos

router = APIRouter(tags=["presets"])


@router.get("/presets", response_model=list[PresetInfo])
async def read_presets(worker: WorkerDep) -> list[PresetInfo]:
    """Every preset of ``server/presets.json`` in the gallery's order: its title, paper section
    and link, teaching text, view, requests, ``model_ids`` (or ``diagram_id``, or ``sae_id``) to
    open its result from the cache with GET /api/models/{id} (or /api/phase-diagrams/{id}, or
    /api/saes/{id}; a power sweep's each m in ``sweep_model_ids``), whether each is ``cached``
    now, and ``claims``: the paper's claims beside the figures computed from the cached results
    (server.claims)."""

    def with_cached() -> list[PresetInfo]:
        answer = []
        for info in preset_infos():
            others = (info.diagram_id, info.sae_id, info.sweep_id)
            ids = info.model_ids + [i for i in others if i is not None]
            if info.power_sweep is not None:  # each m's model
                ids += info.sweep_model_ids
            cached = [worker.cache.path(i).is_dir() for i in ids]
            claims = preset_claims(info, worker.cache, ids)
            answer.append(info.model_copy(update={"cached": cached, "claims": claims}))
        return answer

    return await asyncio.to_thread(with_cached)
