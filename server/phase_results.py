"""Phase diagrams as the API's results, and the task that lets the worker train one.

TMS §"Superposition as a Phase Change": one batched run over a (p, r) grid
(``tms.phase_diagram.cell_config``), each cell's lowest-loss seed kept and classified from its W
(``tms.phase_diagram.classify``), beside the closed-form phase of every cell.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import torch
from torch import Tensor

from server import results
from server.api.schemas.models import LossEstimate
from server.api.schemas.phase_diagrams import BoundaryCurve, PhaseDiagramRequest, PhaseDiagramResult
from server.cache import ModelCache, Stored
from server.tms import metrics
from server.tms.config import TrainConfig
from server.tms.phase_diagram import (
    BEATS_STDERRS,
    DIRECTION_THRESHOLD,
    NORM_THRESHOLD,
    RANK_THRESHOLD,
    SUPERPOSITION_THRESHOLD,
    TheoryGrids,
    cell_config,
    classify_cells,
    theory_grids,
    to_grid,
)
from server.tms.training import Run, TrainResult

KIND = "phase_diagram"


def _finite(values: list[float]) -> list[float]:
    """JSON has no NaN or Inf: a diverged cell reports the largest float instead."""
    return [v if math.isfinite(v) else math.copysign(sys.float_info.max, v) for v in values]


def _flat(grid: list[list[Any]] | None) -> list[Any] | None:
    """[y][x] → row-major cells (None stays None)."""
    return None if grid is None else [v for row in grid for v in row]


def classes_of(
    W: Tensor,
    loss: list[float],
    stderr: list[float] | None,
    candidate_losses: dict[str, list[list[float]]],
    phases: list[str],
) -> list[str]:
    """Every cell's class (``classify_cells``), row-major; the candidates are ``phases``."""
    per_cell = [[v for row in candidate_losses[name] for v in row] for name in phases]
    candidates = [list(values) for values in zip(*per_cell, strict=True)]
    return classify_cells(W, loss if stderr is not None else None, stderr, candidates, phases)


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
    loss_estimate: LossEstimate | None = None,
    loss_stderr: Tensor | None = None,
) -> PhaseDiagramResult:
    """Assemble a diagram from every cell's weights.

    Args:
        W: (cells, m, n); b: (cells, n); loss: (cells,), cells row-major over [y][x].
        loss_estimate: how ``loss`` was measured (final diagrams), else None.
        loss_stderr: (cells,), the standard error of a final diagram's ``loss``, else None; with
            it, n = 3 cells far below every candidate's loss are "beats_candidates".
    """
    size = request.grid_size
    W, b = W.detach().cpu(), b.detach().cpu()
    losses = _finite(loss.detach().double().cpu().tolist())
    stderrs = None if loss_stderr is None else _finite(loss_stderr.double().cpu().tolist())
    empirical = classes_of(W, losses, stderrs, grids.candidate_losses, grids.phases)
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
        empirical=to_grid(empirical, size),
        theory=grids.theory,
        agreement=agreement,
        extra_norm=to_grid(metrics.feature_norms(W)[:, -1].tolist(), size),
        extra_superposition=to_grid(metrics.superposition(W)[:, -1].tolist(), size),
        loss=to_grid(losses, size),
        loss_stderr=None if stderrs is None else to_grid(stderrs, size),
        candidate_losses=grids.candidate_losses,
        boundaries=[
            BoundaryCurve.model_validate(curve, from_attributes=True) for curve in grids.boundaries
        ],
        W=to_grid(W.tolist(), size),
        b=to_grid(b.tolist(), size),
        thresholds={
            "norm": NORM_THRESHOLD,
            "superposition": SUPERPOSITION_THRESHOLD,
            "direction_cosine": DIRECTION_THRESHOLD,
            "rank": RANK_THRESHOLD,
            "beats_candidates_stderrs": BEATS_STDERRS,
        },
        loss_estimate=loss_estimate,
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
            request = self.request
            self._grids = theory_grids(
                request.n_features,
                request.feature_probabilities,
                request.relative_importances,
                request.feature_probability_range,
                request.relative_importance_range,
            )
        return self._grids

    def load(self, cache: ModelCache) -> PhaseDiagramResult | None:
        return load_diagram(cache, self.id)

    def start(self, device: torch.device) -> Run:
        request = self.request
        model, importance = cell_config(
            request.n_features,
            request.n_hidden,
            request.feature_probabilities,
            request.relative_importances,
        )
        config = TrainConfig(
            steps=request.steps,
            batch_size=request.batch_size,
            lr=request.lr,
            seed=request.seed,
            n_restarts=request.n_restarts,
        )
        _ = self.grids  # the theory side, ready before the first snapshot needs it
        return Run(model, config, device, importance)

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
            loss_estimate=results.loss_estimate(trained.loss_estimate),
            loss_stderr=trained.loss_stderr,
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
    expected = classes_of(
        W,
        _flat(body["loss"]),
        _flat(body.get("loss_stderr")),
        body["candidate_losses"],
        body["phases"],
    )
    if _flat(body["empirical"]) != expected:
        raise ValueError("the stored classes are not those of the stored weights")
    return PhaseDiagramResult.model_validate(
        body | {"cached": True, "W": to_grid(W.tolist(), size), "b": to_grid(b.tolist(), size)}
    )
