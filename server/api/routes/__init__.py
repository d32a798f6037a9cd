"""The API, one router per resource, all under /api."""

from fastapi import APIRouter

from server.api.routes import (
    adversarial,
    double_descent,
    interference,
    jobs,
    live,
    meta,
    models,
    phase_diagrams,
    power_sweeps,
    presets,
    saes,
    theory,
    weights,
)

api_router = APIRouter(prefix="/api")
api_router.include_router(meta.router)
api_router.include_router(models.router)
api_router.include_router(live.router)
api_router.include_router(phase_diagrams.router)
api_router.include_router(interference.router)
api_router.include_router(theory.router)
api_router.include_router(power_sweeps.router)
api_router.include_router(presets.router)
api_router.include_router(saes.router)
api_router.include_router(jobs.router)
api_router.include_router(weights.router)
api_router.include_router(double_descent.router)
api_router.include_router(adversarial.router)
