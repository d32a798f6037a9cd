"""The paper's per-instance measurements of a trained W (README.md "The model", docs/THEORY.md F4).

All functions take W of shape (..., n_hidden, n_features), any leading batch (instance) dims, and
compute in float64 so that no finite float32 W can overflow. A feature whose column is exactly zero
(not learned) gets norm, superposition and dimensionality 0, never NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor


def gram(W: Tensor) -> Tensor:
    """WᵀW: (..., n_features, n_features); entry (i, j) = Wᵢ·Wⱼ, the diagonal is ‖Wᵢ‖²."""
    W = W.double()
    return W.mT @ W


def feature_norms(W: Tensor) -> Tensor:
    """‖Wᵢ‖: (..., n_features). About 1: represented; about 0: not learned."""
    return torch.linalg.vector_norm(W.double(), dim=-2)


def _projections(W: Tensor) -> tuple[Tensor, Tensor]:
    """(Ŵᵢ·Wⱼ) as (..., n, n) with row i zero where Wᵢ = 0, and ‖Wᵢ‖² as (..., n)."""
    G = gram(W)
    sq_norms = torch.diagonal(G, dim1=-2, dim2=-1)
    norms = sq_norms.sqrt()
    safe = torch.where(norms > 0, norms, torch.ones_like(norms))
    proj = torch.where((norms > 0).unsqueeze(-1), G / safe.unsqueeze(-1), torch.zeros_like(G))
    return proj, sq_norms


def superposition(W: Tensor) -> Tensor:
    """Σ_{j≠i} (Ŵᵢ·Wⱼ)², (..., n_features); TMS colours the norm bars by it.

    0: feature i is orthogonal to every other feature; ≥ 1: the others can activate its
    direction as strongly as the feature itself.
    """
    proj, _ = _projections(W)
    off_diagonal = ~torch.eye(proj.shape[-1], dtype=torch.bool, device=proj.device)
    return (proj**2 * off_diagonal).sum(dim=-1)


def dimensionality(W: Tensor) -> Tensor:
    """Feature dimensionality Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)², j including i.

    Source: TMS §"Geometry › Feature Dimensionality"; docs/THEORY.md F4.

    Returns:
        (..., n_features), in [0, 1]: 1 dedicated, 3/4 tetrahedron, 2/3 triangle, 1/2 antipodal
        pair, 2/5 pentagon, 0 not learned.
    """
    proj, sq_norms = _projections(W)
    total = (proj**2).sum(dim=-1)
    safe = torch.where(total > 0, total, torch.ones_like(total))
    return torch.where(total > 0, sq_norms / safe, torch.zeros_like(total))


def data_dimensionality(hidden: Tensor) -> Tensor:
    """Data-point dimensionality D_t = ‖h_t‖² / Σ_s (ĥ_t · h_s)², s including t: the feature
    dimensionality (:func:`dimensionality`) of the training points' hidden vectors h_t = W x_t.

    Source: Henighan et al. (Anthropic, 2023), "Superposition, Memorization, and Double
    Descent"; docs/THEORY.md F20.

    Args:
        hidden: (..., n_hidden, T): column t is h_t (the layout of W's columns).

    Computed through the m × m second-moment matrix G = Σ_s h_s h_sᵀ, as D_t = ‖h_t‖⁴ /
    (h_tᵀ G h_t), never the T × T Gram matrix: O(T m²) time and memory, so T = 10,000 points
    cost 80 KB, not 800 MB.

    Returns:
        (..., T), in [0, 1]: 1 for a vector orthogonal to every other, 2/T for each vertex of a
        regular T-gon (T ≥ 3) in 2-D, 0 for h_t = 0.
    """
    H = hidden.double()  # (..., m, T)
    G = H @ H.mT  # (..., m, m)
    sq_norms = (H * H).sum(dim=-2)  # (..., T)
    total = (H * (G @ H)).sum(dim=-2)  # h_tᵀ G h_t = Σ_s (h_t·h_s)²
    safe = torch.where(total > 0, total, torch.ones_like(total))
    return torch.where(total > 0, sq_norms**2 / safe, torch.zeros_like(total))


def dimensions_per_feature(W: Tensor) -> Tensor:
    """D* = n_hidden / ‖W‖²_F (TMS §"Uniform Superposition"), shape (...); 0 when W = 0."""
    frobenius_sq = (W.double() ** 2).sum(dim=(-2, -1))
    safe = torch.where(frobenius_sq > 0, frobenius_sq, torch.ones_like(frobenius_sq))
    return torch.where(frobenius_sq > 0, W.shape[-2] / safe, torch.zeros_like(frobenius_sq))


def stuck_outputs(W: Tensor, b: Tensor, x: Tensor) -> Tensor:
    """Output units of a ReLU model that are zero for every input of ``x``: (n_features,) bool.

    ReLU(WᵀW x + b)ᵢ ≤ 0 on every sample means no gradient reaches bᵢ through output i, and the
    unit stays at 0 instead of at least E[xᵢ] (the bias alone); each costs Iᵢ·(E[xᵢ²] − Var xᵢ)
    of loss against a dead-free model with the same W.

    Args:
        W: (n_hidden, n_features), one instance.
        b: (n_features,).
        x: (batch, n_features) inputs, e.g. fresh samples of the model's feature distribution.
    """
    readout = x.double() @ gram(W) + b.double()  # (batch, n)
    return (readout <= 0).all(dim=0)


def linear_model_loss(
    W: Tensor, b: Tensor, importance: Tensor, mean: Tensor, variance: Tensor
) -> Tensor:
    """The exact loss of the linear model x′ = WᵀWx + b for independent features, no sampling.

    With A = WᵀW: L = Σᵢ Iᵢ [Σⱼ (δᵢⱼ − Aᵢⱼ)² Vⱼ + (μᵢ − Σⱼ Aᵢⱼ μⱼ − bᵢ)²]  **[derived,
    elementary]**: what a trained linear model's sampled loss estimates, so that it can be set
    against docs/THEORY.md F3's optimum with no Monte Carlo error.

    Args:
        W: (..., n_hidden, n_features); b, importance: (..., n_features).
        mean, variance: E xⱼ and Var xⱼ, broadcastable to (..., n_features).

    Returns:
        (...,) float64.
    """
    A = gram(W)  # (..., n, n)
    residual = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device) - A
    mean, variance = mean.double().expand(b.shape), variance.double().expand(b.shape)
    spread = (residual**2 * variance.unsqueeze(-2)).sum(dim=-1)  # Σⱼ (δᵢⱼ − Aᵢⱼ)² Vⱼ
    offset = (residual @ mean.unsqueeze(-1)).squeeze(-1) - b.double()  # μᵢ − (Aμ)ᵢ − bᵢ
    return (importance.double() * (spread + offset**2)).sum(dim=-1)


def per_feature_measures(W: Tensor) -> dict[str, list]:
    """Dᵢ, ‖Wᵢ‖ and D* of a stack of weights, as lists (the learning-dynamics plot's data).

    Args:
        W: (..., n_hidden, n_features), e.g. (snapshots, n_instances, m, n).

    Returns:
        ``dimensionality`` and ``feature_norms`` (..., n_features), ``dimensions_per_feature``
        (...,), nested lists.
    """
    return {
        "dimensionality": dimensionality(W).tolist(),
        "feature_norms": feature_norms(W).tolist(),
        "dimensions_per_feature": dimensions_per_feature(W).tolist(),
    }


# -- neurons (TMS §"Superposition in a Privileged Basis") -----------------------------------------
# A neuron is dead when its input and output weights together carry less than this; weight decay
# takes an unused neuron's weights towards 0. The product is unchanged by rescaling a hidden unit
# (its row of W by α, its column of W_out by 1/α), the freedom of the untied model.
DEAD_STRENGTH = 0.05
# A live neuron is monosemantic when one feature holds at least this share of its input weights'
# squared size (the stacked bars' heights are the weights' absolute values).
MONOSEMANTIC_SHARE = 0.9


def neuron_weights(W: Tensor, W_out: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Per neuron: its strength ‖W row‖·‖readout column‖, its largest feature, and that share.

    Args:
        W: (..., n_hidden, n_features): row k holds what each feature writes to neuron k.
        W_out: (..., n_features, n_hidden) of an untied model; None reads back through Wᵀ.

    Returns:
        strength (..., n_hidden), top feature index (..., n_hidden) and its share of Σᵢ W_ki²
        (..., n_hidden; 0 for an all-zero row), float64 and int64.
    """
    W = W.double()
    readout = W.mT if W_out is None else W_out.double()
    squares = W * W  # (..., m, n)
    total = squares.sum(dim=-1)
    top_share, top_feature = squares.max(dim=-1)
    share = torch.where(total > 0, top_share / torch.where(total > 0, total, 1.0), 0.0)
    strength = total.sqrt() * torch.linalg.vector_norm(readout, dim=-2)
    return strength, top_feature, share


def neuron_kinds(strength: Tensor, share: Tensor) -> list[str]:
    """ "dead", "monosemantic" or "polysemantic" per neuron, for 1-D ``strength`` and ``share``
    (see :data:`DEAD_STRENGTH` and :data:`MONOSEMANTIC_SHARE`)."""
    return [
        "dead"
        if s < DEAD_STRENGTH
        else "monosemantic"
        if q >= MONOSEMANTIC_SHARE
        else "polysemantic"
        for s, q in zip(strength.tolist(), share.tolist(), strict=True)
    ]
