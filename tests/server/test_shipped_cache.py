"""The results shipped in the repository's models_cache/ load, verify, are current, and show the
paper's phenomena (the gallery opens every preset from them, without training)."""

from __future__ import annotations

import math
import shutil
import subprocess
from itertools import pairwise
from pathlib import Path

import pytest
import safetensors.torch
import torch
from torch import Tensor

from server.api.schemas.models import InstanceResult, ModelResult
from server.api.schemas.saes import SAEResult
from server.cache import ModelCache
from server.double_descent_results import DoubleDescentTask
from server.phase_results import PhaseDiagramTask
from server.presets import Preset, presets, shipped_ids
from server.results import ModelTask
from server.sae_results import SAETask
from server.tms import metrics

SHIPPED = Path(__file__).resolve().parents[2] / "models_cache"
STALE = "run python -m server.precompute --preset {} and git add -f the new entry"
PRESETS = {p.id: p for p in presets()}


def _copy(entry_id: str, tmp_path: Path) -> ModelCache:
    """A cache holding a copy of one shipped entry: a failed load removes the entry it reads,
    and the repository's must stay."""
    entry = SHIPPED / entry_id
    assert entry.is_dir(), f"models_cache/{entry_id} is missing or stale"
    shutil.copytree(entry, tmp_path / entry_id)
    return ModelCache(tmp_path)


def shipped(preset_id: str, tmp_path: Path, index: int = 0) -> ModelResult:
    """A preset's shipped result, loaded and verified against its request."""
    task = ModelTask(PRESETS[preset_id].requests[index])
    assert (SHIPPED / task.id).is_dir(), STALE.format(preset_id)
    result = task.load(_copy(task.id, tmp_path))
    assert result is not None and result.cached, f"{preset_id}: the entry does not load"
    assert result.id == task.id and result.request == task.request
    return result


def shipped_sae(preset_id: str, tmp_path: Path) -> SAEResult:
    """An SAE preset's shipped result, loaded and verified against its request."""
    request = PRESETS[preset_id].sae
    assert request is not None
    task = SAETask(request)
    assert (SHIPPED / task.id).is_dir(), STALE.format(preset_id)
    result = task.load(_copy(task.id, tmp_path))
    assert result is not None and result.cached and result.final, f"{preset_id}: no load"
    assert result.id == task.id and result.request == request.normalised()
    return result


@pytest.mark.parametrize("preset", presets(), ids=lambda p: p.id)
def test_every_preset_is_shipped_and_current(preset: Preset, tmp_path: Path) -> None:
    """Every entry loads, matches its key (the id of the preset's request as it is now, so an
    edited preset fails here until it is retrained) and has a result per instance."""
    if preset.phase_diagram is not None:
        task = PhaseDiagramTask(preset.phase_diagram)
        assert (SHIPPED / task.id).is_dir(), STALE.format(preset.id)
        diagram = task.load(_copy(task.id, tmp_path))
        assert diagram is not None and diagram.cached and diagram.final
        assert diagram.request == preset.phase_diagram and diagram.id == task.id
        assert diagram.agreement > 0.8  # the page opens on a diagram that shows the paper's picture
        return
    if preset.sae is not None:
        sae = shipped_sae(preset.id, tmp_path)
        assert preset.sae.model is not None
        model = ModelTask(preset.sae.model)
        assert sae.model_id == model.id and (SHIPPED / model.id).is_dir(), STALE.format(preset.id)
        return
    if preset.double_descent is not None:
        sweep_task = DoubleDescentTask(preset.double_descent)
        assert (SHIPPED / sweep_task.id).is_dir(), STALE.format(preset.id)
        sweep = sweep_task.load(_copy(sweep_task.id, tmp_path))
        assert sweep is not None and sweep.cached and sweep.final
        for k, model_task in enumerate(sweep_task.models):  # every T's model ships too
            model = model_task.load(_copy(model_task.id, tmp_path / str(k)))
            assert model is not None and model.id == sweep.points[k].model_id
        return
    if preset.power_sweep is not None:  # each m's model, as the power page plans it
        for k, request in enumerate(preset.power_sweep.shipped_requests()):
            task = ModelTask(request)
            assert (SHIPPED / task.id).is_dir(), STALE.format(preset.id)
            model = task.load(_copy(task.id, tmp_path / str(k)))
            assert model is not None and model.cached and model.request == task.request
            assert all(math.isfinite(i.loss) and (i.gain or 0) > 0 for i in model.instances)
        return
    for k, request in enumerate(preset.requests):
        result = shipped(preset.id, tmp_path / str(k), k)
        assert len(result.instances) == request.n_instances
        assert all(math.isfinite(i.loss) for i in result.instances)


