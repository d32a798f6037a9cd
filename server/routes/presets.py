"""GET /api/presets: the gallery's cards, each with the cache ids of what it trains."""

from __future__ import annotations

from fastapi import APIRouter

from server.presets import PresetInfo, preset_infos

router = APIRouter(tags=["presets"])


@router.get("/presets", response_model=list[PresetInfo])
async def read_presets() -> list[PresetInfo]:
    """Every preset of ``server/presets.json`` in the gallery's order: its title, paper section
    and link, teaching text, view, requests, and ``model_ids`` (or ``diagram_id``) to open its
    result from the cache with GET /api/models/{id} (or /api/phase-diagrams/{id})."""
    return preset_infos()
