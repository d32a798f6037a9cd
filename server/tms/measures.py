"""The paper's measures of a trained model that need its config: the closed-form losses it is
compared with, its exact loss where one exists, and the neuron view of a ReLU hidden layer.

Plain dataclasses and floats: the web layer turns them into its schemas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from server.tms import metrics, theory, theory_power
from server.tms.config import ModelConfig

NeuronKind = Literal["monosemantic", "polysemantic", "dead"]


def theory_losses(config: ModelConfig, instance: int) -> dict[str, float]:
    """The closed-form losses instance ``instance`` is compared with (name → loss).

    ``zero_output`` (E Σᵢ Iᵢ yᵢ², from each feature's marginal probability) always. With
    independent features: for ReLU and linear models ``linear_optimum``, the best loss without
    superposition (TMS §"Demonstrating Superposition": the m most important features kept, the
    bias on the rest), which a ReLU hidden layer reaches too; ``uniform_*`` (TMS §"Uniform
    Superposition": antipodal pairs and the like) for uniform magnitudes, one p and equal
    importances with n ≥ 2m, without a hidden ReLU; for power models with one p the best
    unsuperposed loss ``power_unsuperposed`` (Chowdhury & Weiner); for the absolute-value model
    ``absolute_value_unsuperposed``: the same formula with m // 2 features kept (two neurons per
    feature, |x| = ReLU(x) + ReLU(−x), and the mean of |x| on the rest). Correlated sets change
    the covariance the formulas assume, so they get ``zero_output`` only.

    Inputs scaled to unit length (``normalize_inputs``) change every moment the formulas use, so
    they get none (an empty dict).

    Raises:
        IndexError: ``instance`` is not one of the config's instances.
    """
    if config.normalize_inputs:
        _ = config.probability_rows[instance]  # IndexError for an instance that is not there
        return {}
    importance = config.importances
    row = config.probability_rows[instance]
    p = config.feature_probabilities[instance]
    marginal = config.marginal_probabilities(instance)
    # E Σᵢ Iᵢ yᵢ² = μ₂ Σᵢ Iᵢ qᵢ: theory's zero-output loss of "importance" Σᵢ Iᵢ qᵢ at p = 1
    weighted = math.fsum(i * q for i, q in zip(importance, marginal, strict=True))
    zero = theory.zero_output_loss(weighted, 1.0, config.magnitude, config.signed)
    losses = {"zero_output": zero}
    if config.feature_sets:
        return losses
    if config.activation == "power":
        if isinstance(p, list):
            return losses
        kept = theory_power.kept_importance(importance, config.n_hidden)
        gain = theory_power.unsuperposed_gain(p, config.k, kept, config.magnitude)
        return losses | {"power_unsuperposed": losses["zero_output"] - gain}
    if config.absolute_value:
        kept_features = config.n_hidden // 2
        unsuperposed = theory.linear_optimum(importance, row, kept_features, config.magnitude)
        return losses | {"absolute_value_unsuperposed": unsuperposed}
    losses["linear_optimum"] = theory.linear_optimum(
        importance, row, config.n_hidden, config.magnitude
    )
    uniform_inputs = config.magnitude == "uniform" and config.hidden == "none"
    if uniform_inputs and len(set(importance)) == 1 and not isinstance(p, list):
        uniform = theory.uniform_superposition(config.n_features, config.n_hidden, p)
        if uniform is not None:  # it assumes importance 1; the loss scales with it
            losses |= {f"uniform_{k}": importance[0] * v for k, v in uniform.items()}
    return losses


def exact_linear_losses(config: ModelConfig, W: Tensor, b: Tensor) -> list[float | None]:
    """Each instance's exact loss if the model is linear with independent features and no hidden
    ReLU (``metrics.linear_model_loss``, from the data's moments), else None per instance.

    Args:
        W: (n_instances, n_hidden, n_features); b: (n_instances, n_features).
    """
    rows = config.probability_rows
    linear = config.activation == "linear" and config.hidden == "none"
    if not linear or config.feature_sets or config.normalize_inputs:
        return [None] * len(rows)
    p = torch.tensor(rows, dtype=torch.float64)  # (I, n)
    variance = torch.tensor([[theory.variance(q, config.magnitude) for q in row] for row in rows])
    importance = torch.tensor(config.importances, dtype=torch.float64)
    mean = p * theory.moment(1, config.magnitude)
    W, b = W.detach().cpu(), b.detach().cpu()
    return metrics.linear_model_loss(W, b, importance, mean, variance).tolist()


def hidden_vectors(W: Tensor, x: Tensor, hidden: str = "none") -> Tensor:
    """The hidden vectors h = W x of data points x (ReLU'd for ``hidden="relu"``).

    Args:
        W: (..., n_hidden, n_features); x: (..., n_features, T), one point per column.

    Returns:
        (..., n_hidden, T) float64.
    """
    h = W.detach().double() @ x.detach().double()
    return h.relu() if hidden == "relu" else h


@dataclass(frozen=True)
class Neuron:
    """One hidden neuron of a ReLU hidden layer (TMS's stacked neuron bars).

    Attributes:
        strength: ‖W row k‖ · ‖readout column k‖ (W_out, or Wᵀ if tied).
        top_feature: the feature with the largest |W_ki|.
        top_share: that feature's share of Σᵢ W_ki², in [0, 1].
        kind: dead (strength < ``metrics.DEAD_STRENGTH``), monosemantic (top_share ≥
            ``metrics.MONOSEMANTIC_SHARE``) or polysemantic.
    """

    strength: float
    top_feature: int
    top_share: float
    kind: NeuronKind


@dataclass(frozen=True)
class NeuronCounts:
    """An instance's neurons and how many of each kind, with the thresholds used."""

    neurons: tuple[Neuron, ...]
    monosemantic: int
    polysemantic: int
    dead: int
    monosemantic_share: float = metrics.MONOSEMANTIC_SHARE
    dead_strength: float = metrics.DEAD_STRENGTH


def neuron_views(W: Tensor, W_out: Tensor | None) -> list[NeuronCounts]:
    """The neuron view of every instance (TMS §"Superposition in a Privileged Basis").

    Args:
        W: (n_instances, n_hidden, n_features); W_out: (n_instances, n_features, n_hidden) of an
            untied model, or None.
    """
    W = W.detach().cpu()
    W_out = None if W_out is None else W_out.detach().cpu()
    strength, top_feature, share = metrics.neuron_weights(W, W_out)
    views = []
    for k in range(W.shape[0]):
        kinds = metrics.neuron_kinds(strength[k], share[k])
        neurons = tuple(
            Neuron(s, f, q, kind)  # type: ignore[arg-type]
            for s, f, q, kind in zip(
                strength[k].tolist(), top_feature[k].tolist(), share[k].tolist(), kinds, strict=True
            )
        )
        views.append(
            NeuronCounts(
                neurons,
                kinds.count("monosemantic"),
                kinds.count("polysemantic"),
                kinds.count("dead"),
            )
        )
    return views
