"""WS /api/models/live: send a ModelRequest, watch it train (the protocol: ``server.api.live``)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from server.api.live import MODELS, serve_live

router = APIRouter(tags=["models"])


@router.websocket("/models/live")
async def live(websocket: WebSocket) -> None:
    """Stream snapshots of a training model; see ``server.api.live`` for the protocol."""
    await serve_live(websocket, MODELS)
