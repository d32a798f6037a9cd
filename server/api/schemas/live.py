"""The live protocol's messages (WS /api/models/live): a snapshot while training, then the
result, or an error; and the controls a client may send beside its requests (pause, resume,
step, speed), each answered by a ``control`` message."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from server.api.schemas.models import InstanceResult, ModelResult


class SnapshotMessage(BaseModel):
    type: Literal["snapshot"] = "snapshot"
    seq: int = Field(description="which request on this socket it answers (1 = the first)")
    id: str
    step: int
    steps: int
    paused: bool = Field(
        False, description="true when training is paused here (pause, or the end of a step)"
    )
    instances: list[InstanceResult]


class DoneMessage(BaseModel):
    type: Literal["done"] = "done"
    seq: int
    result: ModelResult


class ErrorMessage(BaseModel):
    type: Literal["error"] = "error"
    seq: int
    detail: str | list[dict[str, Any]]


# -- controls (client → server) ------------------------------------------------------------------
class _Control(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PauseControl(_Control):
    """Pause the socket's training where it is; one snapshot of that point follows."""

    type: Literal["pause"]


class ResumeControl(_Control):
    """Go on training after a pause (or a step)."""

    type: Literal["resume"]


class StepControl(_Control):
    """Train ``steps`` more steps, then pause (and send a snapshot)."""

    type: Literal["step"]
    steps: int = Field(ge=1, le=1_000_000, description="how many steps to advance")


class SpeedControl(_Control):
    """Pace training on this socket: at most ``steps_per_second`` steps a second, for this
    request and the ones after it; null trains as fast as the device goes."""

    type: Literal["speed"]
    steps_per_second: float | None = Field(gt=0, le=1_000_000)


Control = Annotated[
    PauseControl | ResumeControl | StepControl | SpeedControl, Field(discriminator="type")
]
CONTROL = TypeAdapter(Control)
CONTROL_TYPES = ("pause", "resume", "step", "speed")


class ControlMessage(BaseModel):
    """The answer to a control: where the socket's training stands after it."""

    type: Literal["control"] = "control"
    seq: int = Field(description="the request the control applied to (the socket's latest)")
    control: Literal["pause", "resume", "step", "speed"]
    applied: bool = Field(description="false when no training was running to apply it to")
    paused: bool = Field(description="whether the socket's training is paused now")
    steps_per_second: float | None = Field(description="the socket's pace (null: no pace)")
    detail: str | None = None
