"""POST /api/phase-diagrams, GET /api/phase-diagrams/{id} and WS /api/phase-diagrams/live.

The live socket speaks the models' protocol (server/api/live.py): send a PhaseDiagramRequest
as JSON; get ``{"type": "snapshot", "seq", "id", "step", "steps", "diagram"}`` while it trains
(every cell classified from its best seed so far, ``diagram.final`` false), then
``{"type": "done", "seq", "result"}``; errors as ``{"type": "error", "seq", "detail"}``.
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
from server.api.limits import phase_limit_errors
from server.api.live import LiveProtocol, serve_live
from server.api.schemas.phase_diagrams import (
    PhaseDiagramRequest,
    PhaseDiagramResult,
    PhaseDoneMessage,
    PhaseSnapshotMessage,
)
from server.phase_results import PhaseDiagramTask, load_diagram

router = APIRouter(prefix="/phase-diagrams", tags=["phase diagrams"])


PHASE_DIAGRAMS = LiveProtocol.of(
    PhaseDiagramRequest,
    phase_limit_errors,
    PhaseDiagramTask,
    PhaseSnapshotMessage,
    PhaseDoneMessage,
)


@router.post("", response_model=PhaseDiagramResult)
async def create_phase_diagram(
    request: PhaseDiagramRequest, settings: SettingsDep, worker: WorkerDep, http: Request
) -> PhaseDiagramResult:
    """Train the requested phase diagram in one batch, or load it from the cache.

    422 names the field and the limit for out-of-range requests (``max_grid_size``,
    ``max_work``, …); 503 if training failed, or with ``Retry-After`` if the queue is full.
    """
    raise_for_limits(phase_limit_errors(request, settings.limits))
    result: PhaseDiagramResult = await train_or_503(worker, PhaseDiagramTask(request), http)
    return result


@router.get("/{diagram_id}", response_model=PhaseDiagramResult)
async def read_phase_diagram(diagram_id: ContentId, worker: WorkerDep) -> PhaseDiagramResult:
    """A stored diagram by id; 404 if it was never trained (or its entry was unusable)."""
    return await stored_or_404(load_diagram, worker.cache, diagram_id, "phase diagram")


@router.websocket("/live")
async def live(websocket: WebSocket) -> None:
    """Stream a training phase diagram; see the module docstring for the protocol."""
    await serve_live(websocket, PHASE_DIAGRAMS)
