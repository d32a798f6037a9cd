"""Each gallery preset's claim from the paper beside the figure that checks it, computed from the
result the cache holds (the shipped one), so that no card's figure is typed by hand.

A claim is data: the paper's statement (``claim``), the measured figure as text (``measured``),
and ``agrees``: whether the figure bears the claim out (None where the result is not in the cache,
or the preset makes no checkable claim). GET /api/presets returns them per preset. Figures are
computed from the stored weights with numpy (Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)², TMS §"Feature
Dimensionality"; cosines between feature directions), or read from the stored result's own
measures (loss on fresh samples, a phase diagram's agreement with theory, an SAE's MMCS/MCC, a
double-descent sweep's test losses).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from server.api.schemas.double_descent import DoubleDescentResult
from server.api.schemas.models import InstanceResult, ModelResult
from server.cache import MODEL_KIND, ModelCache
from server.double_descent_results import DoubleDescentTask
from server.phase_results import PhaseDiagramTask
from server.results import ModelTask
from server.sae_results import SAETask

if TYPE_CHECKING:
    from server.presets import Preset


class Claim(BaseModel):
    """One claim of the paper and the figure that checks it."""

    claim: str = Field(description="what the paper states (TMS, the preset's section)")
    measured: str | None = Field(
        description="the figure computed from the cached result; null when it is not cached"
    )
    agrees: bool | None = Field(
        description="whether the figure bears the claim out; null: not cached or not checkable"
    )


# -- measures of one instance ---------------------------------------------------------------------
def dims(W: np.ndarray) -> np.ndarray:
    """Dᵢ of W (n_hidden, n_features); 0 for a zero column."""
    norms = np.linalg.norm(W, axis=0)
    unit = W / np.where(norms > 0, norms, 1.0)
    total = ((unit.T @ W) ** 2).sum(axis=1)
    return np.where(total > 0, norms**2 / np.where(total > 0, total, 1.0), 0.0)


def cosines(W: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(W, axis=0)
    unit = W / np.where(norms > 0, norms, 1.0)
    return unit.T @ unit


def _W(instance: InstanceResult) -> np.ndarray:
    return np.asarray(instance.W, dtype=float)


def _represented(instance: InstanceResult, threshold: float = 0.5) -> int:
    return int((np.linalg.norm(_W(instance), axis=0) > threshold).sum())


def _antipodal_pairs(W: np.ndarray, threshold: float = -0.95) -> list[tuple[int, int]]:
    """Pairs i < j of learned features (‖Wᵢ‖ > 0.5) with cos(Wᵢ, Wⱼ) ≤ threshold."""
    cos = cosines(W)
    learned = np.linalg.norm(W, axis=0) > 0.5
    n = W.shape[1]
    return [
        (i, j)
        for i in range(n)
        for j in range(i + 1, n)
        if learned[i] and learned[j] and cos[i, j] <= threshold
    ]


def _spread(values: np.ndarray) -> str:
    """ "0.40 ± 0.01": the mean and the largest distance from it."""
    mean = float(values.mean())
    return f"{mean:.2f} ± {float(np.abs(values - mean).max()):.2f}"


def _pattern(d: np.ndarray) -> str:
    """Dᵢ rounded to 2 decimals and counted, largest first: "0.50 ×4, 1.00 ×1"."""
    counts: dict[str, int] = {}
    for value in sorted(d, reverse=True):
        key = f"{value:.2f}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(k if c == 1 else f"{k} ×{c}" for k, c in counts.items())


# -- per preset -----------------------------------------------------------------------------------
Results = Sequence[ModelResult]


def _basic_results(results: Results) -> list[Claim]:
    linear, relu = results
    top5 = [
        bool(min(i.feature_norms[:5]) > 0.9 and max(i.feature_norms[5:]) < 0.1)
        for i in linear.instances
    ]
    counts = [_represented(i) for i in relu.instances]
    return [
        Claim(
            claim="The linear model keeps exactly the 5 most important features, at every "
            "sparsity.",
            measured=f"{sum(top5)} of {len(top5)} sparsities: ‖Wᵢ‖ > 0.9 for the top 5, < 0.1 "
            "for the rest",
            agrees=all(top5),
        ),
        Claim(
            claim="The ReLU model represents more features as sparsity grows (superposition).",
            measured="features with ‖Wᵢ‖ > 0.5, dense → sparse: " + ", ".join(map(str, counts)),
            agrees=counts[-1] > counts[0] and counts[0] <= 6,
        ),
    ]


def _intro_2d(results: Results) -> list[Claim]:
    (result,) = results
    dense, sparse = result.instances[0], result.instances[-1]
    pairs = [len(_antipodal_pairs(_W(i))) for i in result.instances]
    d = dims(_W(sparse))
    return [
        Claim(
            claim="Dense: the two most important features, orthogonal; the rest dropped.",
            measured=f"{_represented(dense)} features with ‖Wᵢ‖ > 0.5 at 1 − S = 1, "
            f"|cos(W₀, W₁)| = {abs(cosines(_W(dense))[0, 1]):.2f}",
            agrees=_represented(dense) == 2 and abs(cosines(_W(dense))[0, 1]) < 0.1,
        ),
        Claim(
            claim="Sparser: antipodal pairs, then a pentagon (Dᵢ = 2/5).",
            measured=f"antipodal pairs per sparsity: {', '.join(map(str, pairs))}; sparsest "
            f"Dᵢ = {_spread(d)}",
            agrees=max(pairs) >= 1 and bool(np.allclose(d, 0.4, atol=0.03)),
        ),
    ]


def _pentagon(results: Results) -> list[Claim]:
    d = dims(_W(results[0].instances[0]))
    return [
        Claim(
            claim="A regular pentagon: Dᵢ = 2/5 for all five features.",
            measured=f"Dᵢ = {_spread(d)} for all five",
            agrees=bool(np.allclose(d, 0.4, atol=0.02)),
        )
    ]


def _pentagon_collapse(results: Results) -> list[Claim]:
    last = results[0].instances[-1]
    W = _W(last)
    norm4 = float(np.linalg.norm(W[:, 4]))
    pairs = _antipodal_pairs(W)
    return [
        Claim(
            claim="Sparse enough, the pentagon collapses into two digons, the sparser feature "
            "at zero.",
            measured=f"sparsest: ‖W₄‖ = {norm4:.2f}, {len(pairs)} antipodal pairs among 0–3",
            agrees=norm4 < 0.1 and len(pairs) == 2,
        )
    ]


def varied_feature(probabilities: Sequence[Sequence[float]]) -> int:
    """The feature whose p differs between instances (the last when none does)."""
    table = np.asarray(probabilities, dtype=float)
    varying = np.flatnonzero((table != table[0]).any(axis=0))
    return int(varying[0]) if varying.size else table.shape[1] - 1


def geometry(W: np.ndarray, varied: int) -> str:
    """The branch W (n_hidden, n_features) is on (TMS §"Non-Uniform Superposition"): "pentagon"
    when all features are learned (‖Wᵢ‖ > 0.5): the pentagon, deformed as the varied feature's
    sparsity moves (sparse enough, its neighbours pushed close to antipodal); "collapsed" when the
    varied feature is dropped (‖W‖ < 0.1) and the others, all learned, form two antipodal pairs
    (cos ≤ −0.95); "other" otherwise (e.g. another feature dropped instead)."""
    norms = np.linalg.norm(W, axis=0)
    if bool((norms > 0.5).all()):
        return "pentagon"
    others = np.delete(norms, varied)
    if norms[varied] < 0.1 and bool((others > 0.5).all()) and len(_antipodal_pairs(W)) == 2:
        return "collapsed"
    return "other"


def _pentagon_branches(results: Results) -> list[Claim]:
    """Every seed's geometry and loss per sparsity of the varied feature: the pentagon's and the
    collapsed branch's mean losses must cross (pentagon lower where the feature is denser)."""
    instances = results[0].instances
    probabilities = [list(np.atleast_1d(i.feature_probability)) for i in instances]
    varied = varied_feature(probabilities)
    branches: dict[float, dict[str, list[tuple[float, float]]]] = {}
    for instance, p in zip(instances, probabilities, strict=True):
        kind = geometry(_W(instance), varied)
        loss = (instance.loss, instance.loss_stderr or 0.0)
        branches.setdefault(float(p[varied]), {}).setdefault(kind, []).append(loss)

    def mean(seeds: list[tuple[float, float]]) -> tuple[float, float]:
        """A branch's mean loss and its standard error (from each seed's own)."""
        values = np.asarray(seeds)
        return float(values[:, 0].mean()), float(np.sqrt((values[:, 1] ** 2).sum()) / len(seeds))

    dense_to_sparse = sorted(branches, reverse=True)
    # L(collapsed) − L(pentagon) and its standard error where a sparsity has both geometries
    gaps = []
    for p in dense_to_sparse:
        if "pentagon" in branches[p] and "collapsed" in branches[p]:
            (lc, sc), (lp, sp) = mean(branches[p]["collapsed"]), mean(branches[p]["pentagon"])
            gaps.append((p, lc - lp, float(np.hypot(sc, sp))))
    signs = [gap > 0 for _, gap, _ in gaps]
    crossings = sum(a != b for a, b in pairwise(signs))
    counts = ", ".join(
        f"{p:g}: {len(branches[p].get('pentagon', []))}/{len(branches[p].get('collapsed', []))}"
        for p in dense_to_sparse
    )
    seeds = f"seeds pentagon/collapsed per 1 − S of feature {varied}: {counts}"
    if not gaps:
        return [
            Claim(
                claim=_BRANCH_CLAIM,
                measured=f"no sparsity has seeds of both geometries ({seeds})",
                agrees=False,
            )
        ]
    shown = "; ".join(f"{p:g}: {gap * 1e4:+.1f} ± {se * 1e4:.1f}" for p, gap, se in gaps)
    where = "no sign change"
    if crossings == 1:
        k = signs.index(False)
        where = f"the crossing lies between 1 − S = {gaps[k - 1][0]:g} and {gaps[k][0]:g}"
    return [
        Claim(
            claim=_BRANCH_CLAIM,
            measured=f"L(collapsed) − L(pentagon) ×10⁴ (branch means ± s.e.) per 1 − S: {shown}; "
            f"{where} "
            f"({seeds})",
            agrees=crossings == 1 and signs[0] and not signs[-1],
        )
    ]


