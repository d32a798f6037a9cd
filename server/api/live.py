"""The live protocol that WS /api/models/live, /api/phase-diagrams/live and /api/saes/live
share: send a request, watch it train.

Protocol. The server numbers the requests it receives on a socket 1, 2, 3, … (``seq``) and tags
every message with the seq it answers:

- ``{"type": "snapshot", "seq", "id", "step", "steps", "instances": [...]}``, at most about
  20 per second while training;
- ``{"type": "done", "seq", "result": ModelResult}``, at the end, or at once when cached;
- ``{"type": "error", "seq", "detail"}``, for a bad request, a message over
  ``max_message_bytes``, a failed training or a full training queue (the detail says when to
  retry); the socket stays open. A frame over ``WS_FRAME_FACTOR`` × ``max_message_bytes`` is cut
  off by the protocol layer, which closes the socket with code 1009.

A request may carry ``"retrain": true`` to train afresh even when the result is cached (what
the pages' "Recompute" and "Retrain live" buttons send); the stored entry is kept. A model request
may carry ``"gram": false`` to leave every instance's n × n WᵀW out of its answers (the gallery
does, for its 200-feature presets, and computes WᵀW from W where it draws it).

A new message cancels the request still running on the socket, within one snapshot interval;
a message that asks for the very model already training joins it instead (its messages then carry
the new seq).

Training that carries on: a model request's ``"init_from": "current"`` starts from the weights
of the socket's latest snapshot or result (what the page shows), so a slider dragged while the
model trains morphs it from one geometry into the next. A result's request then names that
start: the result's id, or ``"snapshot-<sha256 of the weights>"`` for a snapshot.

Controls, beside requests (each answered by ``{"type": "control", "seq", "control", "applied",
"paused", "steps_per_second", "detail"}``; ``applied`` is false when nothing was training):

- ``{"type": "pause"}``: the training stops where it is, and one snapshot of that point
  (``"paused": true``) follows;
- ``{"type": "resume"}``: it goes on;
- ``{"type": "step", "steps": k}``: it trains k more steps, then pauses (and sends a snapshot);
- ``{"type": "speed", "steps_per_second": s}``: at most s steps a second for this request and the
  socket's later ones; ``null``: as fast as the device goes.

A new request starts running (never paused). A paused training keeps its place in the queue
(``max_queued_jobs``) until it ends, the socket moves on or closes; every client of that same
training sees the pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from fastapi import WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ValidationError

from server.api.deps import (
    LimitErrors,
    live_sockets_of,
    parse_text,
    settings_of,
    starting_point_error,
    worker_of,
)
from server.api.errors import public_errors
from server.api.limits import LimitChecker, limit_errors
from server.api.schemas.live import (
    CONTROL,
    CONTROL_TYPES,
    Control,
    ControlMessage,
    DoneMessage,
    ErrorMessage,
    PauseControl,
    ResumeControl,
    SnapshotMessage,
    StepControl,
)
from server.api.schemas.models import InstanceResult, ModelRequest, ModelResult
from server.api.settings import Limits
from server.jobs import Job, QueueFull, ServerStopping, Task, TrainingFailed, train_or_load
from server.results import (
    ModelTask,
    StartingPointError,
    check_starting_point,
    instances_without_gram,
    stored_starting_point,
    without_gram,
)
from server.tms.training import InitialWeights

SERVICE_RESTART = 1012  # WebSocket close code: the server is stopping; try again later


@dataclass(frozen=True)
class LiveProtocol:
    """What differs between live resources (models, phase diagrams); the protocol is the same.

    Attributes:
        expects: the request type's name, for the error on a non-text frame.
        parse: JSON text and settings → the request, or errors in pydantic's shape.
        task: request → the worker's task for it.
        snapshot: (seq, the task's snapshot fields) → the message.
        done: (seq, result) → the message.
        bind: (request, the server's settings) → the task, for a resource whose task needs the
            settings (an SAE checks its limits once its model is known); None uses ``task``.
    """

    expects: str
    parse: Callable[[str, Any], BaseModel | list[dict[str, Any]]]
    task: Callable[[Any], Task]
    snapshot: Callable[[int, dict[str, Any]], BaseModel]
    done: Callable[[int, Any], BaseModel]
    bind: Callable[[Any, Any], Task] | None = None

    @classmethod
    def of(
        cls,
        request: type[BaseModel],
        limit_errors: LimitErrors,
        task: Callable[[Any], Task],
        snapshot: type[BaseModel],
        done: type[BaseModel],
        bind: Callable[[Any, Any], Task] | None = None,
    ) -> LiveProtocol:
        """The protocol of the live resource whose requests are ``request``s, checked against the
        configured limits by ``limit_errors``, and whose messages are ``snapshot(seq, **fields)``
        and ``done(seq, result)``."""
        return cls(
            expects=request.__name__,
            parse=lambda text, settings: parse_text(text, request, settings, limit_errors),
            task=task,
            snapshot=lambda seq, fields: snapshot(seq=seq, **fields),
            done=lambda seq, result: done(seq=seq, result=result),
            bind=bind,
        )


MODELS = LiveProtocol.of(ModelRequest, limit_errors, ModelTask, SnapshotMessage, DoneMessage)


def message_size_errors(text: str, limits: Limits) -> list[dict[str, Any]]:
    """An error naming ``max_message_bytes`` if the message is larger, else none."""
    limit = LimitChecker(limits)
    if len(text) * 4 > limits.max_message_bytes:  # else it fits whatever its characters
        limit.check("message", len(text.encode()), "max_message_bytes", "the message's bytes")
    return limit.errors


# The message options besides the request: "retrain": true trains afresh although the result is
# cached; "gram": false leaves every instance's n × n WᵀW out of the answers (null).
OPTIONS = {"retrain": False, "gram": True}


def control_of(text: str) -> Control | list[dict[str, Any]] | None:
    """The control a message holds (or its errors), or None if it is no control (a request)."""
    if not any(f'"{name}"' in text for name in CONTROL_TYPES):  # a request: no parse at all
        return None
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("type") not in CONTROL_TYPES:
        return None
    try:
        return CONTROL.validate_python(body)
    except ValidationError as exc:
        return public_errors(json.loads(exc.json(include_url=False)))


@dataclass(frozen=True)
class Latest:
    """The weights a socket last showed: "current" for its next request.

    Attributes:
        request: the (normalised) request they were trained for.
        instances: each instance's weights and metrics, as sent.
        result_id: the model's id when these are a finished result's weights, else None.
    """

    request: ModelRequest
    instances: list[InstanceResult]
    result_id: str | None

    def weights(self) -> tuple[str, InitialWeights]:
        """(the start's name, its weights)."""
        W = torch.tensor([i.W for i in self.instances], dtype=torch.float32)
        b = torch.tensor([i.b for i in self.instances], dtype=torch.float32)
        W_out = (
            torch.tensor([i.W_out for i in self.instances], dtype=torch.float32)
            if self.instances and self.instances[0].W_out is not None
            else None
        )
        if self.result_id is not None:
            return self.result_id, InitialWeights(W, b, W_out)
        digest = hashlib.sha256()
        for tensor in (W, b) if W_out is None else (W, b, W_out):
            digest.update(tensor.numpy().tobytes())
        return f"snapshot-{digest.hexdigest()}", InitialWeights(W, b, W_out)


def split_options(text: str) -> tuple[str, dict[str, bool]]:
    """Take the optional ``"retrain"`` and ``"gram"`` flags out of a request's JSON text.

    Returns:
        The text without them (unchanged unless it is a JSON object holding them as booleans, so
        that the request's parser refuses any other value) and every option's value.
    """
    if not any(f'"{name}"' in text for name in OPTIONS):  # the usual request: no second parse
        return text, dict(OPTIONS)
    try:
        body = json.loads(text)
    except ValueError:
        return text, dict(OPTIONS)
    if not isinstance(body, dict):
        return text, dict(OPTIONS)
    options = dict(OPTIONS)
    for name in OPTIONS:  # a value that is not true or false is refused as a field
        if isinstance(body.get(name), bool):
            options[name] = body.pop(name)
    return json.dumps(body), options


class LiveSession:
    """One socket: a send lock, and at most one running request.

    ``seq`` is the latest request's number; the running request tags its messages with it, so a
    request that repeats the running one (a slider moved away and back, a client reconnecting)
    joins it instead of starting again.
    """

    def __init__(self, websocket: WebSocket, protocol: LiveProtocol) -> None:
        self.websocket = websocket
        self.protocol = protocol
        self.settings = settings_of(websocket)
        self.worker = worker_of(websocket)
        self._send_lock = asyncio.Lock()
        self.seq = 0
        self.running: asyncio.Task[None] | None = None  # the request being answered
        self.running_id = ""
        self.job: Job | None = None  # the worker's job of the running request, once it has one
        self.steps_per_second: float | None = None  # the socket's pace (speed control)
        self.latest: Latest | None = None  # the model weights last sent: "current"

    async def send(self, message: BaseModel) -> None:
        async with self._send_lock:
            await self.websocket.send_text(message.model_dump_json())

    async def cancel_running(self) -> None:
        if self.running is not None:
            self.running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.running
            self.running = None

    def _on_job(self, job: Job) -> None:
        """The running request's worker job: controls act on it; the socket's pace applies."""
        self.job = job
        if self.steps_per_second is not None:
            self.worker.control(job, steps_per_second=self.steps_per_second)

    async def run(self, task: Task, options: dict[str, bool]) -> None:
        gram = options["gram"]
        model = task.request if isinstance(task, ModelTask) else None

        async def on_snapshot(fields: dict[str, Any]) -> None:
            if model is not None and "instances" in fields:
                self.latest = Latest(model, fields["instances"], None)
            if not gram and "instances" in fields:
                fields = fields | {"instances": instances_without_gram(fields["instances"])}
            await self.send(self.protocol.snapshot(self.seq, fields))

        try:
            use_cache = not options["retrain"]
            result = await train_or_load(
                self.worker, task, on_snapshot, use_cache=use_cache, on_job=self._on_job
            )
        except ServerStopping as exc:
            await self.websocket.close(SERVICE_RESTART, str(exc))
            return
        except (TrainingFailed, QueueFull) as exc:
            await self.send(ErrorMessage(seq=self.seq, detail=str(exc)))
            return
        finally:
            self.job = None
        if model is not None and isinstance(result, ModelResult):
            self.latest = Latest(model, result.instances, result.id)
        if not gram and isinstance(result, ModelResult):
            result = without_gram(result)
        await self.send(self.protocol.done(self.seq, result))

    async def control(self, control: Control) -> None:
        """Apply a control to the running training (and the socket's pace), and answer it."""
        job = self.job if self.running is not None and not self.running.done() else None
        if control.type == "speed":
            self.steps_per_second = control.steps_per_second
            if job is not None:
                self.worker.control(job, steps_per_second=control.steps_per_second)
        elif job is not None:
            if isinstance(control, PauseControl):
                self.worker.control(job, paused=True)
            elif isinstance(control, ResumeControl):
                self.worker.control(job, paused=False)
            elif isinstance(control, StepControl):
                self.worker.control(job, paused=False, step_budget=control.steps)
        applied = job is not None or control.type == "speed"
        await self.send(
            ControlMessage(
                seq=self.seq,
                control=control.type,
                applied=applied,
                paused=job is not None and job.paused,
                steps_per_second=self.steps_per_second,
                detail=None if applied else "nothing is training on this socket",
            )
        )

    async def task_for(self, request: BaseModel) -> Task | list[dict[str, Any]]:
        """The worker's task for a parsed request, with the weights its ``init_from`` names (the
        socket's latest for "current"), or the error that refuses it."""
        if not isinstance(request, ModelRequest) or request.init_from is None:
            bind = self.protocol.bind
            return self.protocol.task(request) if bind is None else bind(request, self.settings)
        latest, asked = self.latest, request.init_from
        try:
            if asked == "current" or asked.startswith("snapshot-"):
                if latest is None:
                    raise StartingPointError(f"init_from {asked}: nothing trained here yet")
                name, init = latest.weights()
                if asked not in ("current", name):
                    raise StartingPointError(
                        f'init_from {asked}: not this socket\'s latest weights; send "current"'
                    )
                request = request.model_copy(update={"init_from": name})
                check_starting_point(request.normalised(), latest.request)
            else:
                init = await asyncio.to_thread(stored_starting_point, request, self.worker.cache)
        except StartingPointError as exc:
            return [starting_point_error(request, exc)]
        return ModelTask(request, init)

    async def handle(self, message: Mapping[str, Any]) -> None:
        """Answer one client message: the latest message always wins."""
        text = message.get("text")
        parsed: BaseModel | str | list[dict[str, Any]]
        options = dict(OPTIONS)
        if text is None:
            parsed = f"send a {self.protocol.expects} as a JSON text frame"
        elif oversize := message_size_errors(text, self.settings.limits):
            parsed = oversize
        elif (control := control_of(text)) is not None:
            if not isinstance(control, list):
                await self.control(control)
                return
            parsed = control  # a control's errors (the running request goes on)
            await self.send(ErrorMessage(seq=self.seq, detail=parsed))
            return
        else:
            text, options = split_options(text)
            parsed = self.protocol.parse(text, self.settings)
        task: Task | None = None
        if isinstance(parsed, BaseModel):
            made = await self.task_for(parsed)
            if isinstance(made, list):
                parsed = made
            else:
                task = made
        running = self.running is not None and not self.running.done()
        if task is not None and running and task.id == self.running_id:
            self.seq += 1  # the running job already trains this: answer as the new seq
            return
        await self.cancel_running()
        self.seq += 1
        if task is None:
            assert not isinstance(parsed, BaseModel)
            await self.send(ErrorMessage(seq=self.seq, detail=parsed))
            return
        self.running_id = task.id
        self.running = asyncio.create_task(self.run(task, options))


async def serve_live(websocket: WebSocket, protocol: LiveProtocol) -> None:
    """Run one live socket until the client leaves; its running request is then cancelled."""
    await websocket.accept()
    session = LiveSession(websocket, protocol)
    live_sockets = live_sockets_of(websocket)
    live_sockets.open += 1
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            await session.handle(message)
    except WebSocketDisconnect:
        pass
    finally:
        live_sockets.open -= 1
        await session.cancel_running()
