"""The FastAPI application: the API routers, Plotly.js from the plotly package, the frontend."""

from __future__ import annotations

import importlib.resources
import importlib.util
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from server import __version__
from server.api.deps import LiveSockets
from server.api.errors import public_errors
from server.api.limits import FIELD_LIMITS
from server.api.routes import api_router
from server.api.security import protect
from server.api.settings import Limits, Settings, get_settings
from server.cache import ModelCache
from server.device import select_device, set_torch_threads
from server.job_records import JobRecords
from server.jobs import JobBoard, TrainingWorker
from server.presets import shipped_ids


class BackendUnavailable(RuntimeError):
    """The requested training backend cannot run here (Ray is not installed)."""


def frontend_dir() -> Path:
    """The static frontend: inside the installed package, or beside it in a source checkout."""
    package = Path(__file__).resolve().parents[1]  # server/
    packaged = package / "frontend"
    return packaged if packaged.is_dir() else package.parent / "frontend"


def theory_path() -> Path:
    """docs/THEORY.md, the formulas the pages cite: inside the installed package, or in the
    checkout."""
    package = Path(__file__).resolve().parents[1]  # server/
    packaged = package / "docs" / "THEORY.md"
    return packaged if packaged.is_file() else package.parent / "docs" / "THEORY.md"


def json_safe(value: Any) -> Any:
    """Replace NaN and ±Inf (not JSON numbers) by their names, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


async def validation_error(_: Request, exc: Exception) -> JSONResponse:
    """422 with pydantic's errors; a rejected NaN input is echoed as "nan", not a 500.

    The errors are trimmed before they are encoded: only what is sent is ever encoded.
    """
    assert isinstance(exc, RequestValidationError)
    detail = json_safe(jsonable_encoder(public_errors(list(exc.errors()))))
    return JSONResponse(status_code=422, content={"detail": detail})


def openapi_with_limits(app: FastAPI, limits: Limits) -> dict[str, Any]:
    """The app's OpenAPI schema with each request field bounded by its configured limit."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = FastAPI.openapi(app)  # builds and keeps app.openapi_schema
    components = schema["components"]["schemas"]
    for model, fields in FIELD_LIMITS.items():
        for entry in fields:
            limit = getattr(limits, entry.setting)
            prop = components[model]["properties"][entry.field]
            for branch in [prop, *prop.get("anyOf", [])]:
                if branch.get("type") == "integer":
                    branch["maximum"] = min(branch.get("maximum", limit), limit)
                elif branch.get("type") == "array":
                    branch["maxItems"] = min(branch.get("maxItems", limit), limit)
    return schema


PLOTLY_JS = Path(str(importlib.resources.files("plotly") / "package_data" / "plotly.min.js"))
# Swagger UI and ReDoc for /docs and /redoc, served by this server (no CDN): the files that the
# fastapi-offline package ships (MIT; Swagger UI Apache-2.0, ReDoc MIT).
DOCS_ASSETS = Path(str(importlib.resources.files("fastapi_offline") / "static"))
VENDOR_FILES = {
    "plotly.min.js": PLOTLY_JS,
    "swagger-ui-bundle.js": DOCS_ASSETS / "swagger-ui-bundle.js",
    "swagger-ui.css": DOCS_ASSETS / "swagger-ui.css",
    "redoc.standalone.js": DOCS_ASSETS / "redoc.standalone.js",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app on the device the settings resolve to; the lifespan starts the training
    worker.

    Raises:
        DeviceUnavailable: ``device="cuda"`` and CUDA is absent (the local backend).
        BackendUnavailable: ``backend="ray"`` and Ray is not installed.
    """
    settings = settings or get_settings()
    # Once, here: a missing CUDA fails before serving. On the Ray backend the actors resolve the
    # device on their own machines (the server's may have no GPU).
    device = select_device(settings.device) if settings.backend == "local" else None
    if device is None and importlib.util.find_spec("ray") is None:
        raise BackendUnavailable(
            "--backend ray needs Ray, an optional extra: pip install -e '.[ray]' (or "
            "pip install 'superposition-explorer[ray]')"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        set_torch_threads(settings.torch_threads)
        cache = ModelCache(settings.cache_dir, settings.cache_max_bytes, shipped_ids())
        if device is None:
            # Imported here: the local backend never imports Ray.
            from server.ray_backend import RayWorker

            ray_worker = RayWorker(cache, settings)
            app.state.worker = ray_worker  # PromptServer stops it on a signal, even mid-start
            try:
                await ray_worker.open()
            except BaseException:
                await ray_worker.close()
                raise
            worker: JobBoard = ray_worker
        else:
            worker = TrainingWorker(
                cache,
                device,
                settings.snapshot_interval_s,
                max_jobs=settings.limits.max_queued_jobs,
                max_batch_elements=settings.limits.max_step_elements,
            )
            worker.start()
        app.state.settings, app.state.worker = settings, worker
        app.state.live_sockets = LiveSockets()
        app.state.job_records = job_records = JobRecords(worker)
        try:
            yield
        finally:
            await job_records.close()  # every unfinished job leaves the worker first
            worker.stop()
            if device is None:
                await ray_worker.close()  # the actors end; a Ray instance the server started too
            cache.write_uses()  # the memo's uses reach meta.json: the LRU order outlives us

    app = FastAPI(
        title="Superposition Explorer",
        version=__version__,
        summary="Train and inspect Toy Models of Superposition (Elhage et al., 2022).",
        lifespan=lifespan,  # bodies over max_message_bytes get 413 from server/security.py
        docs_url=None,  # served below from local files, so that they work offline
        redoc_url=None,
    )
    app.openapi = lambda: openapi_with_limits(app, settings.limits)  # type: ignore[method-assign]
    app.add_exception_handler(RequestValidationError, validation_error)
    protect(app, settings)
    app.include_router(api_router)

    @app.get("/vendor/{name}", include_in_schema=False)
    async def vendor(name: str) -> FileResponse:
        """Plotly.js from the plotly package, Swagger UI and ReDoc from fastapi-offline."""
        path = VENDOR_FILES.get(name)
        if path is None:
            raise HTTPException(status_code=404, detail=f"no vendored file {name!r}")
        media = "text/css" if name.endswith(".css") else "text/javascript"
        return FileResponse(
            path, media_type=media, headers={"Cache-Control": "public, max-age=86400"}
        )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title}: API (Swagger UI)",
            swagger_js_url="/vendor/swagger-ui-bundle.js",
            swagger_css_url="/vendor/swagger-ui.css",
            swagger_favicon_url="/favicon.svg",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title}: API (ReDoc)",
            redoc_js_url="/vendor/redoc.standalone.js",
            redoc_favicon_url="/favicon.svg",
            with_google_fonts=False,
        )

    @app.get("/THEORY.md", include_in_schema=False)
    async def theory() -> FileResponse:
        """The project's theory sheet (docs/THEORY.md), which the pages link to, as plain text."""
        path = theory_path()
        if not path.is_file():
            raise HTTPException(status_code=404, detail="docs/THEORY.md is not installed")
        return FileResponse(path, media_type="text/plain; charset=utf-8")

    app.frontend("/", directory=frontend_dir())
    return app
