"""The sparse feature sampler follows the paper's distribution."""

from __future__ import annotations

import pytest
import torch

from server.tms.data import sample_features


def test_sampler_sparsity_and_values() -> None:
    p = torch.tensor([[0.1, 0.1, 0.1], [1.0, 1.0, 1.0], [0.5, 0.01, 0.9]])  # (instances, features)
    x = sample_features(p, 200_000, torch.Generator().manual_seed(0))
    assert x.shape == (3, 3, 200_000)  # feature-major: (rows, n_features, B)
    active = x > 0
    torch.testing.assert_close(active.float().mean(dim=-1), p, atol=0.005, rtol=0)
    assert x.min().item() >= 0.0 and x.max().item() <= 1.0
    # Active values are U[0, 1]: mean 1/2, second moment 1/3 (docs/THEORY.md §0).
    values = x[active]
    assert values.mean().item() == pytest.approx(0.5, abs=0.003)
    assert (values**2).mean().item() == pytest.approx(1 / 3, abs=0.003)


def test_sampler_is_deterministic_per_seed() -> None:
    p = torch.full((2, 4), 0.3)
    a = sample_features(p, 64, torch.Generator().manual_seed(5))
    b = sample_features(p, 64, torch.Generator().manual_seed(5))
    c = sample_features(p, 64, torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
