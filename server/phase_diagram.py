"""Empirical phase diagrams: one batched run over a (p, r) grid, each cell classified from its W.

TMS §"Superposition as a Phase Change". Cell (y, x) is instance ``y * grid_size + x`` of one
:class:`~server.training.Run`: feature probability p[x] for every feature, importance 1 for the
first features and r[y] for the last ("extra") one, ``n_restarts`` seeds, the lowest-loss seed
kept, as the paper does. The classifiers below turn a trained W into the paper's phases, and
:mod:`server.theory` gives the closed-form phase of every cell beside it.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import torch
from torch import Tensor

from server import metrics, theory
from server.cache import ModelCache, Stored
from server.phase_schemas import BoundaryCurve, PhaseDiagramRequest, PhaseDiagramResult
from server.training import Run, TrainConfig, TrainResult

KIND = "phase_diagram"

# n = 2, m = 1 (documented in the API): the extra feature is "not_learned" when ‖W₂‖ < 0.5
# (trained norms sit near 0 or near 1), else "superposition" when Σ_{j≠2} (Ŵ₂·Wⱼ)² ≥ 0.5 (1 for the
# antipodal W = [1, −1], 0 for the dedicated W = [0, 1]), else "dedicated".
NORM_THRESHOLD = 0.5
SUPERPOSITION_THRESHOLD = 0.5

# n = 3, m = 2: the direction v that W ignores (W v = 0, the cross product of W's two rows) is
# matched to the paper's candidates up to sign; |cos| ≥ 0.9 names it. The candidates' directions
# are at most 0.82 apart in |cos| ([0, 1, 1] vs [1, 1, 1]), so no direction matches two. A W whose
# rows are nearly parallel (|v| < 0.1 ‖row₁‖ ‖row₂‖: rank below 2) is "other".
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
        Per cell, a :data:`server.theory.PHASES_3x2` name, ``"all_superposed"`` (W ⊥ [1, 1, 1],
        a triangle) or ``"other"`` (see :data:`DIRECTION_THRESHOLD`, :data:`RANK_THRESHOLD`).
    """
    W = W.double()
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
    return [
        IGNORED_DIRECTIONS_3x2[k][0] if ok else "other"
        for k, ok in zip(best.tolist(), matched.tolist(), strict=True)
    ]


def classify(W: Tensor) -> list[str]:
    """:func:`classify_2x1` or :func:`classify_3x2`, by W's shape (cells, m, n)."""
    return classify_2x1(W) if W.shape[-1] == 2 else classify_3x2(W)


def _grid(values: list[Any], size: int) -> list[list[Any]]:
    """Row-major cells → [y][x]."""
    return [values[y * size : (y + 1) * size] for y in range(size)]


class TheoryGrids:
    """The closed-form side of a diagram, computed once per request (THEORY.md F6–F8).

    Attributes:
        phases: the theory's class names in tie-break order.
        theory: [y][x] candidate of least loss.
        candidate_losses: name → [y][x] closed-form loss.
        boundaries: the phase boundaries inside the diagram's ranges.
    """

    def __init__(self, request: PhaseDiagramRequest) -> None:
        ps, rs = request.feature_probabilities, request.relative_importances
        two = request.n_features == 2
        losses_of = theory.candidate_losses_2x1 if two else theory.candidate_losses_3x2
        self.phases = list(theory.PHASES_2x1 if two else theory.PHASES_3x2)
        # F8's antipodal solution with its optimal bias, (1 + r)·f*(ρ): shown, not a candidate
        f_star = {p: theory.optimal_antipodal_bias(p)[1] for p in ps} if two else {}
        phases, cells = [], []
        for r in rs:
            for p in ps:
                losses = losses_of(p, r)
                phases.append(theory.best_candidate(losses))
                if two:
                    losses["superposition_optimised_bias"] = (1 + r) * f_star[p]
                cells.append(losses)
        size = request.grid_size
        self.theory = _grid(phases, size)
        self.candidate_losses = {name: _grid([c[name] for c in cells], size) for name in cells[0]}
        self.boundaries = [
            BoundaryCurve.model_validate(curve, from_attributes=True)
            for curve in theory.boundaries(
                request.n_features,
                request.feature_probability_range,
                request.relative_importance_range,
            )
        ]


def _finite(values: list[float]) -> list[float]:
    """JSON has no NaN or Inf: a diverged cell reports the largest float instead."""
    return [v if math.isfinite(v) else math.copysign(sys.float_info.max, v) for v in values]


