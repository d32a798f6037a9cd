"""The SAE contract: request, result and live messages of ``/api/saes``.

A sparse autoencoder (SAE) trained on the hidden layer of a toy model (h = W x, or ReLU(W x)),
scored against the toy model's features, which are known exactly (README.md "Sparse
autoencoders"; docs/THEORY.md for MMCS, MCC and explained variance). No torch here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from server.api.schemas.bounded import RequestModel
from server.api.schemas.ids import content_id
from server.api.schemas.models import MAX_INT, ModelRequest
from server.tms.sae import (
    DEFAULT_K,
    DEFAULT_L1_COEFFICIENT,
    DEFAULT_RESAMPLE_INTERVAL,
    DEFAULT_SAE_BATCH_SIZE,
    DEFAULT_SAE_LR,
    DEFAULT_SAE_STEPS,
    SAEArchitecture,
    SAEConfig,
)
from server.tms.sae_metrics import REPRESENTED_NORM

MODEL_ID_PATTERN = r"^[0-9a-f]{64}$"
DEFAULT_LATENTS = 5  # ARENA's toy SAE: as many latents as the 5 → 2 model has features

EXAMPLE_SAE_REQUEST: dict[str, Any] = {
    "model": {"n_features": 5, "n_hidden": 2, "feature_probability": 0.05, "steps": 10000,
              "n_restarts": 8},
    "n_latents": 5,
    "architecture": "relu",
    "l1_coefficient": 0.2,
    "steps": 20000,
    "resample_interval": 2500,
}  # fmt: skip


class SAERequest(RequestModel):
    """An SAE to train on one instance of a toy model.

    Exactly one of ``model`` (a model request: trained first, or loaded from the cache) and
    ``model_id`` (a trained model's id). Unset fields are ARENA 3.0's toy-model SAE (chapter 1.3.1,
    section 5): untied weights, decoder columns normalised after every step, Adam lr 1e-3,
    batch 1024, L1 coefficient 0.2, dead latents resampled every 2,500 steps, 20,000 steps.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_SAE_REQUEST]})

    model: ModelRequest | None = Field(
        None, description="the toy model, as POST /api/models takes it; exclusive with model_id"
    )
    model_id: str | None = Field(
        None,
        pattern=MODEL_ID_PATTERN,
        description="a trained model's id (GET /api/models/{id}); exclusive with model",
    )
    instance: int = Field(0, ge=0, le=MAX_INT, description="which of the model's instances")
    n_latents: int = Field(
        DEFAULT_LATENTS, ge=1, le=MAX_INT, description="the dictionary's size (latents)"
    )
    architecture: SAEArchitecture = Field(
        "relu",
        description="relu: a = ReLU(W_enc (h − b_dec) + b_enc) with an L1 penalty (the standard "
        "SAE); topk: keep the k largest pre-activations (no penalty)",
    )
    l1_coefficient: float = Field(
        DEFAULT_L1_COEFFICIENT,
        ge=0.0,
        le=1e6,
        allow_inf_nan=False,
        description="λ: loss per sample = mean over hidden dims of (ĥ − h)² + λ Σ|a| (relu only)",
    )
    k: int = Field(
        DEFAULT_K, ge=1, le=MAX_INT, description="latents kept per sample (topk only); ≤ n_latents"
    )
    steps: int = Field(DEFAULT_SAE_STEPS, ge=1, le=MAX_INT, description="Adam steps")
    batch_size: int = Field(
        DEFAULT_SAE_BATCH_SIZE, ge=1, le=MAX_INT, description="fresh samples per step"
    )
    lr: float = Field(
        DEFAULT_SAE_LR, gt=0.0, le=1.0, allow_inf_nan=False, description="Adam learning rate"
    )
    seed: int = Field(0, ge=0, le=2**32 - 2, description="seeds initialisation and sampling")
    resample_interval: int = Field(
        DEFAULT_RESAMPLE_INTERVAL,
        ge=0,
        le=MAX_INT,
        description="steps between resamplings of dead latents (those that fired on no sample "
        "of the last 500 steps); 0 = never",
    )
    n_restarts: int = Field(
        1,
        ge=1,
        le=MAX_INT,
        description="SAEs trained side by side with different initial weights; the one of "
        "lowest loss on fresh samples is kept",
    )

    @model_validator(mode="before")
    @classmethod
    def _exactly_one_model(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = [name for name in ("model", "model_id") if data.get(name) is not None]
            if len(given) != 1:
                got = "both" if given else "neither"
                raise ValueError(f"give exactly one of model and model_id (got {got})")
        return data

    @field_validator("instance")
    @classmethod
    def _instance_exists(cls, value: int, info: ValidationInfo) -> int:
        model = info.data.get("model")
        if model is not None and value >= model.n_instances:
            raise ValueError(
                f"instance is {value}; the model has {model.n_instances} instance(s), "
                f"0..{model.n_instances - 1}"
            )
        return value

    @field_validator("k")
    @classmethod
    def _k_fits(cls, value: int, info: ValidationInfo) -> int:
        n_latents = info.data.get("n_latents")
        if n_latents is not None and value > n_latents:
            raise ValueError(f"k is {value}; it must be at most n_latents = {n_latents}")
        return value

    # -- the core's config, and the id -----------------------------------------------------------
    def to_config(self) -> SAEConfig:
        """How the SAE is trained, as the core's :class:`~server.tms.sae.SAEConfig`."""
        return SAEConfig(
            n_latents=self.n_latents,
            architecture=self.architecture,
            l1_coefficient=self.l1_coefficient,
            k=self.k,
            steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
            resample_interval=self.resample_interval,
            n_restarts=self.n_restarts,
        )

    def resolved_model_id(self) -> str:
        """The toy model's id: ``model_id``, or the id of ``model``."""
        if self.model is not None:
            return self.model.model_id()
        assert self.model_id is not None
        return self.model_id

    def normalised(self) -> SAERequest:
        """The canonical form: the model by its id (``model`` null), and the field the
        architecture does not use at its default (``k`` for relu, ``l1_coefficient`` for topk),
        so that requests that train the same SAE are equal."""
        unused = {"k": DEFAULT_K} if self.architecture == "relu" else {
            "l1_coefficient": DEFAULT_L1_COEFFICIENT
        }  # fmt: skip
        return SAERequest.model_validate(
            self.model_dump(exclude={"model"})
            | {"model_id": self.resolved_model_id(), "model": None}
            | unused
        )

    def sae_id(self) -> str:
        """sha256 of the normalised request (its model's id included), its kind and the cache
        format (64 hex digits)."""
        return content_id(self.normalised().model_dump(mode="json"), kind="sae")


# -- results -------------------------------------------------------------------------------------
class FeatureMatch(BaseModel):
    feature: int = Field(description="the toy model's feature i (a column of W)")
    latent: int = Field(description="the SAE latent j (a column of W_dec)")
    cosine: float = Field(description="cos(W[:, i], W_dec[:, j]), signed")


class ResampleEvent(BaseModel):
    step: int = Field(description="the training step after which dead latents were resampled")
    latents: list[int] = Field(description="the kept SAE's latents resampled then (maybe none)")


class SAEResult(BaseModel):
    """A trained (or, in live snapshots, training) SAE, its toy model's features, and how well it
    recovers them. Shapes: n = n_features, m = n_hidden, L = n_latents."""

    id: str = Field(description="the cache key: sha256 of the normalised request")
    model_id: str = Field(description="the toy model's id (GET /api/models/{id})")
    instance: int = Field(description="which of the model's instances it was trained on")
    cached: bool = Field(description="true when served from models_cache without training")
    request: SAERequest = Field(description="the normalised request (the model by its id)")
    device: str = Field(description="the torch device that trained it")
    train_seconds: float = Field(description="wall time of training the SAE, in seconds")
    step: int = Field(description="training steps done (= request.steps when final)")
    final: bool = Field(description="false for a live snapshot, true for the trained SAE")
    n_features: int
    n_hidden: int
    n_latents: int
    features: list[list[float]] = Field(
        description="the toy model instance's W, [m][n]: column i is feature i's direction"
    )
    feature_norms: list[float] = Field(description="‖W[:, i]‖, [n]")
    feature_probability: list[float] = Field(
        description="each feature's probability of being active in that instance, [n] (compare "
        "latent_frequency)"
    )
    represented: list[int] = Field(
        description="the features with ‖W[:, i]‖ ≥ thresholds.feature_norm: those scored"
    )
    W_enc: list[list[float]] = Field(description="encoder, [L][m]")
    b_enc: list[float] = Field(description="encoder bias, [L]")
    W_dec: list[list[float]] = Field(description="decoder, [m][L], unit-norm columns")
    b_dec: list[float] = Field(description="decoder bias, [m]")
    latent_frequency: list[float] = Field(
        description="fraction of fresh samples on which each latent fires (> 0), [L]"
    )
    dead_latents: int = Field(description="latents that fire on none of those samples")
    l0: float = Field(description="mean number of latents firing per sample")
    reconstruction_mse: float = Field(description="mean over samples of mean_d (ĥ_d − h_d)²")
    explained_variance: float = Field(description="1 − Σ‖h − ĥ‖² / Σ‖h − h̄‖² over the samples")
    loss: float = Field(
        description="mean per-sample loss on the samples (the restart criterion; with "
        "n_restarts > 1 the final measures come from other fresh samples than those that "
        "ranked the restarts, so they are not biased by the choice)"
    )
    eval_samples: int = Field(description="the fresh samples these measures come from")
    cosines: list[list[float]] = Field(
        description="cos(W[:, i], W_dec[:, j]), signed, [n][L] (every feature, represented or not)"
    )
    feature_matches: list[FeatureMatch] = Field(
        description="per represented feature, its latent of largest cosine"
    )
    mmcs: float | None = Field(
        description="mean max cosine similarity over the represented features (Sharkey et al. "
        "2022); null if none is represented"
    )
    matching: list[FeatureMatch] = Field(
        description="the one-to-one feature → latent assignment of largest total cosine "
        "(scipy's linear_sum_assignment)"
    )
    mcc: float | None = Field(
        description="mean cosine under `matching`, over the represented features (an unmatched "
        "one counts 0); null if none is represented"
    )
    latent_order: list[int] = Field(
        description="latents ordered by the feature they are matched to, unmatched last: the "
        "column order that makes the |cosine| matrix diagonal"
    )
    history_steps: list[int] = Field(description="steps of loss_history")
    loss_history: list[float] = Field(description="training-batch loss of the kept SAE")
    resample_steps: list[int] = Field(description="steps at which dead latents were resampled")
    resampled: list[ResampleEvent] = Field(description="per resampling, the latents resampled")
    thresholds: dict[str, float] = Field(
        default_factory=lambda: {"feature_norm": REPRESENTED_NORM},
        description="feature_norm: the ‖W[:, i]‖ from which a feature is scored",
    )


class SAESnapshotMessage(BaseModel):
    """A live snapshot. While the toy model trains first (it was not cached): ``phase`` "model",
    ``step`` and ``steps`` the model's, ``sae`` null. Then ``phase`` "sae": the SAE of lowest
    latest batch loss now, measured on 4,096 fresh samples (``sae.final`` false)."""

    type: Literal["snapshot"] = "snapshot"
    seq: int = Field(description="which request on this socket it answers (1 = the first)")
    id: str = Field(description="the SAE's id")
    step: int = Field(description="steps done of the phase's training")
    steps: int = Field(description="the phase's steps (the model's, then the SAE's)")
    phase: Literal["model", "sae"] = Field(
        "sae", description="model: the toy model is training first; sae: the SAE is"
    )
    sae: SAEResult | None = Field(description="the SAE now; null in the model phase")
    paused: bool = Field(
        False, description="true when training is paused here (pause, or the end of a step)"
    )


class SAEDoneMessage(BaseModel):
    type: Literal["done"] = "done"
    seq: int
    result: SAEResult
