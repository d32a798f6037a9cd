"""The power page's sweep (``POST /api/power-sweeps/plan``): one request → its model requests.

Chowdhury & Weiner's power model (docs/THEORY.md F15), x′ = (WᵀWx)ᵏ, trained at several hidden
dimensions m, each m one :class:`~server.api.schemas.models.ModelRequest` whose instances are
the sweep's feature probabilities, log-spaced from ``p_min`` to ``p_max``. The rules that turn a
sweep into model requests live here, once: the log spacing (four significant digits, so that a
link and the shipped cache agree on every float) and the power rule n = mᵏ + 1, the fewest
features in the theorem's regime n > mᵏ, capped at the server's ``max_features``. The power
page asks for the plan and posts its model requests as given, so its default sweep (the
``power-sweep`` preset of server/presets.json) opens from the shipped cache. No torch here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.api.schemas.bounded import RequestModel
from server.api.schemas.models import MAX_INT, ModelRequest, Probability
from server.api.settings import Limits
from server.tms.config import DEFAULT_LR, Magnitude
from server.tms.theory import log_spaced

MAX_M_VALUES = 6  # hidden dimensions per sweep: one training each
SIGNIFICANT_DIGITS = 4  # of every swept probability

EXAMPLE_POWER_SWEEP: dict[str, Any] = {
    "k": 3,
    "n_hidden": [2, 3],
    "magnitude": "uniform",
    "n_features": None,
    "p_min": 0.001,
    "p_max": 0.5,
    "points": 8,
    "steps": 4000,
    "batch_size": 1024,
    "seed": 0,
}


def power_rule_features(n_hidden: int, k: int) -> int:
    """n = mᵏ + 1: the fewest features in Theorem 2.2's regime n > mᵏ (docs/THEORY.md F15)."""
    return n_hidden**k + 1


def swept_probabilities(p_min: float, p_max: float, points: int) -> list[float]:
    """``points`` probabilities log-spaced from ``p_min`` to ``p_max``, each rounded to four
    significant digits, distinct and ascending (one point, or p_min = p_max: ``[p_min]``)."""
    values = log_spaced(p_min, p_max, points) if points > 1 else [p_min]
    return sorted({float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in values})


class PowerSweepRequest(RequestModel):
    """A sweep of the power model: one training per m of ``n_hidden``, each p one instance."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_POWER_SWEEP]})

    k: Literal[1, 3, 5] = Field(3, description="the power: x′ = (WᵀWx)ᵏ")
    n_hidden: list[Annotated[int, Field(ge=1, le=MAX_INT)]] = Field(
        [2, 3],
        min_length=1,
        max_length=MAX_M_VALUES,
        description=f"the hidden dimensions m, one training each (sorted, repeats dropped; at "
        f"most {MAX_M_VALUES}); each is checked against max_hidden when it trains",
    )
    magnitude: Magnitude = Field("uniform", description="ξ ~ U[−1, 1], or ±1 with a fair sign")
    n_features: int | None = Field(
        None,
        ge=1,
        le=MAX_INT,
        description="n for every m; null: automatic, n = mᵏ + 1 per m, at most max_features",
    )
    p_min: Probability = Field(1e-3, description="the sweep's smallest feature probability")
    p_max: Probability = Field(0.5, description="the sweep's largest feature probability")
    points: int = Field(8, ge=1, le=4096, description="how many p, log-spaced (instances)")
    steps: int = Field(4000, ge=1, le=MAX_INT, description="AdamW steps")
    batch_size: int = Field(1024, ge=1, le=MAX_INT, description="samples per step")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="random seed")

    @field_validator("n_hidden")
    @classmethod
    def _sorted(cls, value: list[int]) -> list[int]:
        return sorted(set(value))

    def normalised(self) -> PowerSweepRequest:
        """p_min and p_max the right way round."""
        lo, hi = sorted((self.p_min, self.p_max))
        return self.model_copy(update={"p_min": lo, "p_max": hi})

    def feature_probabilities(self) -> list[float]:
        """The swept p (:func:`swept_probabilities`)."""
        sweep = self.normalised()
        return swept_probabilities(sweep.p_min, sweep.p_max, sweep.points)

    def theory_range(self) -> tuple[float, float]:
        """The p range of the theory lines: the swept range, a single p widened to
        [p/2, min(2p, 1)] so that the lines have a length."""
        ps = self.feature_probabilities()
        lo, hi = ps[0], ps[-1]
        if hi > lo:
            return lo, hi
        return lo / 2, min(2 * hi, 1.0)

    def features_for(self, n_hidden: int, max_features: int) -> tuple[int, bool]:
        """n for one m, and whether the power rule hit ``max_features`` (automatic n only)."""
        if self.n_features is not None:
            return self.n_features, False
        wanted = power_rule_features(n_hidden, self.k)
        return min(wanted, max_features), wanted > max_features

    def model_request(self, n_hidden: int, max_features: int) -> ModelRequest:
        """The model request that trains one m: every swept p is one instance."""
        return ModelRequest(
            n_features=self.features_for(n_hidden, max_features)[0],
            n_hidden=n_hidden,
            activation="power",
            power=self.k,
            magnitude=self.magnitude,
            feature_probability=self.feature_probabilities(),  # type: ignore[arg-type]
            steps=self.steps,
            batch_size=self.batch_size,
            seed=self.seed,
            lr=DEFAULT_LR,
        )

    def model_requests(self, max_features: int) -> list[ModelRequest]:
        """Every m's model request, in increasing m."""
        return [self.model_request(m, max_features) for m in self.n_hidden]

    def shipped_requests(self) -> list[ModelRequest]:
        """The model requests as a server with the default limits plans them: what
        ``python -m server.precompute`` trains and models_cache/ ships for a preset."""
        return self.normalised().model_requests(Limits().max_features)


class PowerRun(BaseModel):
    """One m of a sweep: its feature count, where it stands against the theorem, its request."""

    n_hidden: int = Field(description="m")
    n_features: int = Field(description="n for this m")
    threshold: int = Field(description="mᵏ: the theorem needs n > mᵏ")
    auto: bool = Field(description="n was chosen by the power rule n = mᵏ + 1")
    capped: bool = Field(description="the power rule's n was over max_features and capped")
    in_regime: bool = Field(description="n > mᵏ")
    model_request: ModelRequest = Field(description="POST it to /api/models to train (or load) m")
    model_id: str | None = Field(
        description="its id, for GET /api/models/{id}; null when it is over a limit"
    )
    cached: bool = Field(description="whether the server's cache holds it now")
    limit_errors: list[str] = Field(
        default_factory=list,
        description="the server's limits it is over (POST /api/models refuses it, naming them)",
    )


class PowerSweepPlan(BaseModel):
    """What a sweep trains: its swept p, the theory lines' p range, and one run per m."""

    request: PowerSweepRequest = Field(description="the sweep, p_min ≤ p_max")
    feature_probability: list[float] = Field(description="the swept p, ascending")
    theory_range: tuple[float, float] = Field(
        description="p_min and p_max for GET /api/theory/power (a single p widened)"
    )
    runs: list[PowerRun]
