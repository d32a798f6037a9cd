"""POST /api/power-sweeps/plan: the power page's sweep as the model requests that train it."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from server.api.deps import SettingsDep, WorkerDep
from server.api.limits import limit_errors
from server.api.schemas.power_sweeps import PowerRun, PowerSweepPlan, PowerSweepRequest

router = APIRouter(prefix="/power-sweeps", tags=["theory"])


@router.post("/plan", response_model=PowerSweepPlan)
async def plan_power_sweep(
    request: PowerSweepRequest, settings: SettingsDep, worker: WorkerDep
) -> PowerSweepPlan:
    """What a sweep of the power model trains, without training it: the swept p (log-spaced,
    four significant digits), the p range for GET /api/theory/power, and per m its n (the power
    rule n = mᵏ + 1 unless ``n_features`` is given, at most ``max_features``), where it stands
    against the theorem's n > mᵏ, its model request (POST it to /api/models as given: the
    default sweep is shipped, so it answers ``cached: true``), its id and whether it is cached.

    Nothing is refused for the server's limits: a run over one has no ``model_id`` and says
    which in ``limit_errors`` (POST /api/models refuses it with a 422 naming the field); 422
    only for a malformed sweep.
    """
    sweep = request.normalised()
    max_features = settings.limits.max_features
    requests = sweep.model_requests(max_features)

    def runs() -> list[PowerRun]:
        out = []
        for m, model in zip(sweep.n_hidden, requests, strict=True):
            n, capped = sweep.features_for(m, max_features)
            threshold = m**sweep.k
            # Over a limit, POST /api/models refuses it: no id (which could be costly to
            # compute: n_features is bounded only by its limit), and the limits' messages.
            refused = [str(error["msg"]) for error in limit_errors(model, settings.limits)]
            model_id = None if refused else model.model_id()
            out.append(
                PowerRun(
                    n_hidden=m,
                    n_features=n,
                    threshold=threshold,
                    auto=sweep.n_features is None,
                    capped=capped,
                    in_regime=n > threshold,
                    model_request=model,
                    model_id=model_id,
                    cached=model_id is not None and worker.cache.path(model_id).is_dir(),
                    limit_errors=refused,
                )
            )
        return out

    return PowerSweepPlan(
        request=sweep,
        feature_probability=sweep.feature_probabilities(),
        theory_range=sweep.theory_range(),
        runs=await asyncio.to_thread(runs),
    )
