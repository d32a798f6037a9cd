"""The sparse sampler (server/tms/sparse.py) draws exactly the dense sampler's distribution.

Every statistical check is at a fixed seed, with a false-alarm rate of about 1e-4 per check
(|z| < 3.9 for counts, the chi-square's and Kolmogorov–Smirnov's 1 − 1e-4 quantiles): a
correct sampler fails one of this file's checks with probability below 1 %, and the seeds are
fixed, so the outcome does not change from run to run.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from server.tms.config import FeatureSet
from server.tms.data import FeatureDistribution, sample_features
from server.tms.sparse import SparseSampler
from server.tms.training import TrainingBatch, run_to_end
from tests.server.runs import eager_only, make_run

Z = 3.9  # two-sided normal quantile of a 1e-4 false-alarm rate
ALPHA = 1e-4


def sparse_draws(
    probability: Tensor, distribution: FeatureDistribution, batch: int, times: int, seed: int
) -> Tensor:
    """``times`` batches from one sparse sampler, every row sparse: (rows, n, batch · times)."""
    sampler = SparseSampler(probability, distribution, batch, every_row=True)
    generator = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(times):
        x = torch.empty((*probability.shape, batch))
        out.append(sampler.draw(x, generator).clone())
    return torch.cat(out, dim=-1)


def assert_count(observed: float, trials: float, p: float) -> None:
    """``observed`` successes of ``trials`` Bernoulli(p): within Z standard deviations."""
    mean, sd = trials * p, math.sqrt(trials * p * (1 - p))
    assert abs(observed - mean) <= Z * sd + 1e-9, (observed, mean, sd)


def chi_square_quantile(dof: int) -> float:
    """The 1 − ALPHA quantile of χ²(dof) (Wilson–Hilferty; z = 3.72 for 1e-4 one-sided)."""
    z = 3.719
    return dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3


def assert_fits(counts: Tensor, expected: Tensor) -> None:
    """A chi-square test of observed category ``counts`` against ``expected`` counts (bins with
    fewer than 5 expected merged into the last)."""
    keep = expected >= 5
    observed = torch.cat([counts[keep], counts[~keep].sum().unsqueeze(0)])
    wanted = torch.cat([expected[keep], expected[~keep].sum().unsqueeze(0)])
    if wanted[-1] < 5:
        observed, wanted = observed[:-1], wanted[:-1]
    statistic = float(((observed - wanted) ** 2 / wanted).sum())
    assert statistic < chi_square_quantile(len(wanted) - 1), statistic


def assert_uniform(values: Tensor, low: float, high: float) -> None:
    """A one-sample Kolmogorov–Smirnov test of ``values`` against U[low, high]."""
    v = ((values.double() - low) / (high - low)).sort().values
    n = len(v)
    i = torch.arange(1, n + 1, dtype=torch.float64)
    d = max(float((i / n - v).max()), float((v - (i - 1) / n).max()))
    assert d < math.sqrt(-math.log(ALPHA / 2) / 2) / math.sqrt(n), d


def assert_same_values(a: Tensor, b: Tensor) -> None:
    """A two-sample Kolmogorov–Smirnov test: a and b come from one distribution."""
    both = torch.cat([a, b]).double().sort().values
    cdf_a = torch.searchsorted(a.double().sort().values, both, right=True) / len(a)
    cdf_b = torch.searchsorted(b.double().sort().values, both, right=True) / len(b)
    d = float((cdf_a - cdf_b).abs().max())
    scale = math.sqrt((len(a) + len(b)) / (len(a) * len(b)))
    assert d < math.sqrt(-math.log(ALPHA / 2) / 2) * scale, d


PROBABILITIES = [1e-4, 1e-3, 1e-2, 0.1, 0.5, 1.0]


def assert_dense_law(
    x: Tensor, probability: Tensor, row_probabilities: list[float], magnitude: str, signed: bool
) -> None:
    """Draws x (rows, n, samples) follow the dense sampler's law for ``probability`` (rows, n),
    whose first rows each hold one p of ``row_probabilities``: per-entry marginals, non-zeros
    per sample (Binomial(n, p), χ²) and the active values (KS, also against ``sample_features``).
    Shared with the fused step's draw (test_fused.py)."""
    n, samples = x.shape[1], x.shape[2]
    active = x != 0
    # per-entry marginals: every feature of every row
    for row in range(len(probability)):
        for j in range(n):
            assert_count(float(active[row, j].sum()), samples, float(probability[row, j]))
    # non-zeros per sample: Binomial(n, p) for the rows of one p
    k = torch.arange(n + 1, dtype=torch.float64)
    log_choose = torch.lgamma(torch.tensor(n + 1.0)) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)
    for row, p in enumerate(row_probabilities):
        pmf = torch.exp(log_choose) * (p**k) * ((1 - p) ** (n - k))
        counts = torch.bincount(active[row].sum(dim=0), minlength=n + 1).double()
        if p < 1e-12:  # no active entry expected in 10⁵ samples (and no χ² with one bin)
            assert counts[0] == samples
        elif p < 1:
            assert_fits(counts, pmf * samples)
        else:
            assert counts[n] == samples
    # values: U(0, 1], U(−1, 1], 1 or ±1, and the same law as the dense sampler's
    values = x[active]
    if magnitude == "uniform":
        assert_uniform(values, -1.0 if signed else 0.0, 1.0)
        distribution = FeatureDistribution("uniform", signed)
        dense = sample_features(
            probability.float(), samples, torch.Generator().manual_seed(2), distribution
        )
        assert_same_values(values, dense[dense != 0])
    elif signed:
        assert set(values.unique().tolist()) == {-1.0, 1.0}
        assert_count(float((values > 0).sum()), len(values), 0.5)
    else:
        assert torch.all(values == 1.0)


