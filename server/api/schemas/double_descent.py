"""The double-descent contract: request, result and live messages of ``/api/double-descent``.

Henighan et al. (Anthropic, 2023), "Superposition, Memorization, and Double Descent": the same
toy model trained on finite training sets of T points, for several T. A sweep is a model request
(every field of :class:`~server.api.schemas.models.ModelRequest`) plus ``n_train_values``; each T
is the model request with ``n_train = T``, trained side by side with the others in one run and
stored in the cache under that request's own id, so ``GET /api/models/{model_id}`` opens it and
``POST /api/models`` with ``n_train = T`` reproduces it exactly. No torch here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from server.api.schemas.ids import content_id
from server.api.schemas.models import (
    BOUNDED_LIST,
    ID_NEUTRAL_DEFAULTS,
    MAX_INT,
    MAX_LIST,
    ModelRequest,
)

KIND = "double_descent"
DEFAULT_N_TRAIN_VALUES = [3, 5, 8, 12, 20, 30, 50, 80, 120, 200, 300, 500, 1000]

EXAMPLE_DOUBLE_DESCENT_REQUEST: dict[str, Any] = {
    "n_features": 100,
    "n_hidden": 2,
    "feature_probability": 0.05,
    "normalize_inputs": True,
    "lr": 1e-2,
    "lr_schedule": "warmup_cosine",
    "warmup_steps": 250,
    "steps": 2500,
    "n_restarts": 1,
    "n_train_values": [3, 10, 30, 100, 300, 1000],
}


class DoubleDescentRequest(ModelRequest):
    """A double-descent sweep: the model of the other fields trained on each T of
    ``n_train_values`` (``n_train`` itself is not given: each T sets it)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [EXAMPLE_DOUBLE_DESCENT_REQUEST]}
    )

    n_train_values: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_INT)]],
        Field(min_length=1, max_length=MAX_LIST),
        BOUNDED_LIST,
    ] = Field(
        default_factory=lambda: list(DEFAULT_N_TRAIN_VALUES),
        description="the training-set sizes T, one model each (sorted, repeats dropped)",
    )

    @field_validator("n_train")
    @classmethod
    def _no_single_n_train(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None:
            raise ValueError("a sweep takes n_train_values (a list of T), not n_train")
        return value

    @field_validator("init_from")
    @classmethod
    def _fresh_start(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError("a sweep trains every T from a fresh start: leave init_from out")
        return value

    @field_validator("snapshots")
    @classmethod
    def _no_snapshots(cls, value: int) -> int:
        if value:
            raise ValueError(
                "a sweep keeps no weight snapshots (its T models train joined in one run): leave "
                "snapshots at 0, and train one T with snapshots through POST /api/models"
            )
        return value

    @field_validator("adversarial_epsilon")
    @classmethod
    def _no_adversarial_training(cls, value: float) -> float:
        if value:
            raise ValueError(
                "adversarial_epsilon does not apply to a sweep: its models train on finite "
                "training sets (n_train); leave it at 0"
            )
        return value

    @field_validator("n_train_values")
    @classmethod
    def _sorted(cls, value: list[int]) -> list[int]:
        return sorted(set(value))

    def model_request(self, n_train: int) -> ModelRequest:
        """The model request of one T: these fields with ``n_train = T``, normalised."""
        fields = self.model_dump(exclude={"n_train_values"}) | {"n_train": n_train}
        return ModelRequest.model_validate(fields).normalised()

    def normalised_sweep(self) -> DoubleDescentRequest:
        """The canonical form: the model fields normalised as a model request's (so that two
        sweeps of one model share an id); ``batch_size`` is left as given (each T reads T)."""
        model = ModelRequest.model_validate(self.model_dump(exclude={"n_train_values"}))
        fields = model.normalised().model_dump() | {"batch_size": self.batch_size}
        return DoubleDescentRequest.model_validate(fields | {"n_train_values": self.n_train_values})

    def sweep_id(self) -> str:
        """sha256 of the canonical request JSON, its kind and the cache format (64 hex digits).

        Model fields at their id-neutral defaults (``ID_NEUTRAL_DEFAULTS``) are left out, as a
        model's id leaves them out, so that a field added to ``ModelRequest`` later keeps every
        stored sweep's id.
        """
        request = {
            name: value
            for name, value in self.normalised_sweep().model_dump(mode="json").items()
            if name not in ID_NEUTRAL_DEFAULTS or value != ID_NEUTRAL_DEFAULTS[name]
        }
        return content_id(request, kind=KIND)


# -- results -------------------------------------------------------------------------------------
class DoubleDescentPoint(BaseModel):
    """One T of a sweep: its losses and dimensionalities, per instance (one per probability)."""

    n_train: int = Field(description="T, the training set's size")
    model_id: str = Field(
        description="the model's id: GET /api/models/{model_id} gives its W, b, hidden_train, …"
    )
    train_loss: list[float] = Field(description="L on the T training points, per instance")
    loss: list[float] | None = Field(
        description="the test loss, on 2¹⁶ fresh samples, per instance; null while training"
    )
    data_dimensionality: list[float] = Field(
        description="the mean over the T points of D_t = ‖h_t‖² / Σ_s (ĥ_t·h_s)², per instance"
    )
    feature_dimensionality: list[list[float]] = Field(
        description="Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)² of every feature, per instance (n_features each)"
    )
    feature_norms: list[list[float]] = Field(
        default_factory=list,
        description="‖Wᵢ‖ of every feature, per instance: with m ≪ n the plain mean of Dᵢ is at "
        "most m/n whatever the geometry, so the page weights each Dᵢ by ‖Wᵢ‖² (the features the "
        "model represents)",
    )


class DoubleDescentResult(BaseModel):
    """A trained sweep, its points in increasing T."""

    id: str = Field(description="the cache key: sha256 of the canonical request")
    cached: bool = Field(description="true when served from models_cache without training")
    request: DoubleDescentRequest = Field(description="the normalised request")
    device: str
    train_seconds: float = Field(description="wall time of training every T, in seconds")
    step: int = Field(description="training steps done (= steps when finished)")
    steps: int
    final: bool = Field(description="false for a live snapshot, true for the trained sweep")
    points: list[DoubleDescentPoint]
    peak_n_train: int | None = Field(
        description="the T of the highest test loss (first instance): the double-descent "
        "peak; null while training"
    )


class DoubleDescentSnapshotMessage(BaseModel):
    type: Literal["snapshot"] = "snapshot"
    seq: int = Field(description="which request on this socket it answers (1 = the first)")
    id: str
    step: int
    steps: int
    sweep: DoubleDescentResult


class DoubleDescentDoneMessage(BaseModel):
    type: Literal["done"] = "done"
    seq: int
    result: DoubleDescentResult
