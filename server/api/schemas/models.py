"""The API contract: pydantic models for requests, results and live messages.

No torch here. Field names follow the paper's notebook (``n_features``, ``n_hidden``,
``feature_probability`` = 1 − S, ``importance``). Structural rules (types, ranges that never change)
live on the fields; limits that are settings live in :func:`limit_errors`, applied by the API.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WrapValidator,
    computed_field,
    field_validator,
)

from server.api.schemas.bounded import RequestModel, bounded_list
from server.api.schemas.ids import content_id
from server.tms.config import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LR,
    DEFAULT_POWER,
    DEFAULT_STEPS,
    Activation,
    FeatureSet,
    Hidden,
    LrSchedule,
    Magnitude,
    ModelConfig,
    ModelTask,
    SetKind,
    TrainConfig,
    WeightInit,
)

Probability = Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]
Importance = Annotated[float, Field(ge=0.0, le=1e6, allow_inf_nan=False)]
# Hard structural ceilings, far above any configurable limit: they keep arithmetic on the values
# (and error messages about them) cheap and finite. The configurable limits sit below them.
MAX_INT = 2**31 - 1
MAX_LIST = 4096
# Every list of a request is validated chunk by chunk and reports its first error only
# (schemas/bounded.py), so a megabyte of bad entries costs no more than one.
BOUNDED_LIST = WrapValidator(bounded_list(MAX_LIST))

EXAMPLE_REQUEST: dict[str, Any] = {
    "n_features": 5,
    "n_hidden": 2,
    "feature_probability": 0.1,
    "importance_decay": 0.9,
    "activation": "relu",
    "steps": 3000,
    "batch_size": 1024,
    "lr": 1e-3,
    "seed": 0,
    "n_restarts": 1,
}


# New fields at these values leave a request's id as it was before the field existed, so that
# entries trained earlier (and the shipped ones) still match.
ID_NEUTRAL_DEFAULTS: dict[str, Any] = {
    "power": None,
    "magnitude": "uniform",
    "task": "reconstruct",
    "hidden_activation": "none",
    "feature_sets": None,
    "snapshots": 0,
    "n_train": None,
    "normalize_inputs": False,
    "lr_schedule": "constant",
    "warmup_steps": 0,
    "init_from": None,
    "weight_init": "xavier",
    "adversarial_epsilon": 0.0,
}
# init_from: a trained model's id; "current" (live socket only: the socket's latest weights);
# "snapshot-<sha256>", what "current" becomes when those were a training's snapshot.
INIT_FROM_PATTERN = r"^(current|[0-9a-f]{64}|snapshot-[0-9a-f]{64})$"
MAX_SNAPSHOTS = 200  # weight snapshots one request may keep for replay
MAX_ADVERSARIAL_EPSILON = 10.0  # adversarial training's largest ε (the paper's needed 0.8)


class FeatureSetSpec(RequestModel):
    """Features whose activity is linked (TMS §"Correlated and Anticorrelated Features")."""

    model_config = ConfigDict(extra="forbid")

    kind: SetKind = Field(
        description="correlated: the set's features are zero or non-zero together (values "
        "independent); anticorrelated: with probability p exactly one member, chosen uniformly, "
        "is active, so each member is active with probability p/k"
    )
    features: Annotated[
        list[Annotated[int, Field(ge=0, le=MAX_INT)]], Field(max_length=MAX_LIST), BOUNDED_LIST
    ] = Field(description="the member features' indices, at least 2, each in one set at most")


class ModelRequest(RequestModel):
    """A toy model to train: n_features → n_hidden → n_features, one instance per probability.

    TMS §"Demonstrating Superposition": h = W x, x′ = ReLU(WᵀW x + b) (or without the ReLU for
    ``activation="linear"``), loss L = E Σᵢ Iᵢ (xᵢ − x′ᵢ)², xᵢ = 0 with probability S = 1 − p and
    U[0, 1] otherwise (exactly 1 for ``magnitude="boolean"``).

    ``activation="power"`` is Chowdhury & Weiner's model (docs/THEORY.md F15): x′ = (WᵀW x)^k with
    k = ``power``, tied weights, no bias, and symmetric inputs: each active value gets a fair random
    sign (ξ ~ U[−1, 1], or ±1 for boolean magnitudes).
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_REQUEST]})

    n_features: int = Field(5, ge=1, le=MAX_INT, description="n, the number of input features")
    n_hidden: int = Field(2, ge=1, le=MAX_INT, description="m, the hidden dimension")
    feature_probability: (
        Probability
        | Annotated[
            list[
                Probability | Annotated[list[Probability], Field(max_length=MAX_LIST), BOUNDED_LIST]
            ],
            Field(max_length=MAX_LIST),
            BOUNDED_LIST,
        ]
    ) = Field(
        0.1,
        description="p = 1 − S in (0, 1]; a list trains one instance per entry in one batch, and "
        "an entry may itself be a list of n_features values (per-feature sparsity)",
    )
    importance_decay: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="Iᵢ = decayⁱ for i = 0..n−1 (default 1.0); exclusive with `importance`",
    )
    importance: Annotated[list[Importance], Field(max_length=MAX_LIST), BOUNDED_LIST] | None = (
        Field(
            None,
            description="explicit importances, one per feature; exclusive with `importance_decay`",
        )
    )
    activation: Activation = Field(
        "relu",
        description="relu: x′ = ReLU(WᵀWx + b); linear: x′ = WᵀWx + b; power: x′ = (WᵀWx)^k, "
        "no bias, signed inputs (Chowdhury & Weiner)",
    )
    power: Literal[1, 3, 5] | None = Field(
        None,
        description="k of the power model (odd); only with activation 'power', where it "
        "defaults to 3",
    )
    magnitude: Magnitude = Field(
        "uniform",
        description="an active feature's size: uniform U[0, 1] (the paper's) or boolean (always "
        "1); the power model gives either a random sign",
    )
    steps: int = Field(DEFAULT_STEPS, ge=1, le=MAX_INT, description="AdamW steps")
    batch_size: int = Field(DEFAULT_BATCH_SIZE, ge=1, le=MAX_INT, description="samples per step")
    lr: float = Field(
        DEFAULT_LR, gt=0.0, le=1.0, allow_inf_nan=False, description="AdamW learning rate"
    )
    seed: int = Field(0, ge=0, le=2**32 - 1, description="seeds initialisation and sampling")
    n_restarts: int = Field(
        1,
        ge=1,
        le=MAX_INT,
        description="seeds trained per instance in the same batch; the lowest loss is kept",
    )

    task: ModelTask = Field(
        "reconstruct",
        description='reconstruct: output x; absolute_value: the model of TMS §"Computation in '
        'Superposition", h = ReLU(W x), y = ReLU(W_out h + b) with untied W_out, target |x|, '
        "inputs U[−1, 1] when active (needs activation 'relu')",
    )
    hidden_activation: Hidden | None = Field(
        None,
        description="none: h = W x; relu: h = ReLU(W x), the privileged basis of TMS "
        '§"Superposition in a Privileged Basis" (relu and linear outputs). Defaults to relu '
        "for task absolute_value and none otherwise",
    )
    feature_sets: (
        Annotated[list[FeatureSetSpec], Field(max_length=MAX_LIST), BOUNDED_LIST] | None
    ) = Field(
        None,
        description="correlated and anticorrelated feature sets; the members of a set must "
        "share their feature probability in every instance. Not with activation 'power'",
    )
    snapshots: int = Field(
        0,
        ge=0,
        le=MAX_SNAPSHOTS,
        description="weight snapshots kept through training (the initial weights, then evenly "
        "spaced steps) for replay: GET /api/models/{id}/snapshots/{index}",
    )
    n_train: int | None = Field(
        None,
        ge=1,
        le=MAX_INT,
        description="T, a finite training set (Henighan et al. 2023): T points drawn once from "
        "the seed and used as the whole batch every step (batch_size then reads T); each "
        "instance then carries train_loss, data_dimensionality and hidden_train, and with "
        "n_restarts the lowest train loss is kept. null: fresh samples every step",
    )
    normalize_inputs: bool = Field(
        False,
        description="scale each data vector to unit length (all-zero vectors stay zero), in the "
        "training set and the fresh test samples alike",
    )
    lr_schedule: LrSchedule = Field(
        "constant",
        description="constant: lr every step; warmup_cosine: a linear warm-up from 0 to lr over "
        "warmup_steps, then a cosine decay to 0 at steps",
    )
    warmup_steps: int = Field(
        0,
        ge=0,
        le=MAX_INT,
        description="the warm-up's steps (at most steps); only with lr_schedule 'warmup_cosine'",
    )
    weight_init: WeightInit = Field(
        "xavier",
        description="W's initial scale: xavier, sqrt(2 / (n + m)); notebook, the paper notebook's "
        "sqrt(2 / (n·m + m)), which dense many-feature models need to end with no output unit "
        "stuck at zero",
    )

    adversarial_epsilon: float = Field(
        0.0,
        ge=0.0,
        le=MAX_ADVERSARIAL_EPSILON,
        allow_inf_nan=False,
        description='adversarial training (TMS §"Relationship to Adversarial Robustness"): each '
        "training input is attacked against one feature i drawn uniformly, x + λ (WᵀW)ᵢ / "
        "‖(WᵀW)ᵢ‖ with λ = ε · the batch's mean ‖x‖, and the model is trained to output the clean "
        "target; 0: none (the paper needed ε near 0.8 to remove superposition). Not with n_train",
    )

    @field_validator("adversarial_epsilon")
    @classmethod
    def _adversarial_fits(cls, value: float, info: ValidationInfo) -> float:
        if value and info.data.get("n_train") is not None:
            raise ValueError("adversarial_epsilon does not apply with n_train (a finite set)")
        return value

    @field_validator("warmup_steps")
    @classmethod
    def _warmup_fits(cls, value: int, info: ValidationInfo) -> int:
        if value and info.data.get("lr_schedule", "constant") != "warmup_cosine":
            raise ValueError("warmup_steps applies only to lr_schedule 'warmup_cosine'")
        steps = info.data.get("steps")
        if steps is not None and value > steps:
            raise ValueError(f"warmup_steps is {value}; it must be at most steps = {steps}")
        return value

    init_from: str | None = Field(
        None,
        pattern=INIT_FROM_PATTERN,
        description="null: a fresh initialisation. A trained model's id: start from its final "
        "weights (same n_features, n_hidden, activation, hidden_activation and task; a "
        "one-instance model seeds every instance, otherwise the instance counts match); AdamW "
        'starts fresh. On the live socket also "current": the weights of that socket\'s latest '
        'snapshot or result (a snapshot becomes "snapshot-<sha256 of its weights>" in the '
        "answer). The id of a warm-started model includes its starting point",
    )

    @field_validator("feature_probability")
    @classmethod
    def _probabilities_fit(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, list):
            return value
        if not value:
            raise ValueError("feature_probability list must have at least 1 entry")
        n_features = info.data.get("n_features")
        for k, entry in enumerate(value):
            if isinstance(entry, list) and n_features is not None and len(entry) != n_features:
                raise ValueError(
                    f"instance {k} has {len(entry)} feature probabilities; a per-feature list "
                    f"must have n_features = {n_features}"
                )
        return value

    @field_validator("task")
    @classmethod
    def _task_fits(cls, value: str, info: ValidationInfo) -> str:
        activation = info.data.get("activation", "relu")
        if value == "absolute_value" and activation != "relu":
            raise ValueError(f"task absolute_value needs activation 'relu', not {activation!r}")
        return value

    @field_validator("hidden_activation")
    @classmethod
    def _hidden_fits(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value == "relu" and info.data.get("activation") == "power":
            raise ValueError("hidden_activation 'relu' does not apply to activation 'power'")
        if value == "none" and info.data.get("task") == "absolute_value":
            raise ValueError(
                "task absolute_value needs hidden_activation 'relu': |x| = ReLU(x) + ReLU(−x)"
            )
        return value

    @field_validator("feature_sets")
    @classmethod
    def _sets_fit(cls, value: list[FeatureSetSpec] | None, info: ValidationInfo) -> Any:
        if not value:
            return value
        if info.data.get("activation") == "power":
            raise ValueError("feature_sets do not apply to activation 'power'")
        n_features = info.data.get("n_features")
        seen: set[int] = set()
        for k, feature_set in enumerate(value):
            members = feature_set.features
            if len(members) < 2 or len(set(members)) != len(members):
                raise ValueError(f"set {k} must have at least 2 distinct features, not {members}")
            if n_features is not None and max(members) >= n_features:
                raise ValueError(
                    f"set {k} names feature {max(members)}; features are 0..{n_features - 1}"
                )
            if seen & set(members):
                raise ValueError(f"feature {min(seen & set(members))} is in more than one set")
            seen |= set(members)
        probabilities = info.data.get("feature_probability")
        if probabilities is not None and n_features is not None:
            rows = probabilities if isinstance(probabilities, list) else [probabilities]
            for i, row in enumerate(rows):
                if not isinstance(row, list):
                    continue
                for k, feature_set in enumerate(value):
                    if len({row[j] for j in feature_set.features}) > 1:
                        raise ValueError(
                            f"the features of set {k} have different probabilities in "
                            f"instance {i}; a set's members must share theirs"
                        )
        return value

    @field_validator("power")
    @classmethod
    def _power_needs_power_model(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("activation", "power") != "power":
            raise ValueError(
                f"power applies only to activation 'power', not {info.data['activation']!r}"
            )
        return value

    @field_validator("importance")
    @classmethod
    def _importance_matches(cls, value: list[float] | None, info: ValidationInfo) -> Any:
        if value is None:
            return value
        if info.data.get("importance_decay") is not None:
            raise ValueError("give either importance or importance_decay, not both")
        n_features = info.data.get("n_features")
        if n_features is not None and len(value) != n_features:
            raise ValueError(
                f"importance has {len(value)} entries; it must have n_features = {n_features}"
            )
        return value

    # -- the core's config, and views of it ------------------------------------------------------
    def to_config(self) -> ModelConfig:
        """The model and its data as the core's :class:`~server.tms.config.ModelConfig`."""
        return ModelConfig(
            n_features=self.n_features,
            n_hidden=self.n_hidden,
            feature_probability=self.feature_probability,
            importance=self.importance,
            importance_decay=self.importance_decay,
            activation=self.activation,
            power=self.power,
            magnitude=self.magnitude,
            feature_sets=tuple(
                FeatureSet(s.kind, tuple(s.features)) for s in self.feature_sets or []
            ),
            hidden_activation=self.hidden_activation,
            task=self.task,
            normalize_inputs=self.normalize_inputs,
        )

    def train_config(self) -> TrainConfig:
        """How it is trained, as the core's :class:`~server.tms.config.TrainConfig`."""
        return TrainConfig(
            steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
            n_restarts=self.n_restarts,
            snapshots=self.snapshots,
            n_train=self.n_train,
            lr_schedule=self.lr_schedule,
            warmup_steps=self.warmup_steps,
            weight_init=self.weight_init,
            adversarial_epsilon=self.adversarial_epsilon,
        )

    @property
    def step_batch(self) -> int:
        """Samples each step trains on: T with ``n_train``, else ``batch_size``."""
        return self.batch_size if self.n_train is None else self.n_train

    @property
    def feature_probabilities(self) -> list[float | list[float]]:
        """One entry per instance: its p, or its list of per-feature p."""
        return self.to_config().feature_probabilities

    @property
    def probability_rows(self) -> list[list[float]]:
        """Every instance's p per feature, (n_instances, n_features)."""
        return self.to_config().probability_rows

    @property
    def hidden(self) -> Hidden:
        """The hidden activation, with its default filled in."""
        return self.to_config().hidden

    @property
    def signed(self) -> bool:
        """Whether active inputs get a random sign (power and absolute-value models)."""
        return self.to_config().signed

    @property
    def importances(self) -> list[float]:
        """Importance per feature, Iᵢ (explicit, or decayⁱ)."""
        return self.to_config().importances

    @property
    def n_instances(self) -> int:
        return self.to_config().n_instances

    def normalised(self) -> ModelRequest:
        """The canonical form: probabilities and importances as explicit lists.

        Two requests that train the same model (``importance_decay=1`` and no importance, say)
        normalise to the same value and so share one cache entry. With ``n_train`` the batch is
        the T training points, so ``batch_size`` reads T.
        """
        power = self.power if self.power is not None else DEFAULT_POWER
        return ModelRequest.model_validate(
            self.model_dump()
            | {
                "feature_probability": self.feature_probabilities,
                "importance": self.importances,
                "importance_decay": None,
                "power": power if self.activation == "power" else None,
                "hidden_activation": self.hidden,
                "feature_sets": self.feature_sets or None,
                "batch_size": self.step_batch,
            }
        )

    def model_id(self) -> str:
        """sha256 of the canonical request JSON plus the cache format version (64 hex digits)."""
        request = {
            name: value
            for name, value in self.normalised().model_dump(mode="json").items()
            if name not in ID_NEUTRAL_DEFAULTS or value != ID_NEUTRAL_DEFAULTS[name]
        }
        return content_id(request)


# -- results -------------------------------------------------------------------------------------
class NeuronSummary(BaseModel):
    """One hidden neuron of a ReLU-hidden-layer model (TMS's stacked neuron bars)."""

    strength: float = Field(description="‖W row k‖ · ‖readout column k‖ (W_out, or Wᵀ if tied)")
    top_feature: int = Field(description="the feature with the largest |W_ki|")
    top_share: float = Field(description="that feature's share of Σᵢ W_ki², in [0, 1]")
    kind: Literal["monosemantic", "polysemantic", "dead"] = Field(
        description="dead: strength < dead_strength; monosemantic: top_share ≥ "
        "monosemantic_share; else polysemantic"
    )


class NeuronView(BaseModel):
    """The hidden layer's neurons and how many of each kind (TMS §"Privileged Basis")."""

    neurons: list[NeuronSummary]
    monosemantic: int
    polysemantic: int
    dead: int
    monosemantic_share: float = Field(description="the share threshold used")
    dead_strength: float = Field(description="the strength threshold used")


class InstanceMetrics(BaseModel):
    """One instance's weights and the paper's metrics of them (README.md "The model")."""

    W: list[list[float]] = Field(description="weights, shape (n_hidden, n_features)")
    b: list[float] = Field(description="output bias, length n_features")
    W_out: list[list[float]] | None = Field(
        None,
        description="the absolute-value model's untied output weights W_out (W₂), shape "
        "(n_features, n_hidden); null for tied models",
    )
    gram: list[list[float]] | None = Field(
        description="WᵀW, shape (n_features, n_features); null when the client asked for "
        "gram=false (it is n² numbers an instance: 19 MB for 20 instances of 200 features)"
    )
    feature_norms: list[float] = Field(description="‖Wᵢ‖")
    superposition: list[float] = Field(description="Σ_{j≠i} (Ŵᵢ·Wⱼ)²")
    dimensionality: list[float] = Field(description="Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)²")
    dimensions_per_feature: float = Field(description="D* = n_hidden / ‖W‖²_F")
    neurons: NeuronView | None = Field(
        None, description="models with hidden_activation 'relu': the neuron view; else null"
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="‖W‖²_F = Σᵢ‖Wᵢ‖², about how many features the instance represents (TMS "
        '§"Uniform Superposition"; D* = n_hidden / ‖W‖²_F)'
    )
    @property
    def frobenius_squared(self) -> float:
        return math.fsum(norm * norm for norm in self.feature_norms)


class InstanceResult(InstanceMetrics):
    """One trained (or training) instance: its data, loss and metrics (README.md "The API")."""

    feature_probability: float | list[float] = Field(
        description="p = 1 − S, or one p per feature (per-feature sparsity)"
    )
    importance: list[float] = Field(description="Iᵢ, length n_features")
    loss: float = Field(description="L = E Σᵢ Iᵢ (xᵢ − x′ᵢ)², per sample, summed over features")
    exact_loss: float | None = Field(
        None,
        description="linear models: the exact L of these weights, computed from the data's "
        "moments without sampling (compare it with theory_loss.linear_optimum); null otherwise",
    )
    gain: float | None = Field(
        None,
        description="L̃ = E Σᵢ Iᵢ xᵢ² − L, the gain over x′ = 0, measured on the same inputs as "
        "`loss` (far less noisy at small p than theory_loss.zero_output − loss); null in live "
        "snapshots and in entries stored before it existed",
    )
    theory_loss: dict[str, float] = Field(
        default_factory=dict,
        description="closed-form losses to compare L with (docs/THEORY.md): 'zero_output' (the "
        "loss of x′ = 0, E Σᵢ Iᵢ xᵢ²; a power model's gain is zero_output − loss) always. ReLU and "
        "linear models: 'linear_optimum' (F3, the linear model's least loss, i.e. the best "
        "without superposition); 'uniform_dedicated' and 'uniform_antipodal_pairs' (F11) for "
        "uniform magnitudes when every importance is equal and n_features ≥ 2 n_hidden. Power "
        "models: 'power_unsuperposed' (F15 Eqs. 9–10, the least loss of any W with diagonal "
        "WᵀW; for k = 1 no W does better)",
    )
    loss_stderr: float | None = Field(
        None,
        description="the standard error of `loss` (the per-input loss's sample s.d. / √samples); "
        "null in live snapshots and in entries stored before it existed",
    )
    selection_loss: float | None = Field(
        None,
        description="with n_restarts > 1 and no n_train: the kept restart's L on the inputs "
        "that ranked the restarts (the least of n_restarts noisy estimates, so biased low; "
        "`loss` is measured on other inputs); null otherwise and in live snapshots",
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="power models: the gain over x′ = 0 of the best W without superposition, "
        "theory_loss.zero_output − theory_loss.power_unsuperposed (docs/THEORY.md F15); null "
        "otherwise"
    )
    @property
    def unsuperposed_gain(self) -> float | None:
        zero = self.theory_loss.get("zero_output")
        unsuperposed = self.theory_loss.get("power_unsuperposed")
        return None if zero is None or unsuperposed is None else zero - unsuperposed

    train_loss: float | None = Field(
        None,
        description="models with n_train: L on the T training points (then `loss`, on 2¹⁶ "
        "fresh samples, is the test loss); null otherwise",
    )
    data_dimensionality: list[float] | None = Field(
        None,
        description="models with n_train: for each training point, D_t = ‖h_t‖² / Σ_s "
        "(ĥ_t·h_s)² with h_t = W x_t (Henighan et al. 2023; docs/THEORY.md F20), length T; "
        "null otherwise",
    )
    hidden_train: list[list[float]] | None = Field(
        None,
        description="models with n_train: the training points' hidden vectors h_t = W x_t, "
        "shape (T, n_hidden); null otherwise",
    )


class LossEstimate(BaseModel):
    """How a result's reported losses were measured (``server.tms.training.LossEstimate``)."""

    method: Literal["independent_samples"] = Field(
        description="independent_samples: L (and L̃) is the mean over `samples` fresh inputs, "
        "none of which picked the kept restart, so it is an unbiased estimate"
    )
    samples: int = Field(description="how many fresh inputs L is the mean over")
    selected_on: Literal["none", "fresh_samples", "train_set"] = Field(
        description="what picked each instance's kept restart: none (one restart); "
        "fresh_samples (the lowest L on `selection_samples` other fresh inputs: that L, biased "
        "low, is each instance's `selection_loss`); train_set (the lowest L on the training set)"
    )
    selection_samples: int | None = Field(
        None, description="the fresh inputs the restarts were ranked on, for fresh_samples"
    )


class LossPoint(BaseModel):
    step: int = Field(description="training step (1-based)")
    loss: list[float] = Field(description="training-batch L per instance, best restart")


class SnapshotSummary(BaseModel):
    """The metrics of one kept weight snapshot, per instance (the learning-dynamics plot)."""

    index: int = Field(description="for GET /api/models/{id}/snapshots/{index}")
    step: int = Field(description="training steps done (0: the initial weights)")
    dimensionality: list[list[float]] = Field(description="Dᵢ, (n_instances, n_features)")
    feature_norms: list[list[float]] = Field(description="‖Wᵢ‖, (n_instances, n_features)")
    dimensions_per_feature: list[float] = Field(description="D*, per instance")


class WeightSnapshot(BaseModel):
    """A kept snapshot's weights and metrics: replays the model through training."""

    id: str
    index: int
    step: int
    steps: int = Field(description="the request's total steps")
    instances: list[InstanceMetrics]


class ModelResult(BaseModel):
    """A trained request: its weights, metrics and history. Frozen: the cache's memo hands the
    same result to every reader (``server/cache.py``)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="the cache key: sha256 of the canonical request")
    cached: bool = Field(description="true when served from models_cache without training")
    request: ModelRequest = Field(description="the normalised request")
    device: str = Field(description="the torch device that trained it")
    train_seconds: float = Field(description="wall time of training, in seconds")
    loss_history: list[LossPoint]
    instances: list[InstanceResult]
    snapshots: list[SnapshotSummary] | None = Field(
        None, description="requests with snapshots > 0: the kept snapshots' metrics; else null"
    )
    loss_estimate: LossEstimate | None = Field(
        None,
        description="how the instances' `loss` was measured. null in entries stored before it "
        "existed: their loss is on 2¹⁶ fresh inputs, the same ones that picked the restart, so "
        "with n_restarts > 1 (and no n_train) it is biased low",
    )
