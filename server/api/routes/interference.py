"""A trained model's interference (GET /api/models/{id}/interference), its compounding noise
(GET /api/models/{id}/noise), and the calculator (GET /api/interference/bounds):
docs/THEORY.md F13–F14.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import torch
from fastapi import APIRouter, Query

from server.api.deps import ModelId, WorkerDep, load_model, query_error
from server.api.schemas.analysis import (
    MAX_BINS,
    MAX_CALCULATOR_SIZE,
    MAX_L_VALUES,
    MAX_NOISE_SAMPLES,
    CosineStatistics,
    Histogram,
    InterferenceBounds,
    InterferenceStatistics,
    NoiseCurve,
)
from server.api.schemas.models import InstanceResult, ModelResult
from server.tms import interference, theory_interference

router = APIRouter(tags=["interference"])

InstanceQuery = Annotated[
    int, Query(ge=0, le=2**31 - 1, description="which instance (feature probability), from 0")
]
SeedQuery = Annotated[int, Query(ge=0, le=2**32 - 1, description="seeds the random draws")]


def _instance(result: ModelResult, index: int) -> InstanceResult:
    count = len(result.instances)
    if index >= count:
        raise query_error(
            "instance", f"instance is {index}; this model has {count} (0 to {count - 1})", index
        )
    return result.instances[index]


def _cosines(summary: interference.CosineSummary, edges: list[float]) -> CosineStatistics:
    return CosineStatistics(
        count=summary.count,
        rms=summary.rms,
        max=summary.max,
        mean=summary.mean,
        histogram=Histogram(edges=edges, counts=summary.counts),
    )


@router.get("/models/{model_id}/interference", response_model=InterferenceStatistics)
async def read_interference(
    model_id: ModelId,
    worker: WorkerDep,
    instance: InstanceQuery = 0,
    min_norm: Annotated[
        float, Query(ge=0.0, le=1e6, allow_inf_nan=False, description="‖Wᵢ‖ of a represented i")
    ] = 0.5,
    bins: Annotated[int, Query(ge=2, le=MAX_BINS, description="histogram bins")] = 40,
    seed: SeedQuery = 0,
) -> InterferenceStatistics:
    """Pairwise cosines of a stored model's represented features, beside random unit vectors.

    404 if the model is not stored; 422 for an instance it does not have.
    """
    result = await load_model(worker.cache, model_id)
    chosen = _instance(result, instance)
    W = torch.tensor(chosen.W, dtype=torch.float64)  # (m, n)
    represented, model, random = await asyncio.to_thread(
        interference.cosine_statistics, W, min_norm, bins, seed
    )
    edges = interference.histogram_edges(bins)
    m = result.request.n_hidden
    bounds = theory_interference.interference_bounds(max(1, len(represented)), m, 1)
    return InterferenceStatistics(
        id=model_id,
        instance=instance,
        n_features=result.request.n_features,
        n_hidden=m,
        min_norm=min_norm,
        represented=represented,
        model=_cosines(model, edges),
        random=_cosines(random, edges),
        bounds=InterferenceBounds.model_validate(bounds.as_dict()),
    )


@router.get("/models/{model_id}/noise", response_model=NoiseCurve)
async def read_noise(
    model_id: ModelId,
    worker: WorkerDep,
    instance: InstanceQuery = 0,
    l: Annotated[  # noqa: E741 (Linsefors's name for the number of active features)
        list[Annotated[int, Query(ge=1, le=2**31 - 1)]] | None,
        Query(
            max_length=MAX_L_VALUES,
            description="numbers of active features, each 1..n_features (repeat the parameter); "
            "default every l up to n = 64, else 48 log-spaced values",
        ),
    ] = None,
    samples: Annotated[
        int, Query(ge=1, le=MAX_NOISE_SAMPLES, description="random active sets per l")
    ] = 64,
    seed: SeedQuery = 0,
) -> NoiseCurve:
    """Compounding noise of a stored model: RMS readout of inactive features with l active.

    404 if the model is not stored; 422 for an instance it does not have or an l above n.
    """
    result = await load_model(worker.cache, model_id)
    chosen = _instance(result, instance)
    request = result.request
    if request.hidden != "none":
        raise query_error(
            "model_id",
            "the noise curve reads features back through WᵀW; this model has a ReLU hidden layer",
            model_id,
            where="path",
        )
    n, m = request.n_features, request.n_hidden
    active = interference.active_counts(l, n)
    if active[-1] > n:
        raise query_error("l", f"l is {active[-1]}; it must be at most n_features = {n}", l)
    curve = await asyncio.to_thread(
        interference.noise_curve,
        torch.tensor(chosen.W, dtype=torch.float64),
        torch.tensor(chosen.b, dtype=torch.float64),
        request.activation,
        request.power or 1,
        active,
        samples,
        seed,
    )
    report = interference.noise_report(curve, n, m)
    return NoiseCurve(
        id=model_id,
        instance=instance,
        n_features=n,
        n_hidden=m,
        samples=samples,
        seed=seed,
        l=curve.active,
        pre_activation_rms=curve.pre_activation_rms,
        post_activation_rms=curve.post_activation_rms,
        signal=curve.signal,
        predicted_rms=report.predicted_rms,
        crossover_l=report.crossover_l,
        typical_budget=report.typical_budget,
        worst_case_budget=report.worst_case_budget,
    )


Size = Annotated[int, Query(ge=1, le=MAX_CALCULATOR_SIZE)]


@router.get("/interference/bounds", response_model=InterferenceBounds)
async def read_bounds(
    n_features: Size,
    n_hidden: Size,
    l: Size = 1,  # noqa: E741 (Linsefors's name)
) -> InterferenceBounds:
    """The what-if calculator: random-vector and JL interference for n features in m dimensions
    with l active, without training (docs/THEORY.md F13–F14)."""
    bounds = theory_interference.interference_bounds(n_features, n_hidden, l)
    return InterferenceBounds.model_validate(bounds.as_dict())
