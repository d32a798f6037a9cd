"""The limits on requests: which configured limit bounds each field (one table, read by the
checks, the OpenAPI schema and ``GET /api/limits``), and the checks of the products (one step's
memory, the total work, the output size) that no single field shows.

Every error names the field, the limit and its setting, in pydantic's shape, so a refused request
answers 422 like any other validation error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from server.api.schemas.double_descent import DoubleDescentRequest
from server.api.schemas.models import ModelRequest
from server.api.schemas.phase_diagrams import PhaseDiagramRequest
from server.api.schemas.saes import SAERequest
from server.api.settings import Limits
from server.tms.config import EVAL_SAMPLES

# The work of one input entry (drawing it, masking it, the loss and gradient's element-wise terms)
# in units of one weight's multiply-add, measured (benchmarks/work_unit.py): with it, one unit
# of max_work costs within a factor of about 4 at every shape from 2 → 1 to 512 → 256 (0.15–0.6 ns
# on 2 CPU cores), where counting weights alone put 3 → 2 at 100× the cost per unit of 512 → 256.
PER_FEATURE_WORK = 128

# An adversarially trained step (ModelRequest.adversarial_epsilon > 0) attacks every input before
# the step (server/tms/adversarial.py): measured at 1.4–2.0× a plain step (benchmarks/adversarial.py
# --part cost), so its training steps count twice in max_work.
ADVERSARIAL_STEP_COST = 2.0


@dataclass(frozen=True)
class FieldLimit:
    """A request field bounded by a configured limit.

    Attributes:
        field: the request's field; a list counts its entries, a single number as 1 entry when
            the limit counts entries (``feature_probability``: instances).
        setting: the :class:`~server.api.settings.Limits` field that bounds it.
        what: how an error names the value (the field's name when empty).
        checked: False for a bound shown in the schema but implied by another check (an
            importance list has n_features entries, so ``max_features`` bounds it already).
    """

    field: str
    setting: str
    what: str = ""
    checked: bool = True


FIELD_LIMITS: dict[str, tuple[FieldLimit, ...]] = {
    "ModelRequest": (
        FieldLimit("n_features", "max_features"),
        FieldLimit("n_hidden", "max_hidden"),
        FieldLimit(
            "feature_probability", "max_instances", "number of feature probabilities (instances)"
        ),
        FieldLimit("importance", "max_features", checked=False),
        FieldLimit("n_restarts", "max_restarts"),
        FieldLimit("steps", "max_steps"),
        FieldLimit("batch_size", "max_batch_size"),
        FieldLimit("n_train", "max_train_points"),
    ),
    "PhaseDiagramRequest": (
        FieldLimit("grid_size", "max_grid_size"),
        FieldLimit("n_restarts", "max_restarts"),
        FieldLimit("steps", "max_steps"),
        FieldLimit("batch_size", "max_batch_size"),
    ),
    "SAERequest": (
        FieldLimit("n_latents", "max_latents"),
        FieldLimit("n_restarts", "max_restarts"),
        FieldLimit("steps", "max_steps"),
        FieldLimit("batch_size", "max_batch_size"),
    ),
    "DoubleDescentRequest": (
        FieldLimit("n_features", "max_features"),
        FieldLimit("n_hidden", "max_hidden"),
        FieldLimit(
            "feature_probability", "max_instances", "number of feature probabilities (instances)"
        ),
        FieldLimit("importance", "max_features", checked=False),
        FieldLimit("n_restarts", "max_restarts"),
        FieldLimit("steps", "max_steps"),
        FieldLimit("n_train_values", "max_sweep_points", "number of n_train_values"),
    ),
}


def field_settings() -> dict[str, dict[str, str]]:
    """The table as request model → field → setting (served at ``GET /api/limits``)."""
    return {model: {f.field: f.setting for f in fields} for model, fields in FIELD_LIMITS.items()}


class LimitsInfo(Limits):
    """``GET /api/limits``: the limits in force, and which bounds each request field."""

    fields: dict[str, dict[str, str]] = Field(
        description="request model → field → the limit (setting) that bounds it"
    )


def _count(value: Any) -> float:
    """A field's size against its limit: a list's length, a single probability 1, a number."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, float):
        return 1
    return value


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


class LimitChecker:
    """Collects limit errors in pydantic's shape (``loc`` is ``[field]``, ``msg``, ``type``,
    ``input``, ``ctx``); each message names the field, the limit and its setting."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.errors: list[dict[str, Any]] = []

    def check(self, field: str, value: float, setting: str, what: str = "") -> None:
        """Add an error if ``value`` exceeds the limit named ``setting``."""
        limit = getattr(self.limits, setting)
        if value > limit:
            self.errors.append(
                {
                    "type": "limit_exceeded",
                    "loc": [field],
                    "msg": f"{what or field} is {_number(value)}; the limit is {setting} = "
                    f"{_number(limit)} (SUPERPOSITION_LIMITS__{setting.upper()})",
                    "input": value,
                    "ctx": {"limit": limit, "setting": setting},
                }
            )

    def check_fields(self, model: str, request: BaseModel) -> None:
        """Check every field of ``FIELD_LIMITS[model]`` that is set."""
        for entry in FIELD_LIMITS[model]:
            value = getattr(request, entry.field)
            if entry.checked and value is not None:
                self.check(entry.field, _count(value), entry.setting, entry.what)

    def check_training(
        self,
        field: str,
        rows: int,
        width: int,
        steps: int,
        batch_size: int,
        n_params: int,
        n_features: int,
        step_cost: float = 1.0,
    ) -> None:
        """The bounds shared by every training job: one step's memory and the total work.

        The work counts every sample a row sees, in training and in the final evaluation on
        ``EVAL_SAMPLES`` fresh inputs, at ``n_params + PER_FEATURE_WORK × n_features`` units
        each: the products cost about one unit per weight, and drawing, masking and scoring an
        input entry about ``PER_FEATURE_WORK`` (see :data:`PER_FEATURE_WORK`).

        Args:
            field: where the error is reported (the field that most often causes it).
            rows: models trained side by side (instances × n_restarts).
            width: max(n_features, n_hidden).
            n_params: n_features × n_hidden.
            n_features: the inputs' width.
            step_cost: what one training sample costs against an evaluation sample
                (:data:`ADVERSARIAL_STEP_COST` for adversarial training, else 1).
        """
        self.check(
            "batch_size",
            batch_size * rows * width,
            "max_step_elements",
            "one step's batch_size × instances (or cells) × n_restarts × max(n_features, n_hidden)",
        )
        work = (
            (steps * batch_size * step_cost + EVAL_SAMPLES)
            * rows
            * (n_params + PER_FEATURE_WORK * n_features)
        )
        self.check(
            field,
            work,
            "max_work",
            "total work (steps × batch_size"
            + (f" × {step_cost:g} (adversarial training)" if step_cost != 1 else "")
            + " + evaluation samples) × instances (or cells) × "
            f"n_restarts × (n_features × n_hidden + {PER_FEATURE_WORK} × n_features)",
        )


def limit_errors(request: ModelRequest, limits: Limits) -> list[dict[str, Any]]:
    """Check a structurally valid request against the configured limits.

    Returns:
        Errors in pydantic's shape, empty if the request is within every limit (see
        :class:`LimitChecker`).
    """
    r = request
    limit = LimitChecker(limits)
    limit.check_fields("ModelRequest", r)
    if limit.errors:  # the products below only make sense once each factor is in range
        return limit.errors
    limit.check_training(
        "steps",
        r.n_instances * r.n_restarts,
        max(r.n_features, r.n_hidden),
        r.steps,
        r.step_batch,  # a finite training set is the whole batch: T
        r.n_features * r.n_hidden,
        r.n_features,
        ADVERSARIAL_STEP_COST if r.adversarial_epsilon > 0 else 1.0,
    )
    limit.check(
        "n_features",
        r.n_instances * r.n_features**2,
        "max_output_values",
        "output size instances × n_features²",
    )
    if r.n_train is not None:
        limit.check(
            "n_train",
            r.n_instances * r.n_train * (r.n_hidden + 1),
            "max_output_values",
            "output size instances × n_train × (n_hidden + 1) (hidden_train and "
            "data_dimensionality)",
        )
    limit.check(
        "snapshots",
        r.snapshots
        * r.n_instances
        * r.n_restarts
        * r.n_features
        * r.n_hidden
        * (2 if r.task != "reconstruct" else 1),
        "max_output_values",
        "kept snapshot weights snapshots × instances × n_restarts × n_features × n_hidden (× 2 "
        "untied)",
    )
    return limit.errors


def phase_limit_errors(request: PhaseDiagramRequest, limits: Limits) -> list[dict[str, Any]]:
    """Check a structurally valid diagram request against the configured limits.

    Returns:
        Errors in pydantic's shape, each naming the field, the limit and its setting; empty if
        the request is within every limit.
    """
    r = request
    limit = LimitChecker(limits)
    limit.check_fields("PhaseDiagramRequest", r)
    if limit.errors:
        return limit.errors
    limit.check_training(
        "grid_size",
        r.grid_size**2 * r.n_restarts,
        r.n_features,
        r.steps,
        r.batch_size,
        r.n_features * r.n_hidden,
        r.n_features,
    )
    return limit.errors


def sae_limit_errors(request: SAERequest, limits: Limits) -> list[dict[str, Any]]:
    """Check an SAE request's own fields, and its ``model`` request if it has one (errors
    located under ``model``), against the configured limits.

    The products that need the model's shape (one step's memory, the total work, the output
    size) are :func:`sae_model_limit_errors`, once the model is known.

    Returns:
        Errors in pydantic's shape; empty if the request is within every limit.
    """
    limit = LimitChecker(limits)
    limit.check_fields("SAERequest", request)
    if request.model is not None:
        model_errors = limit_errors(request.model, limits)
        limit.errors += [e | {"loc": ["model", *e["loc"]]} for e in model_errors]
        if request.model.init_from is not None:
            limit.errors.append(
                {
                    "type": "init_from",
                    "loc": ["model", "init_from"],
                    "msg": "an SAE's model is trained from a fresh start: train the model that "
                    "carries on first (POST /api/models) and give its id as model_id",
                    "input": request.model.init_from,
                }
            )
    if not limit.errors and request.model is not None:
        config = request.model.to_config()
        limit.errors += sae_shape_errors(request, limits, config.n_features, config.n_hidden)
    return limit.errors


def sae_shape_errors(
    request: SAERequest, limits: Limits, n_features: int, n_hidden: int
) -> list[dict[str, Any]]:
    """The bounds of an SAE on a model of ``n_features`` → ``n_hidden``: one step's memory
    (batch_size × n_restarts × max(n_features, n_latents)), the total work ((steps × batch_size +
    evaluation samples) × n_restarts × (n_hidden × (n_features + n_latents) + 128 × n_features))
    and the output size (n_features × n_latents cosines, n_hidden × n_latents decoder weights)."""
    r = request
    limit = LimitChecker(limits)
    limit.check_training(
        "steps",
        r.n_restarts,
        max(n_features, r.n_latents, n_hidden),
        r.steps,
        r.batch_size,
        n_hidden * (n_features + r.n_latents),
        n_features,  # each step draws fresh toy-model inputs
    )
    limit.check(
        "n_latents",
        (n_features + n_hidden) * r.n_latents,
        "max_output_values",
        "output size (n_features + n_hidden) × n_latents",
    )
    return limit.errors


def double_descent_limit_errors(
    request: DoubleDescentRequest, limits: Limits
) -> list[dict[str, Any]]:
    """Check a structurally valid sweep against the configured limits: each field as a model
    request's, every T against ``max_train_points``, and the products over the whole sweep
    (every T trains in one run: its work is the sum of every T's, one step holds every T's
    training set).

    Returns:
        Errors in pydantic's shape, each naming the field, the limit and its setting; empty if
        the sweep is within every limit.
    """
    r = request
    limit = LimitChecker(limits)
    limit.check_fields("DoubleDescentRequest", r)
    limit.check(
        "n_train_values", max(r.n_train_values), "max_train_points", "largest n_train_values"
    )
    if limit.errors:
        return limit.errors
    rows = r.n_instances * r.n_restarts
    points = sum(r.n_train_values)
    width = max(r.n_features, r.n_hidden)
    limit.check(
        "n_train_values",
        points * rows * width,
        "max_step_elements",
        "one step's sum of n_train_values × instances × n_restarts × max(n_features, n_hidden)",
    )
    per_sample = r.n_features * r.n_hidden + PER_FEATURE_WORK * r.n_features
    work = float(r.steps * points + EVAL_SAMPLES * len(r.n_train_values)) * rows * per_sample
    limit.check(
        "steps",
        work,
        "max_work",
        "total work (steps × sum of n_train_values + evaluation samples × len(n_train_values)) "
        f"× instances × n_restarts × (n_features × n_hidden + {PER_FEATURE_WORK} × n_features)",
    )
    limit.check(
        "n_features",
        r.n_instances * r.n_features**2,
        "max_output_values",
        "output size instances × n_features² (each T's model)",
    )
    limit.check(
        "n_train_values",
        r.n_instances * max(r.n_train_values) * (r.n_hidden + 1),
        "max_output_values",
        "output size instances × n_train × (n_hidden + 1) of the largest T's model",
    )
    limit.check(
        "n_train_values",
        len(r.n_train_values) * r.n_instances * r.n_features,
        "max_output_values",
        "output size len(n_train_values) × instances × n_features (the features' dimensionalities)",
    )
    return limit.errors
