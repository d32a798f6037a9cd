"""Synthetic sparse features (TMS §"Demonstrating Superposition › Experiment Setup").

Each feature xᵢ is 0 with probability S = 1 − p and uniform on [0, 1) otherwise, independently.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sample_features(
    feature_probability: Tensor, batch_size: int, generator: torch.Generator
) -> Tensor:
    """Draw a batch of sparse feature vectors.

    One uniform draw u per entry gives both the mask and the value: the feature is active when
    u < p, and then u / p is uniform on [0, 1). This is exactly the paper's distribution, and
    costs one random number per entry instead of two (PERFORMANCE.md).

    Args:
        feature_probability: p = 1 − S, shape (n_instances, n_features), values in (0, 1].
        batch_size: samples to draw, B.
        generator: torch generator on the same device as ``feature_probability``.

    Returns:
        x of shape (B, n_instances, n_features), dtype of ``feature_probability``.
    """
    p = feature_probability
    u = torch.rand((batch_size, *p.shape), generator=generator, device=p.device, dtype=p.dtype)
    return torch.where(u < p, u / p, torch.zeros((), device=p.device, dtype=p.dtype))