_BRANCH_CLAIM = (
    "The collapse is a first-order phase change: the losses of the two geometries (pentagon; two "
    "digons with the sparser feature at zero) cross, the pentagon lower on the denser side."
)


def _features_vs_sparsity(results: Results) -> list[Claim]:
    counts = [_represented(i) for i in results[0].instances]
    return [
        Claim(
            claim="Not a paper figure (the paper's is 80 → 20 with Iᵢ = 0.9ⁱ): more features are "
            "represented as sparsity grows, the less important ones in superposition.",
            measured="features with ‖Wᵢ‖ > 0.5, dense → sparse: "
            + f"{counts[0]} → {max(counts)} (of {len(results[0].instances[0].W[0])})",
            agrees=None,
        )
    ]


FRACTIONS = (1.0, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 3 / 8)


def _feature_geometry(results: Results) -> list[Claim]:
    near = total = 0
    hit: set[float] = set()
    for instance in results[0].instances:
        W = _W(instance)
        d = dims(W)[np.linalg.norm(W, axis=0) > 0.5]
        for value in d:
            total += 1
            close = [f for f in FRACTIONS if abs(value - f) <= 0.03]
            near += bool(close)
            hit.update(close)
    # The paper expects no line at 1: a dedicated feature is indistinguishable from other
    # directions when dense (TMS §"Feature Dimensionality").
    missing = [f"{f:.2f}" for f in FRACTIONS[1:] if f not in hit]
    return [
        Claim(
            claim="The Dᵢ of represented features cluster on 3/4, 2/3, 1/2, 2/5 and 3/8 (and "
            "1, which the paper expects to be hidden when dense).",
            measured=f"{near} of {total} Dᵢ ({100 * near / max(total, 1):.0f} %) within 0.03 of "
            "one" + (f"; none near {', '.join(missing)}" if missing else ""),
            agrees=not missing and near >= 0.8 * total,
        )
    ]


