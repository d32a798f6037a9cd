"""WS /api/models/live: send a ModelRequest, watch it train.

Protocol. The server numbers the requests it receives on a socket 1, 2, 3, … (``seq``) and tags
every message with the seq it answers:

- ``{"type": "snapshot", "seq", "id", "step", "steps", "instances": [...]}``, at most about
  20 per second while training;
- ``{"type": "done", "seq", "result": ModelResult}``, at the end, or at once when cached;
- ``{"type": "error", "seq", "detail"}``, for a bad request or a failed training; the socket
  stays open.

A new message cancels the request still running on the socket, within one snapshot interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

from server.deps import get_settings, get_worker, parse_request_text
from server.jobs import TrainingFailed, train_or_load
from server.schemas import DoneMessage, ErrorMessage, ModelRequest, SnapshotMessage

router = APIRouter(tags=["models"])


class LiveSession:
    """One socket: a send lock, and at most one running request."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.settings = get_settings(websocket)
        self.worker = get_worker(websocket)
        self._send_lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None

    async def send(self, message: BaseModel) -> None:
        async with self._send_lock:
            await self.websocket.send_text(message.model_dump_json())

    async def cancel_running(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
            self.task = None

    async def run(self, seq: int, request: ModelRequest) -> None:
        async def on_snapshot(payload: dict[str, Any]) -> None:
            await self.send(SnapshotMessage(seq=seq, **payload))

        try:
            result = await train_or_load(self.worker, request, on_snapshot)
        except TrainingFailed as exc:
            await self.send(ErrorMessage(seq=seq, detail=str(exc)))
            return
        await self.send(DoneMessage(seq=seq, result=result))

    async def handle(self, seq: int, message: dict[str, Any]) -> None:
        await self.cancel_running()
        text = message.get("text")
        if text is None:
            detail = "send a ModelRequest as a JSON text frame"
            await self.send(ErrorMessage(seq=seq, detail=detail))
            return
        parsed = parse_request_text(text, self.settings)
        if isinstance(parsed, list):
            await self.send(ErrorMessage(seq=seq, detail=parsed))
            return
        self.task = asyncio.create_task(self.run(seq, parsed))


@router.websocket("/models/live")
async def live(websocket: WebSocket) -> None:
    """Stream snapshots of a training model; see the module docstring for the protocol."""
    await websocket.accept()
    session = LiveSession(websocket)
    seq = 0
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            seq += 1
            await session.handle(seq, message)
    except WebSocketDisconnect:
        pass
    finally:
        await session.cancel_running()
