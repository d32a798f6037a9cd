"""Measured interference of a W (docs/THEORY.md F13–F14): pairwise cosines of the represented
features with a random baseline, and the "compounding noise" readouts with l features on."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from server.tms import theory_interference
from server.tms.config import Activation
from server.tms.interference import (
    NoiseCurve,
    cosine_statistics,
    crossover,
    default_active_counts,
    histogram_edges,
    noise_curve,
)

COS72, COS144 = math.cos(math.radians(72)), math.cos(math.radians(144))


def _polygon(count: int, norms: list[float] | None = None) -> torch.Tensor:
    """``count`` vectors at angles 2πj/count in R², float64: W of shape (2, count)."""
    angles = torch.arange(count, dtype=torch.float64) * 2 * math.pi / count
    W = torch.stack([angles.cos(), angles.sin()])
    return W if norms is None else W * torch.tensor(norms, dtype=torch.float64)


def _random_unit(m: int, n: int, seed: int) -> torch.Tensor:
    W = torch.randn((m, n), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return W / torch.linalg.vector_norm(W, dim=0, keepdim=True)


# -- cosine_statistics ----------------------------------------------------------------------------
def test_pentagon_cosines() -> None:
    """A regular pentagon (TMS's 2/5 solution, F4): 5 pairs at cos 72° and 5 at cos 144°, so
    RMS √((cos²72° + cos²144°)/2), max |cos| = |cos 144°|, mean (cos 72° + cos 144°)/2 = −1/4;
    the histogram puts the two values in their bins."""
    represented, model, random = cosine_statistics(_polygon(5), min_norm=0.1, bins=4, seed=0)
    assert represented == [0, 1, 2, 3, 4]
    assert model.count == 10
    assert model.rms == pytest.approx(math.sqrt((COS72**2 + COS144**2) / 2), abs=1e-12)
    assert model.max == pytest.approx(abs(COS144), abs=1e-12)
    assert model.mean == pytest.approx((COS72 + COS144) / 2, abs=1e-12)
    assert model.mean == pytest.approx(-0.25, abs=1e-12)
    # edges −1, −0.5, 0, 0.5, 1: cos 144° = −0.81 in the first bin, cos 72° = 0.31 in the third
    assert histogram_edges(4) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert model.counts == [0 + 5, 0, 5, 0]
    assert random.count == 10 and sum(random.counts) == 10


def test_histogram_edges_span_minus_one_to_one() -> None:
    """Equal-width bins over [−1, 1], shared by the model's and the random histogram."""
    for bins in (1, 7, 40):
        edges = histogram_edges(bins)
        assert len(edges) == bins + 1
        assert edges[0] == -1.0 and edges[-1] == pytest.approx(1.0, abs=1e-15)
        widths = [b - a for a, b in itertools.pairwise(edges)]
        assert widths == pytest.approx([2 / bins] * bins, abs=1e-12)


def test_extreme_cosines_land_in_the_end_bins() -> None:
    """cos = −1 (antipodal) and cos = +1 (duplicate direction) are counted, in the end bins."""
    W = torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0]])  # e₁, −2e₁, e₁/2
    _, model, _ = cosine_statistics(W, min_norm=0.1, bins=4, seed=0)
    assert model.count == 3 and model.counts == [2, 0, 0, 1]
    assert model.max == 1.0 and model.mean == pytest.approx(-1 / 3)


def test_unrepresented_features_are_left_out() -> None:
    """Columns below ``min_norm`` (a zero one and a short one) are not represented and do not
    enter the cosines; the represented ones' norms do not matter (cosines are scale-free)."""
    W = torch.cat(
        [_polygon(5, [1.0, 0.3, 2.0, 0.5, 1.0]), torch.zeros(2, 1), 0.01 * _polygon(1)], dim=1
    )
    represented, model, random = cosine_statistics(W, min_norm=0.1, bins=4, seed=0)
    assert represented == [0, 1, 2, 3, 4]
    _, pentagon, pentagon_random = cosine_statistics(_polygon(5), min_norm=0.1, bins=4, seed=0)
    assert model.count == 10 and model.counts == pentagon.counts
    assert model.rms == pytest.approx(pentagon.rms, abs=1e-12)
    assert model.max == pytest.approx(pentagon.max, abs=1e-12)
    assert model.mean == pytest.approx(pentagon.mean, abs=1e-12)
    assert random == pentagon_random  # the baseline depends on the count and seed only

    # a lower threshold takes the short column in; a zero column is never represented
    represented, model, _ = cosine_statistics(W, min_norm=0.005, bins=4, seed=0)
    assert represented == [0, 1, 2, 3, 4, 6] and model.count == 15
    represented, _, _ = cosine_statistics(W, min_norm=0.0, bins=4, seed=0)
    assert 5 not in represented