# A jump: a feature's Dᵢ held within JUMP_BAND for JUMP_PLATEAU steps, then moved by JUMP_SIZE
# within JUMP_WITHIN steps (TMS §"Discrete 'Energy Level' Jumps").
JUMP_PLATEAU, JUMP_BAND, JUMP_WITHIN, JUMP_SIZE = 1000, 0.04, 500, 0.3


def first_jump(steps: np.ndarray, D: np.ndarray) -> tuple[int, int, int] | None:
    """The first jump in Dᵢ through training: (feature, index before, index after), or None.

    Args:
        steps: (S,) the snapshots' steps, increasing.
        D: (S, n_features) Dᵢ at each snapshot.
    """
    for s in range(1, len(steps)):
        plateau = (steps >= steps[s] - JUMP_PLATEAU) & (np.arange(len(steps)) <= s)
        if steps[s] - steps[0] < JUMP_PLATEAU:
            continue
        after = np.flatnonzero((steps > steps[s]) & (steps <= steps[s] + JUMP_WITHIN))
        if after.size == 0:
            continue
        band = np.ptp(D[plateau], axis=0) < JUMP_BAND
        moved = np.abs(D[after[-1]] - D[s]) >= JUMP_SIZE
        hits = np.flatnonzero(band & moved)
        if hits.size:
            return int(hits[0]), s, int(after[-1])
    return None


