"""The phase-diagram contract: request, result and live messages of ``/api/phase-diagrams``.

TMS §"Superposition as a Phase Change": n = 2 features in m = 1 dimension (or n = 3 in m = 2), the
last ("extra") feature of relative importance r, every feature of probability p. A diagram trains
one model per (p, r) cell × ``n_restarts`` seeds in one batch and classifies each cell's best
seed. No torch here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from server.api.schemas.bounded import RequestModel
from server.api.schemas.ids import content_id
from server.api.schemas.models import MAX_INT, LossEstimate, Probability
from server.tms.theory import log_spaced

RelativeImportance = Annotated[float, Field(gt=0.0, le=1e6, allow_inf_nan=False)]

EXAMPLE_PHASE_REQUEST: dict[str, Any] = {
    "n_features": 2,
    "n_hidden": 1,
    "grid_size": 32,
    "feature_probability_range": [1.0, 0.01],
    "relative_importance_range": [0.1, 10.0],
    "n_restarts": 10,
    "steps": 1000,
    "seed": 0,
}


class PhaseDiagramRequest(RequestModel):
    """An empirical phase diagram to train: ``grid_size`` × ``grid_size`` cells.

    The x axis runs over feature probability p (log-spaced from the range's first value to its
    second), the y axis over the extra feature's importance r (log-spaced likewise); the other
    features have importance 1. Training defaults differ from the model endpoint's (lr 1e-2,
    batch 256, 1,000 steps): these tiny models converge in that, and a 32 × 32 grid then trains in
    seconds (benchmarks/RESULTS.md).
    """

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [EXAMPLE_PHASE_REQUEST]}
    )

    n_features: Literal[2, 3] = Field(2, description="n: 2 (with n_hidden 1) or 3 (with 2)")
    n_hidden: Literal[1, 2] = Field(1, description="m = n_features − 1 (the default)")
    grid_size: int = Field(32, ge=2, le=MAX_INT, description="cells per axis")
    feature_probability_range: tuple[Probability, Probability] = Field(
        (1.0, 0.01), description="p at the first and last column (log scale), each in (0, 1]"
    )
    relative_importance_range: tuple[RelativeImportance, RelativeImportance] = Field(
        (0.1, 10.0), description="r at the first and last row (log scale), each in (0, 1e6]"
    )
    n_restarts: int = Field(
        10,
        ge=1,
        le=MAX_INT,
        description="seeds per cell, the best kept (default 10, as the paper trained per point: "
        "with 3, sparse 2 → 1 cells kept the extra feature unlearned where 2–6 of 8 seeds stuck "
        "there; 8 for n = 3)",
    )
    steps: int = Field(1000, ge=1, le=MAX_INT, description="AdamW steps")
    batch_size: int = Field(256, ge=1, le=MAX_INT, description="samples per step")
    lr: float = Field(1e-2, gt=0.0, le=1.0, allow_inf_nan=False, description="AdamW learning rate")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="seeds initialisation and sampling")

    @model_validator(mode="before")
    @classmethod
    def _defaults_for_3x2(cls, data: Any) -> Any:
        """n = 3 defaults to m = 2 and 8 restarts: its 2-D models fall into poor local minima
        more often (TMS's note for reimplementations; benchmarks/RESULTS.md)."""
        if isinstance(data, dict) and data.get("n_features") == 3:
            return {"n_hidden": 2, "n_restarts": 8} | data
        return data

    @model_validator(mode="after")
    def _shape(self) -> PhaseDiagramRequest:
        if self.n_hidden != self.n_features - 1:
            raise ValueError(
                f"n_features = {self.n_features} needs n_hidden = {self.n_features - 1}; the "
                "paper's phase diagrams are 2 → 1 and 3 → 2"
            )
        return self

    @property
    def feature_probabilities(self) -> list[float]:
        """The x axis: ``grid_size`` values log-spaced over ``feature_probability_range``."""
        return log_spaced(*self.feature_probability_range, self.grid_size)

    @property
    def relative_importances(self) -> list[float]:
        """The y axis: ``grid_size`` values log-spaced over ``relative_importance_range``."""
        return log_spaced(*self.relative_importance_range, self.grid_size)

    def diagram_id(self) -> str:
        """sha256 of the canonical request JSON, its kind and the cache format (64 hex digits)."""
        return content_id(self.model_dump(mode="json"), kind="phase_diagram")


# -- results -------------------------------------------------------------------------------------
class BoundaryCurve(BaseModel):
    """A theory curve where the optimal candidate switches (docs/THEORY.md F7, F8)."""

    between: tuple[str, str] = Field(description="the phases on either side")
    optimised_bias: bool = Field(description="true: F8's antipodal solution with its best bias")
    feature_probability: list[float]
    relative_importance: list[float]


Grid = list[list[float]]


class PhaseDiagramResult(BaseModel):
    """A phase diagram: every grid is indexed [y][x], y over r and x over p.

    Class names: n = 2 uses ``not_learned``, ``dedicated``, ``superposition``. n = 3 uses the
    paper's candidates by the direction W ignores: ``not_learned`` (⊥ [0, 0, 1]), ``dedicated``
    (⊥ [1, 0, 0] or [0, 1, 0]), ``extra_superposed`` (⊥ [0, 1, 1] or [1, 0, 1]),
    ``others_superposed`` (⊥ [1, 1, 0]); trained cells may also be ``all_superposed`` (⊥ [1, 1, 1],
    a triangle, which the theory leaves out), ``beats_candidates`` (a final diagram's cell whose
    geometry is not the theory's winner but whose loss is below every candidate's by more than 3
    standard errors: a solution outside the candidate set) or ``other``. A feature with
    ‖Wᵢ‖ < 0.5 counts as not represented, whatever its direction.
    """

    id: str = Field(description="the cache key: sha256 of the canonical request")
    cached: bool = Field(description="true when served from models_cache without training")
    request: PhaseDiagramRequest
    device: str
    train_seconds: float
    step: int = Field(description="training steps done (= steps when finished)")
    final: bool = Field(description="false for a live snapshot, true for the trained diagram")
    feature_probability: list[float] = Field(description="the x axis, p per column")
    relative_importance: list[float] = Field(description="the y axis, r per row")
    phases: list[str] = Field(description="the theory's class names, in its tie-break order")
    empirical: list[list[str]] = Field(description="each cell's class, from its trained W")
    theory: list[list[str]] = Field(description="the candidate of least closed-form loss")
    agreement: float = Field(description="fraction of cells where empirical == theory")
    extra_norm: Grid = Field(description="‖W_extra‖ of the extra (last) feature")
    extra_superposition: Grid = Field(description="Σ_{j≠extra} (Ŵ_extra·Wⱼ)²")
    loss: Grid = Field(
        description="trained L per cell: on fresh samples that did not pick the cell's seed "
        "(`loss_estimate`); the training-batch L while live"
    )
    candidate_losses: dict[str, Grid] = Field(
        description="closed-form L of each candidate per cell; n = 2 adds "
        "'superposition_optimised_bias' (F8)"
    )
    boundaries: list[BoundaryCurve]
    W: list[list[list[list[float]]]] = Field(description="[y][x] → W of shape (m, n)")
    b: list[list[list[float]]] = Field(description="[y][x] → b of length n")
    thresholds: dict[str, float] = Field(description="the classifier's documented thresholds")
    loss_stderr: Grid | None = Field(
        None,
        description="the standard error of each cell's `loss` (final diagrams; null while live "
        "and in diagrams stored before it existed)",
    )
    loss_estimate: LossEstimate | None = Field(
        None,
        description="how `loss` was measured; null while live and in diagrams stored before it "
        "existed (their loss, with n_restarts > 1, is the least of the seeds' losses on the "
        "inputs that picked it: biased low)",
    )


class PhaseSnapshotMessage(BaseModel):
    type: Literal["snapshot"] = "snapshot"
    seq: int = Field(description="which request on this socket it answers (1 = the first)")
    id: str
    step: int
    steps: int
    diagram: PhaseDiagramResult


class PhaseDoneMessage(BaseModel):
    type: Literal["done"] = "done"
    seq: int
    result: PhaseDiagramResult
