"""The API, one router per resource, all under /api."""

from fastapi import APIRouter

from server.routes import live, meta, models, phase_diagrams

api_router = APIRouter(prefix="/api")
api_router.include_router(meta.router)
api_router.include_router(models.router)
api_router.include_router(live.router)
api_router.include_router(phase_diagrams.router)
