"""Metrics against exact geometries (docs/THEORY.md F4, README.md "The model")."""

from __future__ import annotations

import math

import pytest
import torch

from server.tms import metrics


def polygon(k: int) -> torch.Tensor:
    """k unit vectors evenly spaced on the circle, as W of shape (2, k)."""
    angles = torch.arange(k, dtype=torch.float64) * 2 * math.pi / k
    return torch.stack([angles.cos(), angles.sin()])


def tetrahedron() -> torch.Tensor:
    corners = torch.tensor([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float64)
    return (corners / math.sqrt(3)).T  # (3, 4)


# (W, expected D_i, expected superposition_i, expected D*)
GEOMETRIES = {
    "antipodal": (torch.tensor([[1.0, -1.0]]), 1 / 2, 1.0, 1 / 2),
    "triangle": (polygon(3), 2 / 3, 2 * 0.25, 2 / 3),
    "square": (polygon(4), 1 / 2, 1.0, 1 / 2),
    "pentagon": (
        polygon(5),
        2 / 5,
        2 * math.cos(2 * math.pi / 5) ** 2 + 2 * math.cos(4 * math.pi / 5) ** 2,
        2 / 5,
    ),
    "tetrahedron": (tetrahedron(), 3 / 4, 3 * (1 / 9), 3 / 4),
}


@pytest.mark.parametrize("name", GEOMETRIES)
def test_metrics_of_regular_geometries(name: str) -> None:
    W, dim, sup, d_star = GEOMETRIES[name]
    n = W.shape[1]
    torch.testing.assert_close(
        metrics.dimensionality(W), torch.full((n,), dim, dtype=torch.float64)
    )
    torch.testing.assert_close(metrics.superposition(W), torch.full((n,), sup, dtype=torch.float64))
    torch.testing.assert_close(metrics.feature_norms(W), torch.ones(n, dtype=torch.float64))
    assert metrics.dimensions_per_feature(W).item() == pytest.approx(d_star)
    torch.testing.assert_close(metrics.gram(W), (W.T @ W).double())


def test_pentagon_superposition_value() -> None:
    # cos²72° ≈ 0.0955, cos²144° ≈ 0.6545: 2·(0.0955 + 0.6545) = 1.5 exactly.
    assert metrics.superposition(polygon(5))[0].item() == pytest.approx(1.5)


def test_unused_feature_gives_zeros_not_nan() -> None:
    W = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    torch.testing.assert_close(
        metrics.dimensionality(W), torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    )
    torch.testing.assert_close(
        metrics.feature_norms(W), torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    )
    torch.testing.assert_close(metrics.superposition(W), torch.zeros(3, dtype=torch.float64))
    assert metrics.dimensions_per_feature(W).item() == pytest.approx(1.0)


def test_all_zero_weights_are_zero_everywhere() -> None:
    W = torch.zeros(2, 3, 4)
    for fn in (
        metrics.dimensionality,
        metrics.superposition,
        metrics.feature_norms,
        metrics.dimensions_per_feature,
    ):
        out = fn(W)
        assert torch.isfinite(out).all()
        assert (out == 0).all()


def test_metrics_match_definitions_on_random_weights() -> None:
    torch.manual_seed(0)
    W = torch.randn(3, 4, 7)  # (instances, m, n)
    sup, dim = metrics.superposition(W), metrics.dimensionality(W)
    for k in range(3):
        cols = W[k].double().T  # (n, m)
        for i in range(7):
            unit = cols[i] / cols[i].norm()
            overlaps = cols @ unit  # Ŵᵢ·Wⱼ for every j
            expected_sup = sum(overlaps[j] ** 2 for j in range(7) if j != i)
            assert sup[k, i].item() == pytest.approx(expected_sup.item())
            assert dim[k, i].item() == pytest.approx(
                (cols[i].norm() ** 2 / (overlaps**2).sum()).item()
            )
    d_star = metrics.dimensions_per_feature(W)
    torch.testing.assert_close(d_star, 4 / (W.double() ** 2).sum(dim=(1, 2)))


def test_dimensionality_is_scale_invariant_and_sums_to_rank() -> None:
    torch.manual_seed(1)
    W = torch.randn(3, 8)
    torch.testing.assert_close(metrics.dimensionality(W), metrics.dimensionality(7.5 * W))
    # Σᵢ Dᵢ ≤ rank W (docs/THEORY.md F4); with 8 generic vectors in 3-D it is strictly below 3.
    assert metrics.dimensionality(W).sum().item() <= 3 + 1e-9


def test_extreme_finite_weights_stay_finite() -> None:
    big = torch.finfo(torch.float32).max
    tiny = torch.finfo(torch.float32).smallest_normal / 4  # subnormal
    W = torch.tensor([[big, -big, tiny, 0.0], [tiny, big, -tiny, 0.0]])
    for fn in (
        metrics.gram,
        metrics.dimensionality,
        metrics.superposition,
        metrics.feature_norms,
        metrics.dimensions_per_feature,
    ):
        assert torch.isfinite(fn(W)).all(), fn.__name__