def fixed_set_loss(
    W: np.ndarray, b: np.ndarray, p: float, importance: Sequence[float], samples: int = 1 << 16
) -> float:
    """L = E Σᵢ Iᵢ (xᵢ − ReLU(WᵀWx + b)ᵢ)² on one fixed set of fresh U[0, 1] features, active with
    probability p (seed 0), for W (m, n) and b (n,)."""
    rng = np.random.default_rng(0)
    n = W.shape[1]
    x = rng.random((samples, n)) * (rng.random((samples, n)) < p)
    out = np.maximum(x @ W.T @ W + b, 0.0)
    return float(((np.asarray(importance) * (x - out) ** 2).sum(axis=1)).mean())


def _dynamics(results: Results, cache: ModelCache) -> list[Claim]:
    result = results[0]
    snaps = result.snapshots or []
    if len(snaps) < 2:
        return []
    steps = np.asarray([s.step for s in snaps])
    D = np.asarray([s.dimensionality[0] for s in snaps])
    claim = "Features jump between dimensionalities ('energy levels'), with drops in the loss."
    jump = first_jump(steps, D)
    if jump is None:
        change = float(np.abs(np.diff(D, axis=0)).max())
        return [
            Claim(
                claim=claim,
                measured=f"no jump (Dᵢ flat for {JUMP_PLATEAU} steps, then ≥ {JUMP_SIZE} within "
                f"{JUMP_WITHIN}); largest change of any Dᵢ between snapshots "
                f"{steps[1] - steps[0]} steps apart: {change:.2f}",
                agrees=False,
            )
        ]
    i, s, e = jump
    start = s
    while start > 0 and np.ptp(D[start - 1 : s + 1, i]) < JUMP_BAND:
        start -= 1
    figure = (
        f"feature {i}: Dᵢ {D[s, i]:.2f} from step {steps[start]:,} to {steps[s]:,}, "
        f"{D[e, i]:.2f} by step {steps[e]:,}, {D[-1, i]:.2f} at the end"
    )
    tensors = cache.read(result.id, MODEL_KIND, lambda stored, _: stored.tensors)
    p = result.instances[0].feature_probability
    if tensors is not None and "snapshot_W" in tensors and isinstance(p, float):
        Ws, bs = tensors["snapshot_W"][:, 0].numpy(), tensors["snapshot_b"][:, 0].numpy()
        imp = result.instances[0].importance
        before, end = (fixed_set_loss(Ws[k], bs[k], p, imp) for k in (s, len(steps) - 1))
        figure += f"; loss on 2¹⁶ fixed fresh samples {before:.2g} → {end:.2g}"
    return [Claim(claim=claim, measured=figure, agrees=True)]


def _correlated_pairs(results: Results) -> list[Claim]:
    W = _W(results[0].instances[-1])
    cos = cosines(W)
    within = max(abs(cos[0, 1]), abs(cos[2, 3]))
    pairs = _antipodal_pairs(W)
    across = all((i < 2) != (j < 2) for i, j in pairs)
    return [
        Claim(
            claim="Sparse: each pair's members orthogonal, the antipodal pairs across the sets.",
            measured=f"sparsest: |cos| within pairs ≤ {within:.2f}; antipodal pairs "
            f"{', '.join(f'{i}–{j}' for i, j in pairs) or 'none'}",
            agrees=within < 0.1 and len(pairs) == 2 and across,
        )
    ]


def _anticorrelated_pairs(results: Results) -> list[Claim]:
    W = _W(results[0].instances[-1])
    cos = cosines(W)
    worst = max(cos[0, 1], cos[2, 3])
    return [
        Claim(
            claim="Each anticorrelated pair's members are antipodal.",
            measured=f"sparsest: cos(W₀, W₁) = {cos[0, 1]:.2f}, cos(W₂, W₃) = {cos[2, 3]:.2f}",
            agrees=bool(worst < -0.95),
        )
    ]


