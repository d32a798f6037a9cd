"""POST /api/jobs (train in the background), GET /api/jobs/{job_id}, DELETE /api/jobs/{job_id}.

A job is what POST /api/models, /api/phase-diagrams or /api/saes would train, without holding the
request open: the answer comes at once (202) and the client polls for ``step`` of ``steps``.
Jobs share the worker with every other client: identical trainings in flight are one training,
and the worker's queue bound (``max_queued_jobs``) applies. Retention of finished jobs:
:mod:`server.job_records`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from starlette.requests import HTTPConnection

from server.api.deps import SettingsDep, WorkerDep, model_task, not_found, raise_for_limits
from server.api.limits import double_descent_limit_errors, limit_errors, phase_limit_errors
from server.api.routes.saes import sae_task
from server.api.schemas.jobs import JobRequest, JobView
from server.double_descent_results import DoubleDescentTask
from server.job_records import JobRecords, TooManyJobs
from server.jobs import QueueFull, Task, TrainingFailed
from server.phase_results import PhaseDiagramTask

router = APIRouter(prefix="/jobs", tags=["jobs"])

JobId = Annotated[
    str, Path(max_length=64, description="the job's id from POST /api/jobs (32 hex digits)")
]


async def get_job_records(connection: HTTPConnection) -> JobRecords:
    """The app's jobs (``app.state.job_records``, made in the lifespan)."""
    records: JobRecords = connection.app.state.job_records
    return records


JobRecordsDep = Annotated[JobRecords, Depends(get_job_records)]


@router.post("", response_model=JobView, status_code=202)
async def create_job(
    body: JobRequest,
    settings: SettingsDep,
    worker: WorkerDep,
    records: JobRecordsDep,
    response: Response,
) -> JobView:
    """Start training a model or a phase diagram in the background (202), or answer from the
    cache (202 with ``status: done`` and ``result_url``).

    The body is ``{"model": ModelRequest}``, ``{"phase_diagram": PhaseDiagramRequest}`` or
    ``{"sae": SAERequest}`` or ``{"double_descent": DoubleDescentRequest}``, exactly one of them;
    422 otherwise, and 422 naming the field and the limit (located under ``model``,
    ``phase_diagram``, ``sae`` or ``double_descent``) for out-of-range requests, as POST
    /api/models, /api/phase-diagrams, /api/saes and /api/double-descent. An SAE job whose model
    is not cached trains the model first; meanwhile its ``step`` counts the model's steps. 503
    with ``Retry-After`` if the training queue is full (``max_queued_jobs``), and 503 if the
    worker is not running. The ``Location`` header is the job's URL.
    """
    task: Task
    if body.model is not None:
        raise_for_limits(
            [e | {"loc": [body.kind, *e["loc"]]} for e in limit_errors(body.model, settings.limits)]
        )
        task = await model_task(body.model, worker.cache, where=("body", body.kind))
        steps, prefix = body.model.steps, "/api/models"
    elif body.double_descent is not None:
        errors = double_descent_limit_errors(body.double_descent, settings.limits)
        raise_for_limits([e | {"loc": [body.kind, *e["loc"]]} for e in errors])
        task = DoubleDescentTask(body.double_descent)
        steps, prefix = body.double_descent.steps, "/api/double-descent"
    elif body.phase_diagram is not None:
        errors = phase_limit_errors(body.phase_diagram, settings.limits)
        raise_for_limits([e | {"loc": [body.kind, *e["loc"]]} for e in errors])
        task = PhaseDiagramTask(body.phase_diagram)
        steps, prefix = body.phase_diagram.steps, "/api/phase-diagrams"
    else:
        assert body.sae is not None
        task = await sae_task(body.sae, worker, settings.limits, loc=("sae",))
        steps, prefix = body.sae.steps, "/api/saes"
    try:
        record = await records.submit(task, body.kind, steps, prefix)
    except (QueueFull, TooManyJobs) as exc:
        raise HTTPException(
            status_code=503, detail=str(exc), headers={"Retry-After": str(exc.retry_after_s)}
        ) from exc
    except TrainingFailed as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    response.headers["Location"] = f"/api/jobs/{record.id}"
    return record.view()


@router.get("/{job_id}", response_model=JobView)
async def read_job(job_id: JobId, records: JobRecordsDep) -> JobView:
    """The job now: its status, ``step`` of ``steps``, and ``result_url`` once done.

    404 for an id that was never a job, or a finished job dropped after its retention (an hour,
    and the newest 1,000 finished jobs).
    """
    record = records.get(job_id)
    if record is None:
        raise not_found(f"job {job_id}")
    return record.view()


@router.delete("/{job_id}", response_model=JobView)
async def cancel_job(job_id: JobId, records: JobRecordsDep) -> JobView:
    """Cancel a queued or running job; the answer reads ``cancelled``.

    Its training stops at the next step, unless another client (a REST call, a live socket or
    another job) waits for the same training: that one goes on, and this job alone is cancelled.
    DELETE on a finished job (done, failed or cancelled) changes nothing and answers it as it is
    (200). 404 for an unknown id.
    """
    record = await records.cancel(job_id)
    if record is None:
        raise not_found(f"job {job_id}")
    return record.view()
