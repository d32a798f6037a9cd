"""Shared dependencies of the routes: the settings and the worker live on ``app.state``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Path
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import HTTPConnection
from starlette.requests import Request as StarletteRequest

from server.api.errors import public_errors
from server.api.limits import limit_errors
from server.api.schemas.models import ModelRequest, ModelResult
from server.api.settings import Limits, Settings
from server.cache import ModelCache
from server.jobs import JobBoard, QueueFull, Task, TrainingFailed, train_or_load
from server.results import ModelTask, StartingPointError, stored_starting_point


def settings_of(connection: HTTPConnection) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


def worker_of(connection: HTTPConnection) -> JobBoard:
    worker: JobBoard = connection.app.state.worker
    return worker


class LiveSockets:
    """How many live WebSockets are open (only the event loop counts, so no lock)."""

    def __init__(self) -> None:
        self.open = 0


def live_sockets_of(connection: HTTPConnection) -> LiveSockets:
    live_sockets: LiveSockets = connection.app.state.live_sockets
    return live_sockets


# The dependencies are async so that FastAPI calls them on the event loop: a plain def would
# cost a trip through the thread pool (and a thread) on every request.
async def get_settings(connection: HTTPConnection) -> Settings:
    return settings_of(connection)


async def get_worker(connection: HTTPConnection) -> JobBoard:
    return worker_of(connection)


async def get_live_sockets(connection: HTTPConnection) -> LiveSockets:
    return live_sockets_of(connection)


SettingsDep = Annotated[Settings, Depends(get_settings)]
WorkerDep = Annotated[JobBoard, Depends(get_worker)]
LiveSocketsDep = Annotated[LiveSockets, Depends(get_live_sockets)]


Request = TypeVar("Request", bound=BaseModel)
LimitErrors = Callable[[Any, Limits], list[dict[str, Any]]]


def raise_for_limits(errors: list[dict[str, Any]]) -> None:
    """A 422 naming each field and the limit it exceeds, located in the body like FastAPI's own
    validation errors; nothing if ``errors`` is empty."""
    if errors:
        raise RequestValidationError([e | {"loc": ["body", *e["loc"]]} for e in errors])


def starting_point_error(request: ModelRequest, exc: StartingPointError) -> dict[str, Any]:
    """A refused ``init_from`` as one error in pydantic's shape (``loc`` ["init_from"])."""
    return {
        "type": "init_from",
        "loc": ["init_from"],
        "msg": str(exc),
        "input": request.init_from,
    }


async def model_task(
    request: ModelRequest, cache: ModelCache, where: tuple[str, ...] = ("body",)
) -> ModelTask:
    """The worker's task for a REST request, with the weights its ``init_from`` names (read
    off the event loop).

    Raises:
        RequestValidationError: 422 located at ``where`` + ``init_from`` when it names no usable
            starting point (unknown id, a live-only value, a model that does not fit).
    """
    try:
        init = await asyncio.to_thread(stored_starting_point, request, cache)
    except StartingPointError as exc:
        error = starting_point_error(request, exc)
        raise RequestValidationError([error | {"loc": [*where, *error["loc"]]}]) from exc
    return ModelTask(request, init)


def within_limits(request: ModelRequest, settings: Settings) -> ModelRequest:
    """The request itself, or a 422 naming the field and the limit it exceeds."""
    raise_for_limits(limit_errors(request, settings.limits))
    return request


def parse_text(
    text: str, model: type[Request], settings: Settings, limits_of: LimitErrors
) -> Request | list[dict[str, Any]]:
    """Parse a live request (JSON text) of type ``model``: the request, or errors in pydantic's
    shape (structural ones, else those ``limits_of`` finds against the configured limits)."""
    try:
        request = model.model_validate_json(text)
    except ValidationError as exc:
        return public_errors(json.loads(exc.json(include_url=False)))
    return limits_of(request, settings.limits) or request


async def _disconnected(http: StarletteRequest) -> None:
    """Return once the client has gone (its body was read already: what comes next is the
    ``http.disconnect`` the server sends when the connection closes)."""
    while (await http.receive())["type"] != "http.disconnect":
        pass


async def train_or_503(worker: JobBoard, task: Task, http: StarletteRequest) -> Any:
    """The task's result (cached or trained) for the REST call ``http``.

    A client that disconnects first cancels its training, as a live socket's does (unless
    another client or a job waits for the same result).

    Raises:
        HTTPException: 503 if training failed, or with ``Retry-After`` if the queue is full;
            499 (never read) once the client has gone.
    """
    try:
        training = asyncio.ensure_future(train_or_load(worker, task))
        left = asyncio.ensure_future(_disconnected(http))
        try:
            await asyncio.wait({training, left}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            left.cancel()
        if not training.done():  # the client left: leave the job (its last subscriber cancels)
            training.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await training
            raise HTTPException(status_code=499, detail="the client closed the connection")
        return training.result()
    except QueueFull as exc:
        raise HTTPException(
            status_code=503, detail=str(exc), headers={"Retry-After": str(exc.retry_after_s)}
        ) from exc
    except TrainingFailed as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc


def not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"{what} not found")


def query_error(
    field: str, message: str, value: Any, where: str = "query"
) -> RequestValidationError:
    """A 422 in pydantic's shape for a parameter that the stored model rules out."""
    return RequestValidationError(
        [{"type": "value_error", "loc": [where, field], "msg": message, "input": value}]
    )


# A stored result's id in a path: every resource's id is the sha256 of its request.
ContentId = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="sha256 of the request")]
ModelId = ContentId

Stored = TypeVar("Stored")


async def stored_or_404(
    load: Callable[[ModelCache, str], Stored | None], cache: ModelCache, entry_id: str, what: str
) -> Stored:
    """``load(cache, entry_id)`` read off the event loop; 404 naming ``what`` if absent."""
    result = await asyncio.to_thread(load, cache, entry_id)
    if result is None:
        raise not_found(f"{what} {entry_id}")
    return result


async def load_model(cache: ModelCache, model_id: str, gram: bool = True) -> ModelResult:
    """The stored result (with every instance's WᵀW unless ``gram`` is false); 404 if absent."""
    return await stored_or_404(lambda c, i: c.load(i, gram), cache, model_id, "model")