def test_the_tracked_entries_are_exactly_the_shipped_ones() -> None:
    """The cache's eviction protects shipped_ids(); every tracked folder must be among them."""
    tracked = subprocess.run(
        ["git", "ls-files", "models_cache"],
        cwd=SHIPPED.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    folders = {Path(f).parts[1] for f in tracked.stdout.split() if len(Path(f).parts) > 2}
    assert folders == set(shipped_ids())


# -- the paper's phenomena, in what ships ---------------------------------------------------------
def test_linear_20_5_keeps_exactly_the_top_five_at_the_f3_optimum(tmp_path: Path) -> None:
    """TMS Basic Results: the linear model represents the 5 most important features at every
    sparsity (PCA-like), and its loss is docs/THEORY.md F3's optimum (exact loss, within 2 %)."""
    result = shipped("basic-results", tmp_path, 0)
    assert result.request.activation == "linear"
    for instance in result.instances:
        norms = instance.feature_norms
        assert min(norms[:5]) > 0.9 and max(norms[5:]) < 0.1, norms
        assert instance.exact_loss is not None
        optimum = instance.theory_loss["linear_optimum"]
        assert instance.exact_loss == pytest.approx(optimum, rel=0.02)


def test_relu_20_5_superposes_more_features_as_sparsity_grows(tmp_path: Path) -> None:
    result = shipped("basic-results", tmp_path, 1)
    represented = [sum(n > 0.5 for n in i.feature_norms) for i in result.instances]
    assert represented[0] == 5 and represented[-1] >= 2 * 5, represented  # dense → very sparse

    def superposed(instance: InstanceResult) -> float:  # among the represented features
        pairs = zip(instance.feature_norms, instance.superposition, strict=True)
        return max(s for norm, s in pairs if norm > 0.5)

    assert superposed(result.instances[0]) < 0.05  # dense: the top 5, each alone
    assert superposed(result.instances[-1]) > 0.5


def test_the_pentagon_has_every_dimensionality_two_fifths(tmp_path: Path) -> None:
    (instance,) = shipped("pentagon", tmp_path).instances
    assert instance.dimensionality == pytest.approx([0.4] * 5, abs=0.03)


def test_one_sparser_feature_collapses_the_pentagon_into_two_digons(tmp_path: Path) -> None:
    instances = shipped("pentagon-collapse", tmp_path).instances
    assert instances[0].dimensionality == pytest.approx([0.4] * 5, abs=0.03)
    last = instances[-1]
    assert last.feature_norms[4] < 0.1  # the sparse feature is dropped …
    assert last.dimensionality[:4] == pytest.approx([0.5] * 4, abs=0.03)  # … beside two digons


def _stratified_loss(W: Tensor, b: Tensor, p: Tensor, values: Tensor) -> float:
    """L = E Σᵢ (xᵢ − ReLU(WᵀWx + b)ᵢ)² (Iᵢ = 1), exactly over which features are active (every
    subset, weighted by its probability) and by Monte Carlo over their U[0, 1] values (the same
    ``values``, (samples, n_features), for every model: common random numbers)."""
    n = W.shape[1]
    total = 0.0
    for subset in range(2**n):
        active = torch.tensor([(subset >> i) & 1 for i in range(n)], dtype=torch.float64)
        weight = torch.prod(torch.where(active > 0, p, 1 - p))
        x = values * active
        out = torch.relu(x @ W.T @ W + b)
        total += float(weight * ((x - out) ** 2).sum(dim=1).mean())
    return total


def test_the_pentagon_and_collapsed_losses_cross_between_the_sparsities(tmp_path: Path) -> None:
    """TMS Non-Uniform Superposition: every seed ends on the pentagon branch (all five features
    learned) or the collapsed one (feature 4 at zero, the rest two antipodal pairs), and the two
    branches' losses cross (pentagon lower where feature 4 is denser): a first-order change.
    The losses are recomputed from the weights, not read from the result."""
    instances = shipped("pentagon-collapse-seeds", tmp_path).instances
    values = torch.rand(4096, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    branches: dict[float, dict[str, list[float]]] = {}
    for instance in instances:
        W = torch.tensor(instance.W, dtype=torch.float64)
        norms = W.norm(dim=0)
        unit = torch.where(norms > 0.5, W / norms.clamp_min(1e-12), 0.0)  # learned ones only
        antipodal = int(((unit.T @ unit) <= -0.95).triu(1).sum())
        if bool((norms > 0.5).all()):
            kind = "pentagon"
        elif norms[4] < 0.1 and bool((norms[:4] > 0.5).all()) and antipodal == 2:
            kind = "collapsed"
        else:
            continue
        p = torch.tensor(instance.feature_probability, dtype=torch.float64)
        loss = _stratified_loss(W, torch.tensor(instance.b, dtype=torch.float64), p, values)
        branches.setdefault(float(p[4]), {}).setdefault(kind, []).append(loss)
    both = sorted((p for p in branches if len(branches[p]) == 2), reverse=True)  # dense → sparse
    gaps = [
        sum(branches[p]["collapsed"]) / len(branches[p]["collapsed"])
        - sum(branches[p]["pentagon"]) / len(branches[p]["pentagon"])
        for p in both
    ]
    assert len(gaps) >= 4, branches  # weaker seeds on both sides give both branches
    signs = [gap > 0 for gap in gaps]
    assert signs[0] and not signs[-1], dict(zip(both, gaps, strict=True))
    assert sum(a != b for a, b in pairwise(signs)) == 1  # they cross once
    cross = signs.index(False)
    assert 0.0075 <= both[cross] < both[cross - 1] <= 0.025  # where the best of 8 collapses
    # no seed collapses at the densest, none keeps the pentagon at the sparsest
    assert "collapsed" not in branches[max(branches)]
    assert "pentagon" not in branches[min(branches)]


def test_dimensions_per_feature_are_sticky_at_one_and_one_half(tmp_path: Path) -> None:
    """TMS Feature Dimensionality: D* ≈ 1 when dense, ≈ 1/2 over a range of sparsities."""
    instances = shipped("feature-geometry", tmp_path).instances
    assert instances[0].dimensions_per_feature == pytest.approx(1.0, abs=0.05)
    middle = [i.dimensions_per_feature for i in instances[1:-1]]
    assert min(abs(d - 0.5) for d in middle) < 0.03, middle


def test_anticorrelated_pairs_are_antipodal_and_correlated_ones_are_not(tmp_path: Path) -> None:
    def cosine(gram: list[list[float]], i: int, j: int) -> float:
        return gram[i][j] / math.sqrt(gram[i][i] * gram[j][j])

    for instance in shipped("anticorrelated-pairs", tmp_path / "anti").instances:
        assert cosine(instance.gram, 0, 1) < -0.95 and cosine(instance.gram, 2, 3) < -0.95
    for instance in shipped("correlated-pairs", tmp_path / "corr").instances:
        assert cosine(instance.gram, 0, 1) > -0.5 and cosine(instance.gram, 2, 3) > -0.5


def test_the_privileged_basis_goes_from_monosemantic_to_polysemantic(tmp_path: Path) -> None:
    instances = shipped("privileged-basis", tmp_path).instances
    views = [i.neurons for i in instances]
    assert all(v is not None for v in views)
    assert views[0] is not None and views[0].polysemantic == 0  # dense: one feature a neuron
    assert views[-1] is not None and views[-1].polysemantic >= 1  # sparse: superposition


def test_the_small_absolute_value_model_uses_two_monosemantic_neurons_a_feature(
    tmp_path: Path,
) -> None:
    (instance,) = shipped("absolute-value-small", tmp_path).instances
    assert instance.neurons is not None and instance.neurons.monosemantic == 6
    tops = sorted(n.top_feature for n in instance.neurons.neurons)
    assert tops == [0, 0, 1, 1, 2, 2]  # |x| = ReLU(x) + ReLU(−x), for each feature
    assert instance.loss < 0.01 * instance.theory_loss["zero_output"]


def test_learning_dynamics_ships_its_replay(tmp_path: Path) -> None:
    result = shipped("learning-dynamics", tmp_path)
    assert result.snapshots is not None and len(result.snapshots) == result.request.snapshots
    assert result.snapshots[0].step == 0 and result.snapshots[-1].step == result.request.steps
    final = result.snapshots[-1].dimensionality[0]
    assert final == pytest.approx(result.instances[0].dimensionality, abs=1e-6)


# -- SAEs on the toy model (issue 18) -------------------------------------------------------------
def test_the_sae_recovers_every_pentagon_feature_with_resampling(tmp_path: Path) -> None:
    """ARENA's toy-SAE defaults, seed 0: each of the 5 features has its own latent (cos > 0.97),
    no latent is dead, and resampling revived at least one latent on the way."""
    sae = shipped_sae("sae-pentagon", tmp_path)
    assert sae.represented == [0, 1, 2, 3, 4] and sae.dead_latents == 0
    assert len({m.latent for m in sae.matching}) == 5
    assert min(m.cosine for m in sae.matching) > 0.97
    assert sae.mmcs is not None and sae.mcc is not None and sae.mcc > 0.98
    assert any(event.latents for event in sae.resampled)


def test_without_resampling_latents_die_and_features_are_lost(tmp_path: Path) -> None:
    sae = shipped_sae("sae-pentagon-no-resampling", tmp_path)
    assert sae.resample_steps == [] and sae.dead_latents >= 1
    with_resampling = shipped_sae("sae-pentagon", tmp_path / "with")
    assert sae.mcc is not None and with_resampling.mcc is not None
    assert sae.mcc < with_resampling.mcc - 0.1


def test_the_overcomplete_topk_sae_fires_one_latent_at_most(tmp_path: Path) -> None:
    sae = shipped_sae("sae-topk-overcomplete", tmp_path)
    assert sae.n_latents == 10 and sae.l0 <= 1.0
    assert sae.mmcs is not None and sae.mmcs > 0.95


def test_the_sae_on_correlated_pairs_leans_each_latent_towards_the_partner(tmp_path: Path) -> None:
    """What the preset's text says it gets wrong: four latents, one per feature, each with a
    cosine of at least 0.3 with its feature's correlated partner, so MMCS stays below 0.95."""
    sae = shipped_sae("sae-correlated-pairs", tmp_path)
    partner = {0: 1, 1: 0, 2: 3, 3: 2}
    assert len({m.latent for m in sae.matching}) == 4
    for match in sae.matching:
        assert 0.75 < match.cosine < 0.95
        assert sae.cosines[partner[match.feature]][match.latent] > 0.3
    assert sae.mmcs is not None and sae.mmcs < 0.95 and sae.explained_variance > 0.85


def test_the_double_descent_preset_memorises_small_T_and_peaks_between(tmp_path: Path) -> None:
    """Henighan et al. 2023 in what ships: at the smallest T the train loss is far below the
    test loss and each point gets about 2/T of a dimension (a T-gon); the test loss peaks at an
    intermediate T, above both ends; at the largest T train and test loss meet."""
    sweep_task = DoubleDescentTask(PRESETS["double-descent"].double_descent)  # type: ignore[arg-type]
    sweep = sweep_task.load(_copy(sweep_task.id, tmp_path))
    assert sweep is not None
    points = sweep.points
    first, last = points[0], points[-1]
    assert first.train_loss[0] < 0.1 * first.loss[0]  # type: ignore[index]
    assert abs(first.data_dimensionality[0] - 2 / first.n_train) < 0.1
    peak = max(points, key=lambda p: p.loss[0])  # type: ignore[index]
    assert sweep.peak_n_train == peak.n_train and first.n_train < peak.n_train < last.n_train
    assert peak.loss[0] > 1.2 * max(first.loss[0], last.loss[0])  # type: ignore[index]
    assert last.train_loss[0] > 0.7 * last.loss[0]  # type: ignore[index]


def _absolute_value_loss(W: Tensor, W_out: Tensor, b: Tensor, p: float, seed: int) -> float:
    """L = E Σᵢ Iᵢ (|xᵢ| − ReLU(W_out ReLU(W x) + b)ᵢ)², Iᵢ = 0.8ⁱ, on 2¹⁸ fresh samples: xᵢ is
    0 with probability 1 − p, else U[−1, 1] (TMS §"Computation in Superposition")."""
    generator = torch.Generator().manual_seed(seed)
    importance = 0.8 ** torch.arange(W.shape[1], dtype=torch.float64)
    total = 0.0
    for _ in range(8):
        shape = (1 << 15, W.shape[1])
        x = (2 * torch.rand(shape, generator=generator, dtype=torch.float64) - 1) * (
            torch.rand(shape, generator=generator, dtype=torch.float64) < p
        )
        out = torch.relu(torch.relu(x @ W.double().T) @ W_out.double().T + b.double())
        total += float((importance * (x.abs() - out) ** 2).sum())
    return total / (8 << 15)


def test_sparse_absolute_value_beats_computing_m_over_2_features_without_superposition(
    tmp_path: Path,
) -> None:
    """TMS §"Computation in Superposition": sparse, the 100 → 40 model computes |x| better than
    the best model without superposition (|x| exact for the m/2 = 20 most important features, two
    neurons each, and the mean E|xᵢ| = p/2 for the rest: Σ_{i ≥ 20} Iᵢ Var|xᵢ|, Var|xᵢ| = p/3 −
    p²/4), both computed here from the shipped weights on fresh samples."""
    result = shipped("absolute-value", tmp_path)
    weights = safetensors.torch.load(ModelCache(tmp_path).load_weights(result.id) or b"")
    beaten = 0
    for k, instance in enumerate(result.instances):
        p = instance.feature_probability
        assert isinstance(p, float)
        if not 0.01 <= p <= 0.1:  # sparser ones do not learn in 10,000 steps (RESULTS.md)
            continue
        unsuperposed = (p / 3 - p * p / 4) * sum(0.8**i for i in range(20, 100))
        loss = _absolute_value_loss(weights["W"][k], weights["W_out"][k], weights["b"][k], p, k)
        assert loss < 0.98 * unsuperposed, (p, loss, unsuperposed)
        beaten += 1
    assert beaten == 3


def test_feature_geometry_dense_points_have_no_stuck_output_units(tmp_path: Path) -> None:
    """Dense, no output unit of the 200 → 20 model is zero for every input (benchmarks/RESULTS.md,
    "Stuck output units"), and the loss on fresh samples is the dedicated-features optimum:
    n − m features at their mean, each costing Var U[0, 1] = 1/12."""
    result = shipped("feature-geometry", tmp_path)
    weights = safetensors.torch.load(ModelCache(tmp_path).load_weights(result.id) or b"")
    generator = torch.Generator().manual_seed(7)
    for k, instance in enumerate(result.instances):
        if instance.feature_probability != 1.0:
            continue
        W, b = weights["W"][k].double(), weights["b"][k].double()
        x = torch.rand((1 << 14, W.shape[1]), generator=generator, dtype=torch.float64)
        assert int(metrics.stuck_outputs(W, b, x).sum()) == 0
        loss = float(((x - torch.relu(x @ W.T @ W + b)) ** 2).sum(1).mean())
        assert loss == pytest.approx((W.shape[1] - W.shape[0]) / 12, rel=0.01)
