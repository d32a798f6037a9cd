"""The shipped m = 3 presets hold to what their cards claim (TMS §"Uniform Superposition" and
§"Learning as Geometric Transformations"), checked against computations of our own from the
shipped weights: dimensionality Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)² in numpy (not server.tms.metrics), and
losses on fresh samples drawn here (not the ones that picked the seed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.server.test_shipped_cache import PRESETS, shipped


def dims(W: np.ndarray) -> np.ndarray:
    """Dᵢ of W (n_hidden, n_features), the paper's definition (§"Feature Dimensionality")."""
    norms = np.linalg.norm(W, axis=0)
    unit = W / np.where(norms > 0, norms, 1.0)
    return norms**2 / ((unit.T @ W) ** 2).sum(axis=1)


def cosines(W: np.ndarray) -> np.ndarray:
    unit = W / np.linalg.norm(W, axis=0)
    return unit.T @ unit


def weights(preset: str, index: int, tmp_path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """W (3, n), b and the instance's 1 − S of request ``index``'s only instance."""
    result = shipped(preset, tmp_path, index)
    (instance,) = result.instances
    assert len(instance.W) == 3, "an m = 3 preset"
    return np.array(instance.W), np.array(instance.b), float(instance.feature_probability)


def fresh_loss(W: np.ndarray, b: np.ndarray, p: float, samples: int = 1 << 20) -> float:
    """L = E Σᵢ (xᵢ − ReLU(WᵀWx + b)ᵢ)², equal importance, on fresh U[0, 1] features active
    with probability p (TMS §"Demonstrating Superposition"), in chunks."""
    rng = np.random.default_rng(12345)
    total = 0.0
    chunk = 1 << 16
    for _ in range(samples // chunk):
        x = rng.random((chunk, W.shape[1])) * (rng.random((chunk, W.shape[1])) < p)
        out = np.maximum(x @ W.T @ W + b, 0.0)
        total += float(((x - out) ** 2).sum())
    return total / samples


def test_six_features_form_an_octahedron(tmp_path: Path) -> None:
    """Octahedron: three antipodal pairs on orthogonal axes, every Dᵢ = 1/2."""
    W, _, _ = weights("polyhedra-3d", 2, tmp_path)
    assert W.shape == (3, 6)
    assert np.allclose(dims(W), 0.5, atol=0.02), dims(W)
    cos = cosines(W)
    partners = [int(np.argmin(row)) for row in cos]
    assert all(cos[i, j] < -0.98 for i, j in enumerate(partners))
    assert sorted(partners) == list(range(6))  # a perfect matching: three pairs
    off = np.abs(cos[np.abs(cos) < 0.9])  # every non-partner pair is (nearly) orthogonal
    assert off.max() < 0.1


def test_eight_features_form_a_square_antiprism(tmp_path: Path) -> None:
    """Square antiprism: all eight Dᵢ equal, near 3/8, and each vertex has 4 near neighbours
    (two in its own square, two in the other) at one angle: the Thomson solution's geometry."""
    W, _, _ = weights("polyhedra-3d", 3, tmp_path)
    d = dims(W)
    assert np.allclose(d, 3 / 8, atol=0.015), d
    assert d.max() - d.min() < 0.015
    cos = cosines(W)
    for i in range(8):
        others = np.sort(np.delete(cos[i], i))[::-1]
        # the four nearest at nearly one cosine, clearly apart from the rest
        assert others[0] - others[3] < 0.08 and others[3] - others[4] > 0.15, others


@pytest.mark.parametrize(
    ("index", "polytope_W"),
    [
        # the regular tetrahedron's four unit vertices
        (0, np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]).T / np.sqrt(3)),
        # triangular bipyramid: a unit triangle in a plane, an antipodal pair on its axis
        (
            1,
            np.array(
                [[1, 0, 0], [-0.5, 0.75**0.5, 0], [-0.5, -(0.75**0.5), 0], [0, 0, 1], [0, 0, -1]]
            ).T,
        ),
    ],
    ids=["tetrahedron", "bipyramid"],
)
def test_four_and_five_features_take_antipodal_pairs_beside_dedicated_ones(
    index: int, polytope_W: np.ndarray, tmp_path: Path
) -> None:
    """What the card says instead of the tetrahedron (4) and bipyramid (5): pairs at Dᵢ = 1/2
    and the rest dedicated (Dᵢ = 1), with a lower loss on fresh samples than the polytope's
    (unit vertices, b = 0)."""
    W, b, p = weights("polyhedra-3d", index, tmp_path)
    n = W.shape[1]
    d = np.sort(dims(W))
    pairs = 2 * (n - 3)  # 4 features: one pair and two dedicated; 5: two pairs and one
    assert np.allclose(d[:pairs], 0.5, atol=0.02) and np.allclose(d[pairs:], 1.0, atol=0.02), d
    assert fresh_loss(W, b, p) < fresh_loss(polytope_W, np.zeros(n), p)


def test_correlated_sets_end_in_an_octahedron_of_cross_set_pairs(tmp_path: Path) -> None:
    """§"Learning as Geometric Transformations": 2 correlated sets of 3 in m = 3 end in an
    octahedron whose antipodal pairs join features of different sets; the replay kept its
    snapshots from step 0 to the end."""
    result = shipped("geometric-transformations", tmp_path, 0)
    W = np.array(result.instances[0].W)
    assert np.allclose(dims(W), 0.5, atol=0.02)
    cos = cosines(W)
    sets = [set(s.features) for s in PRESETS["geometric-transformations"].requests[0].feature_sets]
    for i in range(6):
        j = int(np.argmin(cos[i]))
        assert cos[i, j] < -0.97
        assert (i in sets[0]) != (j in sets[0]), f"pair {i}, {j} within one set"
    assert result.snapshots is not None and len(result.snapshots) == 81
    assert result.snapshots[0].step == 0 and result.snapshots[-1].step == result.request.steps
