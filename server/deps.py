"""Shared dependencies of the routes: the settings and the worker live on ``app.state``."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import HTTPConnection

from server.config import Settings
from server.jobs import TrainingWorker
from server.schemas import ModelRequest, limit_errors, public_errors


def get_settings(connection: HTTPConnection) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


def get_worker(connection: HTTPConnection) -> TrainingWorker:
    worker: TrainingWorker = connection.app.state.worker
    return worker


SettingsDep = Annotated[Settings, Depends(get_settings)]
WorkerDep = Annotated[TrainingWorker, Depends(get_worker)]


def within_limits(request: ModelRequest, settings: Settings) -> ModelRequest:
    """The request itself, or a 422 naming the field and the limit it exceeds."""
    errors = limit_errors(request, settings.limits)
    if errors:  # located in the body, like FastAPI's own validation errors
        raise RequestValidationError([e | {"loc": ["body", *e["loc"]]} for e in errors])
    return request


def parse_request_text(text: str, settings: Settings) -> ModelRequest | list[dict[str, Any]]:
    """Parse a live request (JSON text): the request, or errors in pydantic's shape."""
    try:
        request = ModelRequest.model_validate_json(text)
    except ValidationError as exc:
        return public_errors(json.loads(exc.json(include_url=False)))
    return limit_errors(request, settings.limits) or request


def not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"{what} not found")