@pytest.mark.parametrize("magnitude", ["uniform", "boolean"])
@pytest.mark.parametrize("signed", [False, True])
def test_marginals_counts_and_values_match_the_dense_sampler(magnitude: str, signed: bool) -> None:
    distribution = FeatureDistribution(magnitude, signed)  # type: ignore[arg-type]
    n, batch, times = 8, 2048, 6
    # one row per p, and one row of per-feature p from 1e-4 to 1
    per_feature = torch.logspace(-4, 0, n)
    probability = torch.cat(
        [torch.tensor(PROBABILITIES).unsqueeze(1).expand(-1, n), per_feature[None]]
    )
    x = sparse_draws(probability, distribution, batch, times, seed=1)
    assert_dense_law(x, probability, PROBABILITIES, magnitude, signed)


@pytest.mark.parametrize("p", [1e-4, 1e-2, 0.3, 1.0])
def test_correlated_and_anticorrelated_sets_keep_their_joint_activity(p: float) -> None:
    sets = (FeatureSet("correlated", (0, 1, 2)), FeatureSet("anticorrelated", (3, 4)))
    distribution = FeatureDistribution(sets=sets)
    probability = torch.full((2, 6), p)
    batch, times = 4096, 4 if p >= 0.01 else 40
    x = sparse_draws(probability, distribution, batch, times, seed=3)
    samples = 2 * batch * times
    active = (x != 0).transpose(0, 1).reshape(6, -1)  # (features, every sample of both rows)
    # correlated: the members are zero or non-zero together, active with probability p
    assert torch.equal(active[0], active[1]) and torch.equal(active[0], active[2])
    assert_count(float(active[0].sum()), samples, p)
    # anticorrelated: never both; the set is active with probability p, either member equally
    assert not torch.any(active[3] & active[4])
    set_active = active[3] | active[4]
    assert_count(float(set_active.sum()), samples, p)
    if set_active.sum() > 0:
        assert_count(float(active[3].sum()), float(set_active.sum()), 0.5)
    # the feature outside the sets stays independent of them
    assert_count(float(active[5].sum()), samples, p)
    assert_count(float((active[5] & active[0]).sum()), samples, p * p)
    # members' values are independent uniforms, as the dense sampler's
    values = x.transpose(0, 1).reshape(6, -1)
    if p >= 0.01:
        both = active[0]
        assert_uniform(values[1][both], 0.0, 1.0)
        assert_uniform(values[3][active[3]], 0.0, 1.0)
        corr = torch.corrcoef(torch.stack([values[0][both], values[1][both]]))[0, 1]
        assert abs(float(corr)) < Z / math.sqrt(int(both.sum()))


def test_normalized_vectors_have_unit_length() -> None:
    distribution = FeatureDistribution(normalize=True)
    x = sparse_draws(torch.full((3, 10), 0.05), distribution, 1024, 1, seed=4)
    norms = torch.linalg.vector_norm(x, dim=1)
    nonzero = norms > 0
    torch.testing.assert_close(norms[nonzero], torch.ones(int(nonzero.sum())))


def test_the_sparse_draw_is_deterministic_per_generator() -> None:
    probability = torch.full((2, 30), 0.02)
    a = sparse_draws(probability, FeatureDistribution(), 512, 3, seed=5)
    b = sparse_draws(probability, FeatureDistribution(), 512, 3, seed=5)
    c = sparse_draws(probability, FeatureDistribution(), 512, 3, seed=6)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_the_rows_that_draw_sparsely_depend_on_the_request_alone() -> None:
    # Small p and many entries: sparse; the same p on a tiny model: dense (the dense draw is
    # cheaper there); p = 1 is always dense.
    large = SparseSampler(torch.tensor([[0.01] * 400, [1.0] * 400]), FeatureDistribution(), 1024)
    assert large.sparse_rows.tolist() == [0] and large.dense_rows.tolist() == [1]
    small = SparseSampler(torch.full((1, 5), 0.01), FeatureDistribution(), 1024)
    assert small.all_dense


def test_a_sparse_run_is_the_same_alone_and_batched(monkeypatch: pytest.MonkeyPatch) -> None:
    eager_only(monkeypatch)  # 100 → 5 would take the fused step, which does not use SparseSampler
    from server.tms.config import TrainConfig

    config = TrainConfig(steps=30, batch_size=1024, n_eval_samples=2048)
    p, importance = torch.tensor([[0.01], [0.002], [1.0]]), torch.ones(3, 100)
    alone = run_to_end(make_run(p, importance, 5, "relu", config, seed=7))
    mine = make_run(p, importance, 5, "relu", config, seed=7)
    assert mine.sampler is not None and len(mine.sampler.sparse_rows) == 2
    other = make_run(torch.tensor([[0.005]]), torch.rand(1, 100), 5, "relu", config, seed=8)
    dense = make_run(torch.tensor([[0.5]]), torch.rand(1, 100), 5, "relu", config, seed=9)
    batch = TrainingBatch()
    batch.add(other)
    batch.step()
    batch.add(mine)
    batch.add(dense)
    while not mine.done:
        batch.step()
    together = mine.result()
    assert torch.equal(together.W, alone.W) and torch.equal(together.b, alone.b)
    assert torch.equal(together.loss, alone.loss)
