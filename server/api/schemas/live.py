"""The live protocol's messages (WS /api/models/live): a snapshot while training, then the
result, or an error."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from server.api.schemas.models import InstanceResult, ModelResult


class SnapshotMessage(BaseModel):
    type: Literal["snapshot"] = "snapshot"
    seq: int = Field(description="which request on this socket it answers (1 = the first)")
    id: str
    step: int
    steps: int
    instances: list[InstanceResult]


class DoneMessage(BaseModel):
    type: Literal["done"] = "done"
    seq: int
    result: ModelResult


class ErrorMessage(BaseModel):
    type: Literal["error"] = "error"
    seq: int
    detail: str | list[dict[str, Any]]
