"""Phase diagrams' science: each trained cell classified from its W, and the closed-form phase of
every cell beside it (TMS §"Superposition as a Phase Change").

A diagram is one batched run over a (p, r) grid: cell (y, x) is instance ``y * grid_size + x``,
with feature probability p[x] for every feature, importance 1 for the first features and r[y] for
the last ("extra") one (:func:`cell_config`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from server.tms import metrics, theory
from server.tms.config import ModelConfig

# n = 2, m = 1 (documented in the API): the extra feature is "not_learned" when ‖W₂‖ < 0.5
# (trained norms sit near 0 or near 1), else "superposition" when Σ_{j≠2} (Ŵ₂·Wⱼ)² ≥ 0.5 (1 for the
# antipodal W = [1, −1], 0 for the dedicated W = [0, 1]), else "dedicated".
NORM_THRESHOLD = 0.5
SUPERPOSITION_THRESHOLD = 0.5

# n = 3, m = 2: first the norms. A feature with ‖Wᵢ‖ < NORM_THRESHOLD is not represented: with the
# other two represented that is "not_learned" (the extra feature dropped) or "dedicated" (feature 1
# or 2 dropped), whatever the short column's direction; fewer than two represented is "other".
# With all three represented, the direction v that W ignores (W v = 0, the cross product of W's
# two rows) is matched to the paper's candidates up to sign; |cos| ≥ 0.9 names it. The candidates'
# directions are at most 0.82 apart in |cos| ([0, 1, 1] vs [1, 1, 1]), so no direction matches
# two. A W whose rows are nearly parallel (|v| < 0.1 ‖row₁‖ ‖row₂‖: rank below 2) is "other".
DIRECTION_THRESHOLD = 0.9
RANK_THRESHOLD = 0.1
IGNORED_DIRECTIONS_3x2: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("not_learned", (0.0, 0.0, 1.0)),
    ("dedicated", (1.0, 0.0, 0.0)),
    ("dedicated", (0.0, 1.0, 0.0)),
    ("extra_superposed", (0.0, 1.0, 1.0)),
    ("extra_superposed", (1.0, 0.0, 1.0)),
    ("others_superposed", (1.0, 1.0, 0.0)),
    ("all_superposed", (1.0, 1.0, 1.0)),
)


def classify_2x1(W: Tensor) -> list[str]:
    """The extra feature's phase in each trained n = 2, m = 1 model.

    Args:
        W: (cells, 1, 2).

    Returns:
        One of ``"not_learned"``, ``"dedicated"``, ``"superposition"`` per cell (thresholds
        :data:`NORM_THRESHOLD`, :data:`SUPERPOSITION_THRESHOLD`).
    """
    norm = metrics.feature_norms(W)[:, -1]
    overlap = metrics.superposition(W)[:, -1]
    return [
        "not_learned"
        if n < NORM_THRESHOLD
        else "superposition"
        if s >= SUPERPOSITION_THRESHOLD
        else "dedicated"
        for n, s in zip(norm.tolist(), overlap.tolist(), strict=True)
    ]


def classify_3x2(W: Tensor) -> list[str]:
    """The geometry of each trained n = 3, m = 2 model, named by the direction W ignores.

    Args:
        W: (cells, 2, 3).

    Returns:
        Per cell, a :data:`server.tms.theory.PHASES_3x2` name, ``"all_superposed"`` (W ⊥ [1, 1, 1],
        a triangle) or ``"other"``: by the norms where a feature is not represented, else by the
        ignored direction (see :data:`NORM_THRESHOLD`, :data:`DIRECTION_THRESHOLD`,
        :data:`RANK_THRESHOLD`).
    """
    W = W.double()
    represented = (metrics.feature_norms(W) >= NORM_THRESHOLD).tolist()  # (cells, 3)
    ignored = torch.linalg.cross(W[:, 0, :], W[:, 1, :], dim=-1)  # (cells, 3), W · ignored = 0
    size = torch.linalg.vector_norm(ignored, dim=-1)
    rows = torch.linalg.vector_norm(W, dim=-1).prod(dim=-1)
    directions = torch.tensor([d for _, d in IGNORED_DIRECTIONS_3x2], dtype=torch.float64)
    directions = directions / torch.linalg.vector_norm(directions, dim=-1, keepdim=True)
    unit = ignored / size.clamp_min(torch.finfo(torch.float64).tiny).unsqueeze(-1)
    cosine = (unit @ directions.T).abs()  # (cells, candidates)
    best_cos, best = cosine.max(dim=-1)
    full_rank = (size >= RANK_THRESHOLD * rows) & (rows > 0)
    matched = full_rank & (best_cos >= DIRECTION_THRESHOLD)
    by_direction = [
        IGNORED_DIRECTIONS_3x2[k][0] if ok else "other"
        for k, ok in zip(best.tolist(), matched.tolist(), strict=True)
    ]
    return [_by_norms(kept) or named for kept, named in zip(represented, by_direction, strict=True)]


def _by_norms(represented: list[bool]) -> str | None:
    """The class that the represented features (first, second, extra) decide alone, or None
    when all three are represented (the direction decides)."""
    if all(represented):
        return None
    if sum(represented) < 2:
        return "other"
    return "not_learned" if not represented[2] else "dedicated"


def classify(W: Tensor) -> list[str]:
    """:func:`classify_2x1` or :func:`classify_3x2`, by W's shape (cells, m, n)."""
    return classify_2x1(W) if W.shape[-1] == 2 else classify_3x2(W)


