"""Closed-form lines to draw beside trained models: GET /api/theory/power (docs/THEORY.md F15)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Query

from server.api.deps import query_error
from server.api.schemas.analysis import (
    MAX_CALCULATOR_SIZE,
    MAX_THEORY_POINTS,
    PowerTheory,
)
from server.tms import theory, theory_power
from server.tms.config import POWERS, Magnitude

router = APIRouter(prefix="/theory", tags=["theory"])

Probability = Annotated[float, Query(gt=0.0, le=1.0, allow_inf_nan=False)]
Size = Annotated[int, Query(ge=1, le=MAX_CALCULATOR_SIZE)]


@router.get("/power", response_model=PowerTheory)
async def read_power_theory(
    k: Annotated[int, Query(ge=1, le=max(POWERS), description="x′ = (WᵀWx)^k: 1, 3 or 5")],
    n_hidden: Size,
    n_features: Size,
    magnitude: Magnitude = "uniform",
    p_min: Probability = 1e-3,
    p_max: Probability = 1.0,
    points: Annotated[int, Query(ge=2, le=MAX_THEORY_POINTS)] = 100,
) -> PowerTheory:
    """Gains of the power model against p: the best unsuperposed W (exact), for k = 1 the linear
    ceiling (exact), and Theorem 2.2's scaling shapes with constant 1 (constants unknown).

    422 unless k is 1, 3 or 5 and 0 < p_min < p_max ≤ 1.
    """
    if k not in POWERS:
        raise query_error("k", f"k is {k}; it must be one of {', '.join(map(str, POWERS))}", k)
    if p_min >= p_max:
        raise query_error("p_max", f"p_max is {p_max}; it must be above p_min = {p_min}", p_max)
    ps = theory.log_spaced(p_min, p_max, points)
    series = theory_power.power_series(k, n_hidden, n_features, magnitude, ps)
    return PowerTheory.model_validate(dataclasses.asdict(series))
