"""GET /api/health and GET /api/limits."""

from __future__ import annotations

import asyncio
import os
import resource
import threading

import torch
from fastapi import APIRouter, HTTPException
from plotly.offline import get_plotlyjs_version

from server.api.deps import LiveSocketsDep, SettingsDep, WorkerDep
from server.api.limits import LimitsInfo, field_settings
from server.api.schemas.health import Health, WorkerInfo

router = APIRouter(tags=["meta"])
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _resident_bytes() -> int:
    """This process's resident memory now (Linux's /proc; 0 where there is none)."""
    try:
        # Unbuffered, in one read: a room of clients asks this often (Path.read_text took 18 µs,
        # this 7 µs, on the dev machine), and each system call lets the worker take the GIL.
        with open("/proc/self/statm", "rb", buffering=0) as statm:
            return int(statm.read(128).split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


@router.get("/health", response_model=Health)
async def health(worker: WorkerDep, live_sockets: LiveSocketsDep) -> Health:
    """Liveness, the training device, and the library versions; 503 if the worker has died."""
    if not worker.alive:
        raise HTTPException(status_code=503, detail="the training worker is not running")
    rss = _resident_bytes()
    return Health(
        device=str(worker.device),
        torch=torch.__version__,
        plotly_js=get_plotlyjs_version(),
        jobs=worker.jobs,
        training_runs=worker.training_runs,
        evaluating_runs=worker.evaluating_runs,
        held_runs=worker.held_runs,
        backend=worker.backend,
        workers=[WorkerInfo(**info) for info in worker.workers()],
        live_sockets=live_sockets.open,
        tasks=len(asyncio.all_tasks()),
        threads=threading.active_count(),
        rss_bytes=rss,
        # Linux: KiB, updated by the kernel now and then, so it can lag the resident size just read
        peak_rss_bytes=max(rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
    )


@router.get("/limits", response_model=LimitsInfo)
async def limits(settings: SettingsDep) -> LimitsInfo:
    """The configured limits on requests (the frontend's slider bounds come from here), and
    ``fields``: which limit bounds each request field."""
    return LimitsInfo(**settings.limits.model_dump(), fields=field_settings())