def _correlated_collapse(results: Results) -> list[Claim]:
    W = _W(results[0].instances[0])
    cos = cosines(W)
    within = [cos[0, 1], cos[2, 3], cos[4, 5]]
    return [
        Claim(
            claim="Dense: the pairs collapse onto their principal components (PCA).",
            measured="densest: cos within pairs " + ", ".join(f"{c:.2f}" for c in within),
            agrees=min(within) > 0.95,
        )
    ]


def _neurons_claim(results: Results) -> list[Claim]:
    instances = results[0].instances
    views = [i.neurons for i in instances]
    if any(v is None for v in views):
        return []
    dense, sparse = views[0], views[-1]
    assert dense is not None and sparse is not None
    return [
        Claim(
            claim="Dense: monosemantic neurons; sparse: polysemantic neurons.",
            measured=f"monosemantic/polysemantic: {dense.monosemantic}/{dense.polysemantic} "
            f"dense, {sparse.monosemantic}/{sparse.polysemantic} sparsest",
            agrees=dense.monosemantic > dense.polysemantic and sparse.polysemantic > 0,
        )
    ]


def _two_neurons_per_feature(results: Results) -> list[Claim]:
    views = [i.neurons for i in results[0].instances]
    mono = [0 if v is None else v.monosemantic for v in views]
    n_hidden = len(results[0].instances[0].W)
    return [
        Claim(
            claim="With two neurons per feature, no superposition: |x| = ReLU(x) + ReLU(−x), "
            "every neuron monosemantic.",
            measured="monosemantic neurons per sparsity: "
            + ", ".join(f"{m}/{n_hidden}" for m in mono),
            agrees=all(m == n_hidden for m in mono),
        )
    ]


def _absolute_value(results: Results) -> list[Claim]:
    ratios: list[tuple[float, float]] = []  # (1 − S, loss ÷ the unsuperposed construction's)
    for instance in results[0].instances:
        unsuperposed = instance.theory_loss.get("absolute_value_unsuperposed")
        if unsuperposed and isinstance(instance.feature_probability, float):
            ratios.append((instance.feature_probability, instance.loss / unsuperposed))
    if not ratios:
        return []
    beats = [p for p, r in ratios if r < 1.0]
    misses = [p for p, r in ratios if r >= 1.0 and p < 1.0 and p < min(beats, default=0.0)]
    measured = "loss ÷ the unsuperposed construction's, dense → sparse: " + ", ".join(
        f"{r:.2f}" for _, r in ratios
    )
    if beats:
        measured += "; below 1 at 1 − S = " + ", ".join(f"{p:g}" for p in beats)
    if misses:
        measured += (
            "; sparser (1 − S = " + ", ".join(f"{p:g}" for p in misses) + ") not learned in "
            "the preset's steps"
        )
    return [
        Claim(
            claim="Sparse, computation in superposition beats the model that computes |x| for "
            "m/2 features without superposition.",
            measured=measured,
            agrees=bool(beats),
        )
    ]


def _polyhedra(results: Results) -> list[Claim]:
    names = {
        4: ("the tetrahedron, Dᵢ = 3/4", lambda d: np.allclose(d, 0.75, atol=0.02)),
        5: (
            "the triangular bipyramid: Dᵢ = 2/3 ×3 and 1/2 ×2",
            lambda d: np.allclose(np.sort(d), [0.5, 0.5, 2 / 3, 2 / 3, 2 / 3], atol=0.02),
        ),
        6: ("the octahedron, Dᵢ = 1/2", lambda d: np.allclose(d, 0.5, atol=0.02)),
        8: ("the square antiprism, Dᵢ = 3/8", lambda d: np.allclose(d, 0.375, atol=0.015)),
    }
    claims = []
    for result in results:
        d = dims(_W(result.instances[0]))
        name, check = names.get(len(d), (f"{len(d)} features", lambda _: False))
        reached = bool(check(d))
        figure = f"Dᵢ = {_spread(d)} for all {len(d)}" if np.ptp(d) < 0.03 else _pattern(d)
        claims.append(
            Claim(
                claim=f"{len(d)} features in 3 dimensions: {name}.",
                measured=figure + ("" if reached else " (not reached)"),
                agrees=reached,
            )
        )
    return claims


