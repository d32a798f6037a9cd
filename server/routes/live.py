"""WS /api/models/live: send a ModelRequest, watch it train.

Protocol. The server numbers the requests it receives on a socket 1, 2, 3, … (``seq``) and tags
every message with the seq it answers:

- ``{"type": "snapshot", "seq", "id", "step", "steps", "instances": [...]}``, at most about
  20 per second while training;
- ``{"type": "done", "seq", "result": ModelResult}``, at the end, or at once when cached;
- ``{"type": "error", "seq", "detail"}``, for a bad request, a failed training or a full
  training queue (the detail says when to retry); the socket stays open.

A new message cancels the request still running on the socket, within one snapshot interval;
a message that asks for the very model already training joins it instead (its messages then carry
the new seq).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

from server.deps import get_settings, get_worker, parse_request_text
from server.jobs import QueueFull, TrainingFailed, train_or_load
from server.schemas import DoneMessage, ErrorMessage, ModelRequest, SnapshotMessage

router = APIRouter(tags=["models"])


class LiveSession:
    """One socket: a send lock, and at most one running request.

    ``seq`` is the latest request's number; the running request tags its messages with it, so a
    request that repeats the running one (a slider moved away and back, a client reconnecting)
    joins it instead of starting again.
    """

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.settings = get_settings(websocket)
        self.worker = get_worker(websocket)
        self._send_lock = asyncio.Lock()
        self.seq = 0
        self.task: asyncio.Task[None] | None = None
        self.running_id = ""

    async def send(self, message: BaseModel) -> None:
        async with self._send_lock:
            await self.websocket.send_text(message.model_dump_json())

    async def cancel_running(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
            self.task = None

    async def run(self, request: ModelRequest) -> None:
        async def on_snapshot(payload: dict[str, Any]) -> None:
            await self.send(SnapshotMessage(seq=self.seq, **payload))

        try:
            result = await train_or_load(self.worker, request, on_snapshot)
        except (TrainingFailed, QueueFull) as exc:
            await self.send(ErrorMessage(seq=self.seq, detail=str(exc)))
            return
        await self.send(DoneMessage(seq=self.seq, result=result))

    async def handle(self, message: Mapping[str, Any]) -> None:
        """Answer one client message: the latest message always wins."""
        text = message.get("text")
        parsed: ModelRequest | str | list[dict[str, Any]]
        if text is None:
            parsed = "send a ModelRequest as a JSON text frame"
        else:
            parsed = parse_request_text(text, self.settings)
        if isinstance(parsed, ModelRequest):
            model_id = parsed.model_id()
            if self.task is not None and not self.task.done() and model_id == self.running_id:
                self.seq += 1  # the running job already trains this model: answer as the new seq
                return
        await self.cancel_running()
        self.seq += 1
        if not isinstance(parsed, ModelRequest):
            await self.send(ErrorMessage(seq=self.seq, detail=parsed))
            return
        self.running_id = model_id
        self.task = asyncio.create_task(self.run(parsed))


@router.websocket("/models/live")
async def live(websocket: WebSocket) -> None:
    """Stream snapshots of a training model; see the module docstring for the protocol."""
    await websocket.accept()
    session = LiveSession(websocket)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            await session.handle(message)
    except WebSocketDisconnect:
        pass
    finally:
        await session.cancel_running()