# n = 3, m = 2: a trained cell whose geometry is not the theory's winner but whose loss is below
# every candidate's closed-form loss by more than this many of its standard errors found a
# solution outside the paper's candidate set (the dense columns' partly represented pairs): it is
# "beats_candidates" rather than a miss of some candidate's geometry. (Cells of the winner's
# geometry often beat its closed form a little, with a better bias; they keep their class.)
BEATS_CANDIDATES = "beats_candidates"
BEATS_STDERRS = 3.0


def classify_cells(
    W: Tensor,
    loss: Sequence[float] | None = None,
    stderr: Sequence[float] | None = None,
    candidate_losses: Sequence[Sequence[float]] | None = None,
    phases: Sequence[str] = theory.PHASES_3x2,
) -> list[str]:
    """Each cell's class: :func:`classify`, and for n = 3 ``"beats_candidates"`` where that is
    not the theory's winner and the trained loss is below every candidate's by more than
    :data:`BEATS_STDERRS` standard errors.

    Args:
        W: (cells, m, n).
        loss, stderr: per cell, the trained L on fresh samples and its standard error; None (a
            live snapshot's batch loss, or an entry stored without them) classifies by W alone.
        candidate_losses: per cell, the closed-form loss of each of ``phases`` (the theory's
            candidates, in its tie-break order).
    """
    classes = classify(W)
    if W.shape[-1] != 3 or loss is None or stderr is None or candidate_losses is None:
        return classes
    marked = []
    for named, value, error, candidates in zip(
        classes, loss, stderr, candidate_losses, strict=True
    ):
        best = min(candidates)
        winner = phases[list(candidates).index(best)]
        beats = named != winner and value + BEATS_STDERRS * error < best
        marked.append(BEATS_CANDIDATES if beats else named)
    return marked


def cell_config(
    n_features: int, n_hidden: int, ps: Sequence[float], rs: Sequence[float]
) -> tuple[ModelConfig, Tensor]:
    """The grid's model (one instance per cell, row-major over [r][p]) and each cell's importance.

    Returns:
        The config (importances 1; the per-cell importance goes to ``Run``'s ``importance``) and
        the importance, (cells, n_features): 1 for every feature but the last, r for it.
    """
    others = [1.0] * (n_features - 1)
    config = ModelConfig(n_features, n_hidden, feature_probability=[p for _ in rs for p in ps])
    importance = torch.tensor([[*others, r] for r in rs for _ in ps])
    return config, importance


def to_grid(values: list, size: int) -> list[list]:
    """Row-major cells → [y][x] (``size`` cells a row)."""
    return [values[y * size : (y + 1) * size] for y in range(size)]


@dataclass(frozen=True)
class TheoryGrids:
    """The closed-form side of a diagram (the paper's n = 2, m = 1 and n = 3, m = 2 candidates).

    Attributes:
        phases: the theory's class names in tie-break order.
        theory: [y][x] candidate of least loss.
        candidate_losses: name → [y][x] closed-form loss.
        boundaries: the phase boundaries inside the diagram's ranges.
    """

    phases: list[str]
    theory: list[list[str]]
    candidate_losses: dict[str, list[list[float]]]
    boundaries: list[theory.Boundary]


def theory_grids(
    n_features: int,
    ps: Sequence[float],
    rs: Sequence[float],
    p_range: tuple[float, float],
    r_range: tuple[float, float],
) -> TheoryGrids:
    """The closed-form phase and every candidate's loss at each cell, and the boundaries.

    Args:
        n_features: 2 (with m = 1) or 3 (with m = 2).
        ps, rs: the grid's feature probabilities (x) and relative importances (y), equal length.
        p_range, r_range: the diagram's axis ranges, for the boundary curves.
    """
    two = n_features == 2
    losses_of = theory.candidate_losses_2x1 if two else theory.candidate_losses_3x2
    # the antipodal solution with its optimal bias, (1 + r)·f*(ρ): shown, not a candidate
    f_star = {p: theory.optimal_antipodal_bias(p)[1] for p in ps} if two else {}
    phases, cells = [], []
    for r in rs:
        for p in ps:
            losses = losses_of(p, r)
            phases.append(theory.best_candidate(losses))
            if two:
                losses["superposition_optimised_bias"] = (1 + r) * f_star[p]
            cells.append(losses)
    size = len(ps)
    return TheoryGrids(
        phases=list(theory.PHASES_2x1 if two else theory.PHASES_3x2),
        theory=to_grid(phases, size),
        candidate_losses={name: to_grid([c[name] for c in cells], size) for name in cells[0]},
        boundaries=theory.boundaries(n_features, p_range, r_range),
    )