@pytest.mark.parametrize("columns", [0, 1])
def test_fewer_than_two_represented_features(columns: int) -> None:
    """No pair: count 0, no statistics, an empty histogram; the same for the random baseline."""
    W = torch.zeros(3, 4)
    W[:, :columns] = 1.0
    represented, model, random = cosine_statistics(W, min_norm=0.1, bins=5, seed=0)
    assert represented == list(range(columns))
    for summary in (model, random):
        assert summary.count == 0
        assert summary.rms is None and summary.max is None and summary.mean is None
        assert summary.counts == [0] * 5


def test_random_baseline_is_seeded_and_sized_like_the_model() -> None:
    """The baseline draws as many random unit vectors as there are represented features, in
    the same dimension: the same pair count, the same numbers for the same seed, others for
    another seed."""
    W = _random_unit(10, 30, seed=0)
    W[:, :4] = 0.0  # 26 represented
    _, model, first = cosine_statistics(W, min_norm=0.1, bins=20, seed=1)
    _, _, again = cosine_statistics(W, min_norm=0.1, bins=20, seed=1)
    _, _, other = cosine_statistics(W, min_norm=0.1, bins=20, seed=2)
    assert model.count == first.count == 26 * 25 // 2
    assert sum(first.counts) == first.count
    assert first == again
    assert first.rms != other.rms and first.counts != other.counts


def test_random_vectors_match_f13() -> None:
    """F13: over 2000 random unit vectors in R¹⁰⁰ the RMS overlap is 1/√m = 0.1 and the max
    |overlap| 0.514 in docs/THEORY.md's draw; the model's side (random W) and the seeded baseline
    both give RMS 0.1 to 1 % and a max within 8 % of the expected maximum (0.484)."""
    W = _random_unit(100, 2000, seed=0)
    _, model, random = cosine_statistics(W, min_norm=0.5, bins=50, seed=3)
    expected_max = theory_interference.random_expected_max_overlap(2000, 100)
    assert expected_max is not None
    for summary in (model, random):
        assert summary.count == 2000 * 1999 // 2 == sum(summary.counts)
        assert summary.rms == pytest.approx(theory_interference.random_rms_overlap(100), rel=0.01)
        assert summary.max == pytest.approx(expected_max, rel=0.08)
        assert summary.mean == pytest.approx(0.0, abs=0.005)


# -- noise_curve ----------------------------------------------------------------------------------
def test_orthonormal_features_do_not_interfere() -> None:
    """W = identity (m = n): every readout of an inactive feature is 0, the signal 1, and at
    l = n no feature is inactive (None)."""
    n = 6
    curve = noise_curve(torch.eye(n), torch.zeros(n), "relu", 1, range(1, n + 1), 8, seed=0)
    assert curve.active == list(range(1, n + 1))
    assert curve.pre_activation_rms[:-1] == [0.0] * (n - 1)
    assert curve.post_activation_rms[:-1] == [0.0] * (n - 1)
    assert curve.pre_activation_rms[-1] is None and curve.post_activation_rms[-1] is None
    assert curve.signal == pytest.approx([1.0] * n, abs=1e-12)
    assert crossover(curve) is None


def test_f13_random_noise_grows_like_root_l_over_m() -> None:
    """F13 oracle: l active unit features among 2000 random unit vectors in R¹⁰⁰ put RMS noise
    √(l/m) on the inactive readouts (docs/THEORY.md MC: 0.3158, 0.7023, 1.0069 for l = 10, 50, 100);
    the signal stays about 1, and a ReLU with b = 0 keeps the positive half (RMS ÷ √2)."""
    m, n = 100, 2000
    curve = noise_curve(_random_unit(m, n, 1), torch.zeros(n), "relu", 1, [10, 50, 100], 32, 0)
    for l, pre, post, signal in zip(  # noqa: E741
        curve.active, curve.pre_activation_rms, curve.post_activation_rms, curve.signal, strict=True
    ):
        assert pre is not None and post is not None
        predicted = theory_interference.interference_bounds(n, m, l).random_noise
        assert predicted == pytest.approx(math.sqrt(l / m), rel=1e-12)
        assert pre == pytest.approx(predicted, rel=0.05), l
        assert post == pytest.approx(pre / math.sqrt(2), rel=0.05), l
        assert signal == pytest.approx(1.0, abs=0.1), l


# A triangle in R² (3 unit vectors at 120°): every off-diagonal Wᵢ·Wⱼ is −1/2, so with l = 1 each
# inactive readout is −1/2 (signal 1), with l = 2 the inactive one reads −1 (signal 1/2).
TRIANGLE_CASES = [
    # (activation, power, bias, post-activation RMS at l = 1, at l = 2)
    ("relu", 1, 0.0, 0.0, 0.0),  # ReLU(−1/2) = ReLU(−1) = 0
    ("relu", 1, 0.7, 0.2, 0.0),  # ReLU(0.2), ReLU(−0.3)
    ("relu", 1, -100.0, 0.0, 0.0),  # a large negative bias silences everything
    ("linear", 1, 0.2, 0.3, 0.8),  # post = pre + b: −0.3, −0.8
    ("linear", 1, 0.0, 0.5, 1.0),
    ("power", 3, 0.0, 0.125, 1.0),  # post = pre³: (−1/2)³, (−1)³
    ("power", 3, 5.0, 0.125, 1.0),  # the power model has no bias: b is ignored
    ("power", 5, 0.0, 0.5**5, 1.0),
]