def _geometric_transformations(results: Results) -> list[Claim]:
    result = results[0]
    W = _W(result.instances[0])
    d = dims(W)
    pairs = _antipodal_pairs(W)
    sets = [set(s.features) for s in result.request.feature_sets or []]
    across = sum((i in sets[0]) != (j in sets[0]) for i, j in pairs) if sets else 0
    return [
        Claim(
            claim="Ends in an octahedron whose antipodal pairs join features of different sets.",
            measured=f"Dᵢ = {_spread(d)}; {len(pairs)} antipodal pairs, {across} across the sets",
            agrees=len(pairs) == 3 and across == 3 and bool(np.allclose(d, 0.5, atol=0.02)),
        )
    ]


def _double_descent(sweep: DoubleDescentResult) -> list[Claim]:
    """Henighan et al. 2023 (not TMS): the test loss peaks at an intermediate T."""
    points = [(pt.n_train, pt.loss[0]) for pt in sweep.points if pt.loss]
    if len(points) < 3:
        return []
    T, loss = zip(*points, strict=True)
    k = max(range(len(loss)), key=loss.__getitem__)
    return [
        Claim(
            claim="Not in TMS (Henighan et al. 2023): the test loss peaks at an intermediate "
            "training-set size T, between memorising and learning features.",
            measured=f"test loss peaks at T = {T[k]} ({loss[k]:.3g}), against {loss[0]:.3g} at "
            f"T = {T[0]} and {loss[-1]:.3g} at T = {T[-1]}",
            agrees=0 < k < len(loss) - 1 and loss[k] > max(loss[0], loss[-1]),
        )
    ]


def _adversarial(results: Results) -> list[Claim]:
    """TMS §"Relationship to Adversarial Robustness", measured here with the paper's analytic
    attack (ε = 0.1, 4,096 fresh inputs per instance, seeded: docs/THEORY.md F21)."""
    import torch

    from server.tms.adversarial import vulnerability

    result = results[0]
    config = result.request.to_config()
    importance = torch.tensor(config.importances)
    per_dimension, values = [], []
    for k, instance in enumerate(result.instances):
        measured = vulnerability(
            torch.tensor(instance.W), torch.tensor(instance.b),
            torch.tensor(config.probability_rows[k]), importance, 0.1, 4096, seed=k,
        )  # fmt: skip
        per_dimension.append(1 / instance.dimensions_per_feature)
        values.append(measured.vulnerability)
    top = int(np.argmax(values))
    rise = values[top] / values[0] if values[0] > 0 else float("inf")
    r = float(np.corrcoef(per_dimension, values)[0, 1]) if len(values) > 2 else float("nan")
    return [
        Claim(
            claim="Vulnerability to adversarial examples rises by more than 3× as superposition "
            "forms, and tracks the features per dimension 1/D*.",
            measured=f"vulnerability {values[0]:.2f} dense → {values[top]:.2f} at 1/D* = "
            f"{per_dimension[top]:.2f} ({rise:.1f}×); correlation with 1/D*: r = {r:.2f}",
            agrees=rise > 3 and r > 0.7,
        )
    ]


def _power_sweep(results: Results) -> list[Claim]:
    """Chowdhury & Weiner (not TMS): superposition pays in the very sparse regime p < m⁻ᵏ: the
    trained gain L̃ against the best unsuperposed W's (docs/THEORY.md F15), per m."""
    parts = []
    agrees = True
    for result in results:
        m, k = result.request.n_hidden, result.request.power or 1
        ratios = [
            i.gain / i.unsuperposed_gain
            for i in result.instances
            if isinstance(i.feature_probability, float)
            and i.feature_probability < m**-k
            and i.gain is not None
            and i.unsuperposed_gain
        ]
        if not ratios:
            return []
        above = sum(r > 1 for r in ratios)
        agrees = agrees and above == len(ratios)
        parts.append(
            f"m = {m}: {min(ratios):.2f}–{max(ratios):.2f}× ({above} of {len(ratios)} values of p "
            "above 1)"
        )
    return [
        Claim(
            claim="Not in TMS (Chowdhury & Weiner, Theorem 2.2): with n > mᵏ and p ≲ m⁻ᵏ the "
            "best gain over answering zero grows like p·mᵏ, beyond the p·m·μₖ₊₁²/μ₂ₖ of any W "
            "without superposition: superposition pays when features are very sparse.",
            measured="trained gain ÷ the unsuperposed optimum's at p < m⁻ᵏ: " + "; ".join(parts),
            agrees=agrees,
        )
    ]


