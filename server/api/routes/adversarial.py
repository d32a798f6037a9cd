"""A trained model's vulnerability to the paper's analytic L2 attack
(GET /api/models/{id}/adversarial; TMS §"Relationship to Adversarial Robustness")."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from typing import Annotated

import torch
from fastapi import APIRouter, Query

from server.api.deps import ModelId, WorkerDep, load_model, query_error
from server.api.schemas.adversarial import (
    DEFAULT_ADVERSARIAL_SAMPLES,
    MAX_ADVERSARIAL_SAMPLES,
    MAX_EPSILON,
    AdversarialResult,
    max_adversarial_samples,
)
from server.tms import adversarial
from server.tms.data import FeatureDistribution
from server.tms.model import Architecture

router = APIRouter(tags=["adversarial"])


@router.get("/models/{model_id}/adversarial", response_model=AdversarialResult)
async def read_adversarial(
    model_id: ModelId,
    worker: WorkerDep,
    instance: Annotated[
        int, Query(ge=0, le=2**31 - 1, description="which instance (feature probability), from 0")
    ] = 0,
    epsilon: Annotated[
        float,
        Query(
            gt=0.0,
            le=MAX_EPSILON,
            allow_inf_nan=False,
            description="ε: the attack's L2 norm as a fraction of the mean input norm (the "
            "paper's 0.1)",
        ),
    ] = 0.1,
    samples: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_ADVERSARIAL_SAMPLES,
            description="fresh inputs to attack; at most samples × n_features² × (n_hidden + 1) "
            "≤ 2³² for the model's shape",
        ),
    ] = DEFAULT_ADVERSARIAL_SAMPLES,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1, description="seeds the inputs")] = 0,
) -> AdversarialResult:
    """Each fresh input is attacked along every feature's (WᵀW)ᵢ / ‖(WᵀW)ᵢ‖ with norm λ = ε ·
    mean ‖x‖, and the attack that harms it most counts (TMS §"Relationship to Adversarial
    Robustness"); ``vulnerability`` = (attacked − clean loss) / λ².

    404 if the model is not stored; 422 naming ``instance`` for one it does not have,
    ``samples`` above the limit for its shape (``epsilon`` and the rest by their ranges), or
    ``model_id`` for a diverged model whose loss overflows.
    """
    result = await load_model(worker.cache, model_id, gram=False)
    request = result.request
    count = len(result.instances)
    if instance >= count:
        raise query_error(
            "instance",
            f"instance is {instance}; this model has {count} (0 to {count - 1})",
            instance,
        )
    limit = max_adversarial_samples(request.n_features, request.n_hidden)
    if samples > limit:
        raise query_error(
            "samples",
            f"samples is {samples}; at most {limit} for {request.n_features} features and "
            f"{request.n_hidden} hidden dimensions (samples × n_features² × (n_hidden + 1) ≤ 2³²)",
            samples,
        )
    chosen = result.instances[instance]
    config = request.to_config()
    W_out = None if chosen.W_out is None else torch.tensor(chosen.W_out)
    try:
        measured = await asyncio.to_thread(
            adversarial.vulnerability,
            torch.tensor(chosen.W),
            torch.tensor(chosen.b),
            torch.tensor(config.probability_rows[instance]),
            torch.tensor(config.importances),
            epsilon,
            samples,
            seed,
            Architecture.of(config),
            FeatureDistribution.of(config),
            W_out,
        )
    except ValueError as error:  # every sampled input was zero: λ = 0
        raise query_error("samples", str(error), samples) from error
    figures = (measured.clean_loss, measured.attacked_loss, measured.vulnerability_stderr)
    if not all(math.isfinite(v) for v in figures):  # JSON has no inf or NaN
        raise query_error(
            "model_id",
            "this model's loss overflows on these inputs (its weights diverged in training)",
            model_id,
            where="path",
        )
    return AdversarialResult(
        id=model_id,
        instance=instance,
        seed=seed,
        dimensions_per_feature=chosen.dimensions_per_feature,
        **dataclasses.asdict(measured),
    )
