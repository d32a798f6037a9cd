"""The contract of ``GET /api/health``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class WorkerInfo(BaseModel):
    """One training worker: the local backend's thread, or one Ray actor."""

    id: str = Field(description='"local", or "actor-<index>" on the Ray backend')
    pid: int = Field(description="the process it trains in (an actor's changes when it restarts)")
    device: str = Field(description="the torch device it trains on")
    runs: int = Field(description="runs it holds now: training, paused or paced, or evaluating")


class Health(BaseModel):
    """Liveness, versions, and what the server holds now (for operators and the load test)."""

    status: Literal["ok"] = "ok"
    device: str
    torch: str
    plotly_js: str
    jobs: int = Field(0, description="distinct trainings waiting or running now")
    training_runs: int = Field(
        0, description="runs in the worker's batches (a cancelled one until its next step)"
    )
    evaluating_runs: int = Field(
        0, description="runs done training whose final evaluation on fresh inputs is under way"
    )
    held_runs: int = Field(
        0, description="runs waiting outside the batches: paused, or between paced steps"
    )
    backend: Literal["local", "ray"] = Field(
        "local", description="where training runs: local (this process) or ray (Ray actors)"
    )
    workers: list[WorkerInfo] = Field(default_factory=list, description="each training worker")
    live_sockets: int = Field(0, description="open live WebSockets")
    tasks: int = Field(0, description="asyncio tasks on the server's event loop")
    threads: int = Field(0, description="threads of the server process")
    rss_bytes: int = Field(0, description="the server process's resident memory now")
    peak_rss_bytes: int = Field(0, description="the server process's peak resident memory")
