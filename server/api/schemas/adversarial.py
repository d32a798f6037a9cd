"""The contract of GET /api/models/{id}/adversarial: a trained instance's vulnerability to the
paper's analytic L2 attack (TMS §"Relationship to Adversarial Robustness"; docs/THEORY.md).
No torch here."""

from __future__ import annotations

from pydantic import BaseModel, Field

# Structural ceilings on the query: they bound the answer's work.
MAX_ADVERSARIAL_SAMPLES = 1 << 16
DEFAULT_ADVERSARIAL_SAMPLES = 1 << 14
MAX_EPSILON = 10.0
# samples × n_features² × (n_hidden + 1): one multiply-add per weight per attacked input, every
# feature's attack on every sample (about a second on 2 CPU cores at the limit).
MAX_ADVERSARIAL_WORK = 1 << 32


def max_adversarial_samples(n_features: int, n_hidden: int) -> int:
    """The most samples a model of this shape may be attacked on (at least 1)."""
    per_sample = n_features * n_features * (n_hidden + 1)
    return max(1, min(MAX_ADVERSARIAL_SAMPLES, MAX_ADVERSARIAL_WORK // per_sample))


class AdversarialResult(BaseModel):
    """One instance's losses under the analytic attack δᵢ = λ (WᵀW)ᵢ / ‖(WᵀW)ᵢ‖, the worst
    feature's attack per input (TMS §"Relationship to Adversarial Robustness")."""

    id: str = Field(description="the model's id")
    instance: int = Field(description="which instance, from 0")
    epsilon: float = Field(description="ε: the attack norm as a fraction of the mean input norm")
    attack_norm: float = Field(description="λ = ε · mean ‖x‖ over the samples")
    mean_input_norm: float = Field(description="mean ‖x‖ over the samples")
    clean_loss: float = Field(description="mean Σⱼ Iⱼ (yⱼ − x′ⱼ(x))² over the samples")
    attacked_loss: float = Field(
        description="mean over the samples of maxᵢ Σⱼ Iⱼ (yⱼ − x′ⱼ(x + δᵢ))², over every "
        "feature i with (WᵀW)ᵢ ≠ 0 (the target stays the clean y)"
    )
    vulnerability: float = Field(
        description="(attacked_loss − clean_loss) / λ²: 1 for orthogonal unit features"
    )
    vulnerability_stderr: float = Field(description="the standard error of `vulnerability`")
    samples: int = Field(description="fresh inputs drawn from `seed`")
    seed: int
    attacked_features: int = Field(description="features with (WᵀW)ᵢ ≠ 0, each one attack")
    worst_feature: list[int] = Field(
        description="per feature, on how many samples its attack harmed most (ties: the lowest i)"
    )
    dimensions_per_feature: float = Field(description="D* = n_hidden / ‖W‖²_F of the instance")
