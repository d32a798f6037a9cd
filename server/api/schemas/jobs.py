"""The jobs contract: ``POST /api/jobs``'s request and the job object every jobs route answers.

A job trains (or loads) one model or one phase diagram in the background, so that a client that
asks for a long training need not hold a request open: it polls ``GET /api/jobs/{id}`` for the
step and, once ``status`` is ``done``, reads the result at ``result_url``. No torch here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from server.api.schemas.bounded import RequestModel
from server.api.schemas.double_descent import DoubleDescentRequest
from server.api.schemas.models import EXAMPLE_REQUEST, ModelRequest
from server.api.schemas.phase_diagrams import PhaseDiagramRequest
from server.api.schemas.saes import SAERequest

JobKind = Literal["model", "phase_diagram", "sae", "double_descent"]
JOB_KINDS: tuple[str, ...] = ("model", "phase_diagram", "sae", "double_descent")
JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"done", "failed", "cancelled"})


class JobRequest(RequestModel):
    """What a job trains: exactly one of ``model``, ``phase_diagram``, ``sae`` and
    ``double_descent``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"model": EXAMPLE_REQUEST}]}
    )

    model: ModelRequest | None = Field(None, description="a toy model, as POST /api/models takes")
    phase_diagram: PhaseDiagramRequest | None = Field(
        None, description="a phase diagram, as POST /api/phase-diagrams takes"
    )
    double_descent: DoubleDescentRequest | None = Field(
        None, description="a double-descent sweep, as POST /api/double-descent takes"
    )

    sae: SAERequest | None = Field(
        None, description="a sparse autoencoder on a toy model, as POST /api/saes takes"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> JobRequest:
        given = sum(getattr(self, name) is not None for name in JOB_KINDS)
        if given != 1:
            got = ("neither", "", "both", "three", "all four")[given]
            raise ValueError(
                "give exactly one of model and phase_diagram (or sae, or double_descent), "
                f"not {got}"
            )
        return self

    @property
    def kind(self) -> JobKind:
        return next(name for name in JOB_KINDS if getattr(self, name) is not None)  # type: ignore[return-value]


class JobView(BaseModel):
    """A job as the API shows it: what it trains, where it stands, and where its result is."""

    id: str = Field(description="the job's own id: 32 random hex digits (not the model's id)")
    kind: JobKind = Field(
        description="what it trains: a model, a phase diagram, an SAE or a double-descent sweep"
    )
    status: JobStatus = Field(
        description="queued (waiting for the worker), running (training), done (result_url "
        "holds the result), failed (detail says why) or cancelled (DELETE, or the server stopped)"
    )
    step: int = Field(description="training steps done so far (steps once done)")
    steps: int = Field(description="the request's steps")
    result_url: str | None = Field(
        None,
        description="once done: GET /api/models/{id}, /api/phase-diagrams/{id}, /api/saes/{id} "
        "or /api/double-descent/{id}, the cached "
        "result (the cache's id of the request, not the job id)",
    )
    detail: str | None = Field(None, description="why the job failed, or null")
