"""The contract of the analysis endpoints: a trained model's interference and compounding noise,
the interference calculator, and the power model's theory lines (issue "Superposition is not
magic"; docs/THEORY.md F13–F15). No torch here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from server.tms.config import Magnitude

# Structural ceilings on the analysis queries: they bound each answer's work and size.
MAX_BINS = 200
MAX_L_VALUES = 64
MAX_NOISE_SAMPLES = 256
MAX_THEORY_POINTS = 400
MAX_CALCULATOR_SIZE = 10**9


class Histogram(BaseModel):
    edges: list[float] = Field(description="bins + 1 edges over [−1, 1]")
    counts: list[int] = Field(description="cosines per bin")


class CosineStatistics(BaseModel):
    """Pairwise cosines Ŵᵢ·Ŵⱼ, i < j, of a set of directions; None when there is no pair."""

    count: int = Field(description="pairs")
    rms: float | None = Field(description="√mean(cos²)")
    max: float | None = Field(description="max |cos|")
    mean: float | None = Field(description="mean cos")
    histogram: Histogram


class InterferenceBounds(BaseModel):
    """Random-vector and Johnson–Lindenstrauss figures (docs/THEORY.md F13–F14; Linsefors)."""

    n_features: int = Field(description="n, the number of features (directions)")
    n_hidden: int = Field(description="m, the hidden dimension")
    l: int = Field(description="active features")  # noqa: E741 (Linsefors's name)
    random_rms_overlap: float = Field(description="1/√m: RMS cosine of random unit vectors")
    random_expected_max_overlap: float | None = Field(
        description="expected max |cos| over the pairs of n random unit vectors (extreme-value "
        "approximation); null if n < 2"
    )
    jl_overlap: float = Field(description="ε = √(8 ln n / m), Linsefors's JL interference")
    random_noise: float = Field(description="√(l/m): RMS readout noise from l random directions")
    jl_noise: float = Field(description="ε·√l: the worst-case noise")
    typical_budget: float = Field(description="m: l where random noise reaches a unit signal")
    worst_case_budget: float | None = Field(
        description="m / (8 ln n): Linsefors's budget; null if n = 1"
    )


class InterferenceStatistics(BaseModel):
    """A trained instance's interference beside random directions (docs/THEORY.md F13–F14)."""

    id: str
    instance: int
    n_features: int
    n_hidden: int
    min_norm: float = Field(description="features with ‖Wᵢ‖ ≥ min_norm count as represented")
    represented: list[int] = Field(description="indices of the represented features")
    model: CosineStatistics = Field(description="cosines among the represented features")
    random: CosineStatistics = Field(
        description="cosines among as many random unit vectors in R^n_hidden (seeded)"
    )
    bounds: InterferenceBounds = Field(
        description="the calculator for n = len(represented), m = n_hidden, l = 1"
    )


class NoiseCurve(BaseModel):
    """Compounding noise: l features on at magnitude 1, the inactive ones read out (F13)."""

    id: str
    instance: int
    n_features: int
    n_hidden: int
    samples: int = Field(description="random active sets per l")
    seed: int
    l: list[int] = Field(description="numbers of active features")  # noqa: E741
    pre_activation_rms: list[float | None] = Field(
        description="RMS of (WᵀW x)ⱼ over inactive j and samples; null if l = n"
    )
    post_activation_rms: list[float | None] = Field(
        description="RMS of the model's output x′ⱼ (trained bias and activation) on inactive j"
    )
    signal: list[float] = Field(description="mean (WᵀW x)ᵢ over active i")
    predicted_rms: list[float] = Field(description="√(l/m), random unit directions (F13)")
    crossover_l: int | None = Field(description="first l with noise ≥ signal, or null")
    typical_budget: float = Field(description="m")
    worst_case_budget: float | None = Field(description="m / (8 ln n); null if n = 1")


class PowerMoments(BaseModel):
    mu2: float = Field(description="E ξ²")
    mu_k1: float = Field(description="E ξ^(k+1)")
    mu_2k: float = Field(description="E ξ^(2k)")


class PowerTheory(BaseModel):
    """Lines to draw beside trained power models' gains (docs/THEORY.md F15; gains, not losses)."""

    k: Literal[1, 3, 5]
    n_hidden: int
    n_features: int
    magnitude: Magnitude
    moments: PowerMoments
    per_feature_gain: float = Field(description="μ_{k+1}²/μ_{2k}: a dedicated feature's gain / p")
    in_theorem_regime: bool = Field(
        description="n > m^k (Theorem 2.2 also needs m above an unknown m₀)"
    )
    very_sparse_edge: float = Field(description="p = m^−k, where the two shapes meet")
    p: list[float] = Field(description="log-spaced feature probabilities")
    zero_output_loss: list[float] = Field(description="p·n·μ₂, the loss of x′ = 0: the most gain")
    unsuperposed_gain: list[float] = Field(
        description="p·min(m, n)·μ_{k+1}²/μ_{2k}: the best diagonal WᵀW (Eqs. 9–10)"
    )
    linear_ceiling: list[float] | None = Field(description="k = 1 only: p·μ₂·min(m, n)")
    shape_sparse: list[float] = Field(description="p·m^k, a shape with constant 1, not a value")
    shape_dense: list[float] = Field(description="m·p^(1/k), a shape with constant 1, not a value")
