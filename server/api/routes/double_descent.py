"""POST /api/double-descent, GET /api/double-descent/{id} and WS /api/double-descent/live.

Henighan et al. (Anthropic, 2023): one model trained on finite training sets of each T of
``n_train_values``, every T × instance × restart in one run. The live socket speaks the models'
protocol (server/api/live.py): send a DoubleDescentRequest as JSON; get ``{"type": "snapshot",
"seq", "id", "step", "steps", "sweep"}`` while it trains (every T's train loss and
dimensionalities so far, ``sweep.final`` false, test losses null), then ``{"type": "done", "seq",
"result"}``; errors as ``{"type": "error", "seq", "detail"}``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, WebSocket

from server.api.deps import (
    ContentId,
    SettingsDep,
    WorkerDep,
    raise_for_limits,
    stored_or_404,
    train_or_503,
)
from server.api.limits import double_descent_limit_errors
from server.api.live import LiveProtocol, serve_live
from server.api.schemas.double_descent import (
    DoubleDescentDoneMessage,
    DoubleDescentRequest,
    DoubleDescentResult,
    DoubleDescentSnapshotMessage,
)
from server.double_descent_results import DoubleDescentTask, load_sweep

router = APIRouter(prefix="/double-descent", tags=["double descent"])


DOUBLE_DESCENT = LiveProtocol.of(
    DoubleDescentRequest,
    double_descent_limit_errors,
    DoubleDescentTask,
    DoubleDescentSnapshotMessage,
    DoubleDescentDoneMessage,
)


@router.post("", response_model=DoubleDescentResult)
async def create_double_descent(
    request: DoubleDescentRequest, settings: SettingsDep, worker: WorkerDep, http: Request
) -> DoubleDescentResult:
    """Train the model on every T of ``n_train_values`` in one run, or load the sweep from the
    cache. Each T's model is stored too: ``points[k].model_id`` opens it at GET /api/models/{id}.

    422 names the field and the limit for out-of-range requests (``max_train_points``,
    ``max_sweep_points``, ``max_work``, …); 503 if training failed, or with ``Retry-After`` if
    the queue is full.
    """
    raise_for_limits(double_descent_limit_errors(request, settings.limits))
    result: DoubleDescentResult = await train_or_503(worker, DoubleDescentTask(request), http)
    return result


@router.get("/{sweep_id}", response_model=DoubleDescentResult)
async def read_double_descent(sweep_id: ContentId, worker: WorkerDep) -> DoubleDescentResult:
    """A stored sweep by id; 404 if it was never trained (or its entry was unusable)."""
    return await stored_or_404(load_sweep, worker.cache, sweep_id, "double-descent sweep")


@router.websocket("/live")
async def live(websocket: WebSocket) -> None:
    """Stream a training sweep; see the module docstring for the protocol."""
    await serve_live(websocket, DOUBLE_DESCENT)