@pytest.mark.parametrize(("activation", "power", "bias", "post1", "post2"), TRIANGLE_CASES)
def test_triangle_readouts_by_hand(
    activation: Activation, power: int, bias: float, post1: float, post2: float
) -> None:
    """Pre- and post-activation readouts of the triangle, worked out by hand, for ReLU (with
    and without bias), linear (post = pre + b) and power (post = preᵏ) models."""
    curve = noise_curve(
        _polygon(3),
        torch.full((3,), bias, dtype=torch.float64),
        activation,
        power,
        [1, 2, 3],
        5,
        seed=0,
    )
    assert curve.pre_activation_rms[:2] == pytest.approx([0.5, 1.0], abs=1e-12)
    assert curve.post_activation_rms[:2] == pytest.approx([post1, post2], abs=1e-12)
    assert curve.pre_activation_rms[2] is None and curve.post_activation_rms[2] is None
    assert curve.signal == pytest.approx([1.0, 0.5, 0.0], abs=1e-12)
    assert crossover(curve) == 2  # noise 1 ≥ signal 1/2


@pytest.mark.parametrize("power", [1, 3, 5])
def test_power_post_is_pre_to_the_k(power: int) -> None:
    """x′ = zᵏ on the inactive readouts, bias ignored: W = [e₁, (1.2, 1.6)] has W₀·W₁ = 1.2, so
    with l = 1 the inactive feature always reads 1.2 and outputs 1.2ᵏ, whichever is on."""
    W = torch.tensor([[1.0, 1.2], [0.0, 1.6]], dtype=torch.float64)
    curve = noise_curve(
        W, torch.tensor([0.3, -0.5], dtype=torch.float64), "power", power, [1, 2], 50, seed=0
    )
    assert curve.pre_activation_rms[0] == pytest.approx(1.2, abs=1e-12)
    assert curve.post_activation_rms[0] == pytest.approx(1.2**power, abs=1e-12)
    assert curve.pre_activation_rms[1] is None and curve.post_activation_rms[1] is None
    assert 1.0 < curve.signal[0] < 4.0  # ‖W₀‖² = 1 or ‖W₁‖² = 4, by the sets drawn
    assert curve.signal[1] == pytest.approx((1 + 1.2 + 4 + 1.2) / 2, abs=1e-12)


def test_noise_curve_is_seeded() -> None:
    """The active sets are drawn from the seed: the same seed repeats the numbers."""
    W = _random_unit(5, 12, seed=4)
    b = torch.zeros(12)
    first = noise_curve(W, b, "relu", 1, [2, 5], 10, seed=3)
    assert noise_curve(W, b, "relu", 1, [2, 5], 10, seed=3) == first
    assert noise_curve(W, b, "relu", 1, [2, 5], 10, seed=4) != first


def test_crossover_is_the_first_l_where_noise_reaches_signal() -> None:
    """The first l with noise ≥ signal (equality counts); None entries (l = n) are skipped."""
    curve = NoiseCurve(
        active=[1, 2, 3, 4],
        pre_activation_rms=[0.1, 0.5, 0.7, None],
        post_activation_rms=[0.0, 0.0, 0.0, None],
        signal=[1.0, 0.5, 0.2, 0.0],
    )
    assert crossover(curve) == 2
    below = NoiseCurve([1, 2], [0.1, None], [0.0, None], [1.0, 0.0])
    assert crossover(below) is None


@pytest.mark.parametrize(("active", "samples"), [([0], 4), ([1, 7], 4), ([-1], 4), ([2], 0)])
def test_noise_curve_rejects_bad_arguments(active: list[int], samples: int) -> None:
    """l must be in 1..n (n = 6 here) and samples ≥ 1."""
    with pytest.raises(ValueError):
        noise_curve(torch.eye(6), torch.zeros(6), "relu", 1, active, samples, seed=0)


def test_default_active_counts() -> None:
    """Every l in 1..n up to n = 64; beyond, at most 48 distinct log-spaced l from 1 to n."""
    assert default_active_counts(1) == [1]
    assert default_active_counts(64) == list(range(1, 65))
    for n in (65, 512, 10**6):
        counts = default_active_counts(n)
        assert counts[0] == 1 and counts[-1] == n
        assert counts == sorted(set(counts))  # increasing, no repeats
        assert 20 <= len(counts) <= 48
    # log-spaced: consecutive ratios at the top end are about n^(1/47)
    counts = default_active_counts(512)
    assert counts[-2] / counts[-1] == pytest.approx(512 ** (-1 / 47), rel=0.05)