# -- linear vs ReLU hidden layer (TMS §"Superposition in a Privileged Basis") ---------------------
N_ROTATIONS = 1000  # random orthogonal O per instance, seeded: the chance level of alignment
CHANCE = 0.05  # W is aligned beyond chance when fewer than this share of the O W match it


def neuron_alignment(W: np.ndarray) -> float:
    """Mean over W's neurons (rows; all-zero rows count 0) of the share of Σᵢ W_ki² on the
    neuron's top feature: 1 when every neuron holds one feature, 1/n for an even spread."""
    squares = W**2
    total = squares.sum(axis=-1)
    share = squares.max(axis=-1) / np.where(total > 0, total, 1.0)
    return float(share.mean())


def rotated_alignment(W: np.ndarray, n: int = N_ROTATIONS, seed: int = 0) -> np.ndarray:
    """:func:`neuron_alignment` of O W for ``n`` random orthogonal O (Haar, seeded), shape (n,).
    A linear hidden layer's model is the same for every O W (TMS §"Superposition in a Privileged
    Basis"), so these are its equally good alternatives."""
    m = W.shape[0]
    gauss = np.random.default_rng(seed).standard_normal((n, m, m))
    Q, R = np.linalg.qr(gauss)
    Q = Q * np.sign(np.diagonal(R, axis1=1, axis2=2))[:, None, :]
    squares = (Q @ W) ** 2
    total = squares.sum(axis=-1)
    share = squares.max(axis=-1) / np.where(total > 0, total, 1.0)
    return share.mean(axis=-1)


def _chance(instance: InstanceResult) -> float:
    """The share of random rotations O W at least as aligned with the neurons as W."""
    W = _W(instance)
    return float((rotated_alignment(W) >= neuron_alignment(W)).mean())


def _linear_vs_relu_hidden(results: Results) -> list[Claim]:
    linear, relu = results
    lin = [_chance(i) for i in linear.instances]
    rel = [_chance(i) for i in relu.instances]
    ps = [f"{i.feature_probability:g}" for i in relu.instances]
    aligned = [p for p, c in zip(ps, rel, strict=True) if c < CHANCE]
    first = relu.instances[0]
    return [
        Claim(
            claim="A ReLU hidden layer makes the basis privileged: features align with neurons "
            "(dense, each neuron holds one feature); with a linear hidden layer any rotation O W "
            "is the same model, so W is no more aligned than a random rotation of it.",
            measured=f"share of {N_ROTATIONS:,} random rotations O W at least as aligned as W "
            "(neuron's top-feature share of Σᵢ W_ki²), dense → sparse: linear "
            + ", ".join(f"{c:.2f}" for c in lin)
            + "; ReLU "
            + ", ".join(f"{c:.2f}" for c in rel)
            + f" (ReLU W's alignment {neuron_alignment(_W(first)):.2f} at 1 − S = {ps[0]}; "
            f"beyond chance, < {CHANCE:g}, at 1 − S = {', '.join(aligned) or 'none'} only)",
            agrees=rel[0] < 0.01 and min(lin) >= CHANCE,
        )
    ]


# -- local almost-orthogonal bases (TMS §"Correlated and Anticorrelated Features") ---------------
def set_interference(W: np.ndarray, sets: Sequence[Sequence[int]]) -> tuple[float, float]:
    """Mean |Ŵᵢ·Ŵⱼ| over pairs i ≠ j within a set, and over pairs from different sets."""
    A = np.abs(cosines(W))
    label = np.full(W.shape[1], -1)
    for k, members in enumerate(sets):
        label[list(members)] = k
    inside = label >= 0
    same = (label[:, None] == label[None, :]) & inside[:, None] & inside[None, :]
    same &= ~np.eye(len(label), dtype=bool)
    across = (label[:, None] != label[None, :]) & inside[:, None] & inside[None, :]
    return float(A[same].mean()), float(A[across].mean())


def _local_bases(results: Results) -> list[Claim]:
    (result,) = results
    sets = [s.features for s in result.request.feature_sets or []]
    pairs = [set_interference(_W(i), sets) for i in result.instances]
    figures = [
        f"1 − S = {i.feature_probability:g}: {w:.3f} within, {a:.2f} across"
        for i, (w, a) in zip(result.instances, pairs, strict=True)
    ]
    return [
        Claim(
            claim="Each correlated set is a local almost-orthogonal basis: within a set WᵀW's "
            "off-diagonal entries are near 0, while features of different sets superpose.",
            measured="mean |Ŵᵢ·Ŵⱼ|: " + "; ".join(figures),
            agrees=pairs[-1][0] <= 0.05 and all(w < a / 2 for w, a in pairs),
        )
    ]