def diagram(
    request: PhaseDiagramRequest,
    grids: TheoryGrids,
    W: Tensor,
    b: Tensor,
    loss: Tensor,
    *,
    id: str,
    step: int,
    final: bool,
    device: str,
    seconds: float,
) -> PhaseDiagramResult:
    """Assemble a diagram from every cell's weights.

    Args:
        W: (cells, m, n); b: (cells, n); loss: (cells,), cells row-major over [y][x].
    """
    size = request.grid_size
    W, b = W.detach().cpu(), b.detach().cpu()
    empirical = classify(W)
    theory_cells = [phase for row in grids.theory for phase in row]
    agreement = sum(e == t for e, t in zip(empirical, theory_cells, strict=True)) / len(empirical)
    return PhaseDiagramResult(
        id=id,
        cached=False,
        request=request,
        device=device,
        train_seconds=seconds,
        step=step,
        final=final,
        feature_probability=request.feature_probabilities,
        relative_importance=request.relative_importances,
        phases=grids.phases,
        empirical=_grid(empirical, size),
        theory=grids.theory,
        agreement=agreement,
        extra_norm=_grid(metrics.feature_norms(W)[:, -1].tolist(), size),
        extra_superposition=_grid(metrics.superposition(W)[:, -1].tolist(), size),
        loss=_grid(_finite(loss.detach().double().cpu().tolist()), size),
        candidate_losses=grids.candidate_losses,
        boundaries=grids.boundaries,
        W=_grid(W.tolist(), size),
        b=_grid(b.tolist(), size),
        thresholds={
            "norm": NORM_THRESHOLD,
            "superposition": SUPERPOSITION_THRESHOLD,
            "direction_cosine": DIRECTION_THRESHOLD,
            "rank": RANK_THRESHOLD,
        },
    )


class PhaseDiagramTask:
    """What the training worker needs to train a :class:`PhaseDiagramRequest`."""

    def __init__(self, request: PhaseDiagramRequest) -> None:
        self.request = request
        self.id = request.diagram_id()
        self._grids: TheoryGrids | None = None

    @property
    def grids(self) -> TheoryGrids:
        if self._grids is None:  # built on the worker thread, once
            self._grids = TheoryGrids(self.request)
        return self._grids

    def load(self, cache: ModelCache) -> PhaseDiagramResult | None:
        return load_diagram(cache, self.id)

    def start(self, device: torch.device) -> Run:
        request = self.request
        ps, rs = request.feature_probabilities, request.relative_importances
        others = [1.0] * (request.n_features - 1)
        probability = torch.tensor([[p] for _ in rs for p in ps], device=device)
        importance = torch.tensor([[*others, r] for r in rs for _ in ps], device=device)
        config = TrainConfig(
            steps=request.steps,
            batch_size=request.batch_size,
            lr=request.lr,
            n_restarts=request.n_restarts,
        )
        _ = self.grids  # the theory side, ready before the first snapshot needs it
        return Run(probability, importance, request.n_hidden, "relu", config, request.seed)

    def snapshot(self, run: Run) -> dict[str, Any]:
        """The live message's fields: the diagram from every cell's best seed now."""
        W, b, loss, _ = run.current()
        partial = diagram(
            self.request, self.grids, W, b, loss,
            id=self.id, step=run.step, final=False, device=str(W.device), seconds=0.0,
        )  # fmt: skip
        return {"id": self.id, "step": run.step, "steps": self.request.steps, "diagram": partial}

    def result(
        self, trained: TrainResult, device: torch.device, seconds: float
    ) -> PhaseDiagramResult:
        return diagram(
            self.request, self.grids, trained.W, trained.b, trained.loss,
            id=self.id, step=self.request.steps, final=True, device=str(device), seconds=seconds,
        )  # fmt: skip

    def save(self, cache: ModelCache, result: PhaseDiagramResult, trained: TrainResult) -> None:
        body = result.model_dump(mode="json", exclude={"cached", "W", "b"})
        cache.write(self.id, KIND, body, {"W": trained.W, "b": trained.b})


def load_diagram(cache: ModelCache, diagram_id: str) -> PhaseDiagramResult | None:
    """A stored diagram (``cached=True``), or None if absent, not a diagram, or unusable.

    Raises:
        ValueError: ``diagram_id`` is not 64 lowercase hex digits.
    """
    return cache.read(diagram_id, KIND, _decode)


def _decode(stored: Stored, diagram_id: str) -> PhaseDiagramResult:
    """The diagram of a verified entry; ValueError if its parts do not fit together."""
    body, W, b = stored.result, stored.tensors["W"], stored.tensors["b"]
    request = PhaseDiagramRequest.model_validate(body["request"])
    if request.diagram_id() != diagram_id:
        raise ValueError("request does not hash to the id")
    cells, size = request.grid_size**2, request.grid_size
    if W.shape != (cells, request.n_hidden, request.n_features) or b.shape != (
        cells,
        request.n_features,
    ):
        raise ValueError(f"weights have shape {tuple(W.shape)}")
    if [c for row in body["empirical"] for c in row] != classify(W):
        raise ValueError("the stored classes are not those of the stored weights")
    return PhaseDiagramResult.model_validate(
        body | {"cached": True, "W": _grid(W.tolist(), size), "b": _grid(b.tolist(), size)}
    )
