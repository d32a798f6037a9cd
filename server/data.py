"""Synthetic sparse features (TMS §"Demonstrating Superposition › Experiment Setup").

Each feature xᵢ is 0 with probability S = 1 − p and uniform on [0, 1] otherwise, independently.

One uniform draw u per entry gives both the mask and the value: x = max(0, 1 − u/p) is positive
exactly when u < p, and then uniform on (0, 1]. That is the paper's distribution (the end points
have probability zero) for one random number per entry instead of two, in two cheap in-place
passes (PERFORMANCE.md: sampling is half of a fast step).

Batches are feature-major, (rows, n_features, B), like the model's inputs (``model.py``).
"""

from __future__ import annotations

import torch
from torch import Tensor


def sparsify_(u: Tensor, negative_inverse_probability: Tensor) -> Tensor:
    """Turn uniform draws into sparse features, in place: u ← max(0, 1 − u/p).

    Args:
        u: (rows, n_features, B), uniform on [0, 1).
        negative_inverse_probability: −1/p, broadcastable to u: (rows, n_features, 1).

    Returns:
        u itself, now x.
    """
    return u.mul_(negative_inverse_probability).add_(1.0).relu_()


def sample_features(
    feature_probability: Tensor, batch_size: int, generator: torch.Generator
) -> Tensor:
    """Draw a batch of sparse feature vectors.

    Args:
        feature_probability: p = 1 − S, shape (rows, n_features), values in (0, 1].
        batch_size: samples to draw, B.
        generator: torch generator on the same device as ``feature_probability``.

    Returns:
        x of shape (rows, n_features, B), dtype of ``feature_probability``.
    """
    p = feature_probability
    u = torch.rand((*p.shape, batch_size), generator=generator, device=p.device, dtype=p.dtype)
    return sparsify_(u, -1.0 / p.unsqueeze(-1))