# Claims that also read the stored snapshot weights.
CACHE_CLAIMS: dict[str, Callable[[Results, ModelCache], list[Claim]]] = {
    "learning-dynamics": _dynamics,
    "energy-jump-digon": _dynamics,
}

MODEL_CLAIMS: dict[str, Callable[[Results], list[Claim]]] = {
    "basic-results": _basic_results,
    "intro-2d": _intro_2d,
    "pentagon": _pentagon,
    "pentagon-collapse": _pentagon_collapse,
    "features-vs-sparsity": _features_vs_sparsity,
    "feature-geometry": _feature_geometry,
    "polyhedra-3d": _polyhedra,
    "geometric-transformations": _geometric_transformations,
    "correlated-pairs": _correlated_pairs,
    "anticorrelated-pairs": _anticorrelated_pairs,
    "correlated-collapse": _correlated_collapse,
    "privileged-basis": _neurons_claim,
    "absolute-value-small": _two_neurons_per_feature,
    "absolute-value": _absolute_value,
    "adversarial-vulnerability": _adversarial,
    "linear-vs-relu-hidden": _linear_vs_relu_hidden,
    "local-orthogonal-bases": _local_bases,
    "pentagon-collapse-seeds": _pentagon_branches,
}


def _not_cached(preset: Preset) -> list[Claim]:
    return [Claim(claim=f"{preset.title}: see the text", measured=None, agrees=None)]


# A stored result never changes under its id: claims are kept per (cache, preset, ids).
_MEMO: dict[tuple[str, ...], list[Claim]] = {}
_MEMO_SIZE = 256


def _compute(preset: Preset, cache: ModelCache) -> list[Claim] | None:
    """The claims of ``preset`` from ``cache``; None when a result is not in it."""
    if preset.phase_diagram is not None:
        diagram = PhaseDiagramTask(preset.phase_diagram).load(cache)
        if diagram is None:
            return None
        return [
            Claim(
                claim="Trained models fall in the phase the closed-form theory predicts.",
                measured=f"{100 * diagram.agreement:.1f} % of cells agree with the theory",
                agrees=diagram.agreement >= 0.9,
            )
        ]
    if preset.double_descent is not None:
        sweep = DoubleDescentTask(preset.double_descent).load(cache)
        if sweep is None:
            return None
        return _double_descent(sweep)
    if preset.sae is not None:
        sae = SAETask(preset.sae).load(cache)
        if sae is None:
            return None
        mmcs = "–" if sae.mmcs is None else f"{sae.mmcs:.2f}"
        mcc = "–" if sae.mcc is None else f"{sae.mcc:.2f}"
        return [
            Claim(
                claim="Not in the paper (a sparse autoencoder on the toy model): how well its "
                "latents recover the known features.",
                measured=f"MMCS = {mmcs}, MCC = {mcc}, {sae.dead_latents} dead latents",
                agrees=None,
            )
        ]
    if preset.power_sweep is not None:
        sweep = [ModelTask(r).load(cache) for r in preset.power_sweep.shipped_requests()]
        models = [r for r in sweep if r is not None]
        return _power_sweep(models) if len(models) == len(sweep) else None
    compute = MODEL_CLAIMS.get(preset.id)
    with_cache = CACHE_CLAIMS.get(preset.id)
    if (compute is None and with_cache is None) or not preset.requests:
        return []
    results = [ModelTask(r).load(cache) for r in preset.requests]
    loaded = [r for r in results if r is not None]
    if len(loaded) < len(results):
        return None
    if with_cache is not None:
        return with_cache(loaded, cache)
    assert compute is not None
    return compute(loaded)


def preset_claims(preset: Preset, cache: ModelCache, ids: Sequence[str]) -> list[Claim]:
    """The claims of one preset, each with its figure from the result in ``cache``.

    Args:
        preset: the preset.
        cache: where its results are (the shipped models_cache/ or the server's cache).
        ids: its cache ids (``PresetInfo.model_ids`` etc.): with the preset's id, the memo's key.

    Returns:
        Its claims; one claim with ``measured`` None where a result is not cached yet.
    """
    key = (str(cache.root), preset.id, *ids)
    if key in _MEMO:
        return list(_MEMO[key])
    claims = _compute(preset, cache)
    if claims is None:
        return _not_cached(preset)
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[key] = claims
    return list(claims)
