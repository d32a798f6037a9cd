"""The configuration of a toy model and its training: the vocabulary and every default, once.

:class:`ModelConfig` is what defines a model and its data (TMS §"Demonstrating Superposition"
and the variants of its later sections); :class:`TrainConfig` is how it is trained (the paper
notebook's AdamW: lr 1e-3, weight decay 0.01, batch 1024). Both are frozen dataclasses, so a
config can key a dict and travel between threads. The web layer's ``ModelRequest`` converts to
these at its edge (``ModelRequest.to_config``); the library, the worker and the tests use them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

# -- the vocabulary -------------------------------------------------------------------------------
Activation = Literal["relu", "linear", "power"]  # the output's: ReLU(WᵀWx + b), WᵀWx + b, (WᵀWx)^k
Hidden = Literal["none", "relu"]  # the hidden layer's: h = W x, or ReLU(W x) (privileged basis)
Magnitude = Literal["uniform", "boolean"]  # an active feature's size: U[0, 1], or exactly 1
ModelTask = Literal["reconstruct", "absolute_value"]  # the target: x, or |x| (untied W_out)
SetKind = Literal["correlated", "anticorrelated"]
LrSchedule = Literal["constant", "warmup_cosine"]  # lr: fixed, or linear warm-up then cosine to 0
# W's initial scale: Xavier for one (m, n) matrix, or the paper notebook's (model.init_std)
WeightInit = Literal["xavier", "notebook"]

# -- the defaults ---------------------------------------------------------------------------------
POWERS = (1, 3, 5)  # the odd k of the power model that is offered
DEFAULT_POWER = 3  # k of a power model that leaves ``power`` unset
DEFAULT_STEPS = 3000  # enough for every 2-D geometry of the paper at lr 1e-3
DEFAULT_BATCH_SIZE = 1024
DEFAULT_LR = 1e-3
DEFAULT_WEIGHT_DECAY = 0.01  # torch.optim.AdamW's default, which the paper's notebook uses
# Fresh inputs on which a trained model's reported loss is measured (part of the method, not a
# setting: results stay comparable with the closed-form losses).
EVAL_SAMPLES = 1 << 16
HISTORY_POINTS = 200  # about this many (step, loss) points are kept of a training


@dataclass(frozen=True)
class FeatureSet:
    """Features whose activity is linked (TMS §"Correlated and Anticorrelated Features").

    Attributes:
        kind: "correlated": the members are zero or non-zero together (values independent);
            "anticorrelated": with probability p exactly one member, chosen uniformly, is active.
        features: the member indices, at least 2, sharing their feature probability.
    """

    kind: SetKind
    features: tuple[int, ...]


ProbabilityEntry = float | Sequence[float]


@dataclass(frozen=True)
class ModelConfig:
    """A toy model and its data: n_features → n_hidden → n_features, one instance per entry of
    ``feature_probability`` (the paper's ``n_instances``, trained side by side in one batch).

    Attributes:
        n_features: n.
        n_hidden: m.
        feature_probability: p = 1 − S in (0, 1]: one value (one instance), or a sequence with
            one entry per instance, each a value or a sequence of n_features values (per-feature
            sparsity).
        importance: Iᵢ ≥ 0, n_features values; None gives ``importance_decay``ⁱ.
        importance_decay: Iᵢ = decayⁱ (1.0 when None); exclusive with ``importance``.
        activation: "relu" (x′ = ReLU(WᵀWx + b)), "linear" (x′ = WᵀWx + b) or "power"
            (x′ = (WᵀWx)^k, no bias, signed inputs: Chowdhury & Weiner).
        power: k of the power model, one of ``POWERS`` (``DEFAULT_POWER`` when None).
        magnitude: "uniform" (U[0, 1], the paper's) or "boolean" (exactly 1).
        feature_sets: correlated and anticorrelated sets (disjoint; not with "power").
        hidden_activation: "relu" for h = ReLU(W x) (TMS §"Privileged Basis"); None gives "relu"
            for the absolute-value task and "none" otherwise.
        task: "reconstruct" (target x) or "absolute_value" (TMS §"Computation in
            Superposition": untied W_out, target |x|, signed inputs).
        normalize_inputs: scale every data vector to unit length (all-zero ones stay zero), in
            training and in the fresh test samples alike (Henighan et al. 2023, "Superposition,
            Memorization, and Double Descent", as ARENA 3.0 reproduces it).

    Raises:
        ValueError: a value out of its range, or a list of the wrong length.
    """

    n_features: int = 5
    n_hidden: int = 2
    feature_probability: ProbabilityEntry | Sequence[ProbabilityEntry] = 0.1
    importance: Sequence[float] | None = None
    importance_decay: float | None = None
    activation: Activation = "relu"
    power: int | None = None
    magnitude: Magnitude = "uniform"
    feature_sets: tuple[FeatureSet, ...] = ()
    hidden_activation: Hidden | None = None
    task: ModelTask = "reconstruct"
    normalize_inputs: bool = False

    def __post_init__(self) -> None:
        if self.n_features < 1 or self.n_hidden < 1:
            raise ValueError("n_features and n_hidden must be at least 1")
        for entry in self.feature_probabilities:  # not expanded: n_features may be large
            row = entry if isinstance(entry, list) else [entry]
            if isinstance(entry, list) and len(entry) != self.n_features:
                raise ValueError(f"a per-feature probability list must have {self.n_features}")
            if not all(0.0 < p <= 1.0 for p in row):
                raise ValueError(f"feature probabilities must be in (0, 1], not {entry}")
        if self.importance is not None:
            if self.importance_decay is not None:
                raise ValueError("give either importance or importance_decay, not both")
            if len(self.importance) != self.n_features:
                raise ValueError(f"importance must have n_features = {self.n_features} values")
        if self.activation == "power" and self.k not in POWERS:
            raise ValueError(f"power must be one of {POWERS}, not {self.power}")
        if self.task == "absolute_value" and (self.activation != "relu" or self.hidden != "relu"):
            raise ValueError("task absolute_value needs activation and hidden_activation 'relu'")
        object.__setattr__(self, "feature_sets", tuple(self.feature_sets))

    # -- derived views -----------------------------------------------------------------------------
    @property
    def feature_probabilities(self) -> list[float | list[float]]:
        """One entry per instance: its p, or its list of per-feature p."""
        fp = self.feature_probability
        if isinstance(fp, int | float):
            return [float(fp)]
        return [float(p) if isinstance(p, int | float) else [float(q) for q in p] for p in fp]

    @property
    def probability_rows(self) -> list[list[float]]:
        """Every instance's p per feature, (n_instances, n_features)."""
        return [
            p if isinstance(p, list) else [p] * self.n_features for p in self.feature_probabilities
        ]

    @property
    def n_instances(self) -> int:
        return len(self.feature_probabilities)

    @property
    def importances(self) -> list[float]:
        """Importance per feature, Iᵢ (explicit, or decayⁱ)."""
        if self.importance is not None:
            return [float(i) for i in self.importance]
        decay = 1.0 if self.importance_decay is None else self.importance_decay
        return [decay**i for i in range(self.n_features)]

    @property
    def k(self) -> int:
        """The exponent of x′ = (WᵀWx)^k: ``power`` for the power model, 1 otherwise."""
        if self.activation != "power":
            return 1
        return DEFAULT_POWER if self.power is None else self.power

    @property
    def hidden(self) -> Hidden:
        """The hidden activation, with its default filled in."""
        if self.hidden_activation is not None:
            return self.hidden_activation
        return "relu" if self.task == "absolute_value" else "none"

    @property
    def absolute_value(self) -> bool:
        return self.task == "absolute_value"

    @property
    def signed(self) -> bool:
        """Whether active inputs get a random sign (power and absolute-value models)."""
        return self.activation == "power" or self.absolute_value

    def marginal_probabilities(self, instance: int) -> list[float]:
        """Each feature's probability of being active in ``instance``: a member of an
        anticorrelated set of k is active with probability p/k."""
        marginal = list(self.probability_rows[instance])
        for feature_set in self.feature_sets:
            if feature_set.kind == "anticorrelated":
                for j in feature_set.features:
                    marginal[j] /= len(feature_set.features)
        return marginal


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained: the paper notebook's AdamW loop, with restarts and snapshots.

    Attributes:
        steps: AdamW steps.
        batch_size: fresh samples per step.
        lr, weight_decay: AdamW's (betas 0.9, 0.999 and eps 1e-8, torch's defaults).
        seed: seeds the initial weights, the training samples and the evaluation samples.
        n_restarts: seeds trained per instance in the same batch; the one with the lowest loss on
            fresh samples is kept (the paper keeps the best of many for its 2-D models).
        snapshots: weight snapshots kept through training for replay (0: none).
        n_eval_samples: fresh inputs on which the reported loss is measured.
        history_points: about this many (step, loss) points are kept.
        n_train: T, a finite training set: T points drawn once from ``seed`` (after the initial
            weights; every restart of an instance shares them) and used as the whole batch every
            step, so ``batch_size`` is not used; the restart with the lowest loss on its T points
            is kept. None: fresh samples every step (Henighan et al. 2023).
        lr_schedule: "constant" (``lr`` every step) or "warmup_cosine": a linear warm-up from 0
            to ``lr`` over ``warmup_steps``, then a cosine decay to 0 at ``steps``
            (:meth:`lr_at`).
        warmup_steps: the warm-up's length, in steps (0 ≤ warmup_steps ≤ steps).
        weight_init: W's initial scale (``model.init_std``): "xavier", sqrt(2 / (n + m)), or
            "notebook", the paper notebook's sqrt(2 / (n·m + m)), which dense many-feature
            models need to end without stuck output units.
        adversarial_epsilon: ε ≥ 0 of adversarial training (TMS §"Relationship to Adversarial
            Robustness"): each training input is attacked against one feature drawn uniformly,
            δ = λ (WᵀW)ᵢ / ‖(WᵀW)ᵢ‖ with λ = ε · the batch's mean ‖x‖, and the model learns to
            output the clean target from x + δ (``adversarial.perturb``). 0: no attack. Not
            with ``n_train``.
    """

    steps: int = DEFAULT_STEPS
    batch_size: int = DEFAULT_BATCH_SIZE
    lr: float = DEFAULT_LR
    weight_decay: float = DEFAULT_WEIGHT_DECAY
    seed: int = 0
    n_restarts: int = 1
    snapshots: int = 0
    n_eval_samples: int = EVAL_SAMPLES
    history_points: int = HISTORY_POINTS
    n_train: int | None = None
    lr_schedule: LrSchedule = "constant"
    warmup_steps: int = 0
    weight_init: WeightInit = "xavier"
    adversarial_epsilon: float = 0.0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "n_restarts", "n_eval_samples", "history_points"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, not {self.lr}")
        if self.snapshots < 0:
            raise ValueError("snapshots must be at least 0")
        if self.n_train is not None and self.n_train < 1:
            raise ValueError("n_train must be at least 1 (or None for fresh samples)")
        if self.lr_schedule not in ("constant", "warmup_cosine"):
            raise ValueError(f"lr_schedule must be constant or warmup_cosine: {self.lr_schedule}")
        if self.weight_init not in ("xavier", "notebook"):
            raise ValueError(f"weight_init must be xavier or notebook: {self.weight_init}")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps must be in [0, steps = {self.steps}]")
        if not (math.isfinite(self.adversarial_epsilon) and self.adversarial_epsilon >= 0):
            raise ValueError(f"adversarial_epsilon must be ≥ 0, not {self.adversarial_epsilon}")
        if self.adversarial_epsilon and self.n_train is not None:
            raise ValueError("adversarial_epsilon does not apply to a finite training set")

    def lr_at(self, step: int) -> float:
        """The learning rate of the update that step ``step`` (0-based: 0 is the first) makes.

        "constant": ``lr``. "warmup_cosine": ``lr · step / warmup_steps`` while step <
        ``warmup_steps`` (0 at step 0), then ``lr · ½ (1 + cos(π (step − warmup_steps) /
        (steps − warmup_steps)))``: ``lr`` at the end of the warm-up, 0 at ``steps``. The shape
        ARENA 3.0's double-descent exercise uses.
        """
        if self.lr_schedule == "constant":
            return self.lr
        if step < self.warmup_steps:
            return self.lr * step / self.warmup_steps
        decay = max(1, self.steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / decay)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
