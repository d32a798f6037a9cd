"""The contract of ``GET /api/health``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


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
    live_sockets: int = Field(0, description="open live WebSockets")
    tasks: int = Field(0, description="asyncio tasks on the server's event loop")
    threads: int = Field(0, description="threads of the server process")
    rss_bytes: int = Field(0, description="the server process's resident memory now")
    peak_rss_bytes: int = Field(0, description="the server process's peak resident memory")
