"""The jobs of ``/api/jobs``: one asyncio task per job that waits on the training worker.

A job is a client of the worker like a REST call or a live socket: it subscribes to the worker's
job for its task (sharing one training with every other client of the same model, within the
worker's single flight, coalescing and bounded queue) and follows it to its end. Progress is read
from the worker's job (``job.run.step``), never from live snapshots, which would compute every
metric and slow training down.

Retention: a finished job (done, failed or cancelled) is kept for :data:`FINISHED_JOB_TTL_S`
seconds (an hour) and at most :data:`MAX_FINISHED_JOBS` (1,000) of them are kept; beyond either
bound the oldest finished ones are dropped first (their ids then answer 404). A finished job
keeps only its numbers, not its result (that is in the cache, at ``result_url``) nor the worker's
run. Unfinished jobs are never dropped; at most :data:`MAX_UNFINISHED_JOBS` of them exist at once
(many jobs may wait for one training, which the worker's queue alone would not bound), and a
submission beyond that is refused like a full training queue.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from server.api.schemas.jobs import FINISHED, JobKind, JobStatus, JobView
from server.jobs import Job, JobBoard, QueueFull, Task, TrainingFailed, train_or_load

log = logging.getLogger(__name__)

FINISHED_JOB_TTL_S = 3600.0  # a finished job's record is kept this long (seconds) …
MAX_FINISHED_JOBS = 1000  # … and only the newest this many finished records are kept
MAX_UNFINISHED_JOBS = 1000  # jobs queued or running at once; more are refused (503)


class TooManyJobs(RuntimeError):
    """:data:`MAX_UNFINISHED_JOBS` jobs are unfinished already; the client should retry later."""

    retry_after_s = QueueFull.retry_after_s

    def __init__(self, most: int) -> None:
        super().__init__(
            f"too many unfinished jobs ({most}, MAX_UNFINISHED_JOBS in server/job_records.py); "
            f"retry in {self.retry_after_s} s"
        )


@dataclass
class JobRecord:
    """One job of the API.

    Attributes:
        id: 32 random hex digits (uuid4), distinct from the cache ids of what it trains.
        kind: "model", "phase_diagram", "sae" or "double_descent".
        steps: the request's steps.
        result_prefix: ``/api/models``, ``/api/phase-diagrams`` or ``/api/saes``;
            ``result_url`` is it plus the result's id.
        worker_job: the worker's job while this one follows it (None before subscribing, for a
            cache hit, and once finished, so that a kept record does not keep a run alive).
    """

    id: str
    kind: JobKind
    steps: int
    result_prefix: str
    status: JobStatus = "queued"
    result_url: str | None = None
    detail: str | None = None
    worker_job: Job | None = None
    final_step: int = 0
    finished_at: float | None = None  # the clock's time when it finished
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def step(self) -> int:
        """Steps trained so far: the worker's run's, read without asking it for a snapshot."""
        job = self.worker_job
        run = None if job is None else job.run
        return self.final_step if run is None else min(run.step, self.steps)

    @property
    def current_status(self) -> JobStatus:
        """``status``, with ``queued`` read as ``running`` once the worker has started a run."""
        job = self.worker_job
        if self.status == "queued" and job is not None and job.run is not None:
            return "running"
        return self.status

    def view(self) -> JobView:
        """The API's view of the job now."""
        return JobView(
            id=self.id,
            kind=self.kind,
            status=self.current_status,
            step=self.step,
            steps=self.steps,
            result_url=self.result_url,
            detail=self.detail,
        )


class JobRecords:
    """Every job of the API, kept on ``app.state.job_records`` (event-loop side only: no lock).

    Args:
        worker: the training worker the jobs wait on.
        max_finished: most finished records kept (:data:`MAX_FINISHED_JOBS`).
        ttl_s: seconds a finished record is kept (:data:`FINISHED_JOB_TTL_S`).
        max_unfinished: most unfinished jobs at once (:data:`MAX_UNFINISHED_JOBS`).
        clock: the time in seconds (tests pass their own).
    """

    def __init__(
        self,
        worker: JobBoard,
        max_finished: int = MAX_FINISHED_JOBS,
        ttl_s: float = FINISHED_JOB_TTL_S,
        max_unfinished: int = MAX_UNFINISHED_JOBS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.worker = worker
        self.max_finished = max_finished
        self.ttl_s = ttl_s
        self.max_unfinished = max_unfinished
        self.clock = clock
        self._records: dict[str, JobRecord] = {}
        self._finished: collections.OrderedDict[str, float] = collections.OrderedDict()

    def __len__(self) -> int:
        """Records kept now, finished or not."""
        return len(self._records)

    @property
    def unfinished(self) -> int:
        """Jobs queued or running now."""
        return len(self._records) - len(self._finished)

    def get(self, job_id: str) -> JobRecord | None:
        """The record of ``job_id``, or None (never created, or dropped after it finished)."""
        self._prune()
        return self._records.get(job_id)

    async def submit(self, task: Task, kind: JobKind, steps: int, result_prefix: str) -> JobRecord:
        """Start a job for ``task``; it is subscribed to the worker (or done, from the cache) on
        return.

        Args:
            task: what to train (:class:`~server.results.ModelTask`, a phase diagram's task).
            kind: "model", "phase_diagram" or "double_descent".
            steps: the request's steps.
            result_prefix: where its results are read, e.g. ``/api/models``.

        Returns:
            The new record: ``done`` for a cache hit, else ``queued`` or ``running``.

        Raises:
            QueueFull: the worker's queue is full (``max_queued_jobs``); no job is kept.
            TooManyJobs: :data:`MAX_UNFINISHED_JOBS` jobs are unfinished; no job is kept.
            TrainingFailed: the worker is not running; no job is kept.
        """
        self._prune()
        if self.unfinished >= self.max_unfinished:
            raise TooManyJobs(self.max_unfinished)
        record = JobRecord(uuid.uuid4().hex, kind, steps, result_prefix)
        subscribed = asyncio.get_running_loop().create_future()

        def on_job(job: Job) -> None:
            record.worker_job = job
            if not subscribed.done():
                subscribed.set_result(None)

        record.task = asyncio.create_task(self._follow(record, task, on_job))
        try:
            await asyncio.wait({record.task, subscribed}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # this call was cancelled: so is the job it started
            record.task.cancel()
            raise
        finally:
            subscribed.cancel()  # a no-op once it is set
        if record.worker_job is None:  # the task ended first: a cache hit, or a refusal
            if record.task.cancelled():
                raise TrainingFailed("the job was cancelled before it started")
            if (exc := record.task.exception()) is not None:
                raise exc
        self._records[record.id] = record
        if record.status in FINISHED:
            self._mark_finished(record)
        return record

    async def cancel(self, job_id: str) -> JobRecord | None:
        """Cancel a queued or running job: it leaves the worker's job, whose training stops at
        its next step unless another client (a REST call, a live socket, another job) waits for
        it too. It then reads ``cancelled``. A finished job is left as it was.

        Returns:
            The record, or None if there is no job ``job_id``.
        """
        record = self.get(job_id)
        if record is None:
            return None
        if record.task is not None and not record.task.done():
            record.task.cancel()
            await asyncio.wait({record.task})  # unsubscribed, and the record reads cancelled
        return record

    async def close(self) -> None:
        """Cancel every unfinished job and wait for each to leave the worker (at shutdown)."""
        tasks = [r.task for r in self._records.values() if r.task is not None and not r.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    # -- internals ---------------------------------------------------------------------------
    async def _follow(self, record: JobRecord, task: Task, on_job: Callable[[Job], None]) -> None:
        """Wait for the task's result and set the record's outcome.

        Refusals before subscribing (QueueFull, a stopped worker) propagate to :meth:`submit`.
        """
        try:
            result: Any = await train_or_load(self.worker, task, on_job=on_job)
        except (QueueFull, TrainingFailed) as exc:
            if record.worker_job is None:
                raise
            self._finish(record, "failed", str(exc))
            return
        except asyncio.CancelledError:
            self._finish(record, "cancelled")
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # DELETE or shutdown; else the worker cancelled it (it is stopping)
            return
        except Exception as exc:  # nothing else is expected; never let it pass unseen
            log.exception("job %s failed", record.id)
            if record.worker_job is None:
                raise TrainingFailed(f"the job could not start: {type(exc).__name__}") from exc
            self._finish(record, "failed", f"the job failed: {type(exc).__name__}: {exc}")
            return
        record.result_url = f"{record.result_prefix}/{result.id}"
        self._finish(record, "done")

    def _finish(self, record: JobRecord, status: JobStatus, detail: str | None = None) -> None:
        record.final_step = record.steps if status == "done" else record.step
        record.status, record.detail = status, detail
        record.worker_job = None  # the run's tensors go with the worker's job
        if record.id in self._records:  # else submit() has not kept it yet and marks it there
            self._mark_finished(record)

    def _mark_finished(self, record: JobRecord) -> None:
        record.finished_at = self.clock()
        self._finished[record.id] = record.finished_at
        self._prune()

    def _prune(self) -> None:
        """Drop the oldest finished records beyond ``max_finished`` or older than ``ttl_s``."""
        now = self.clock()
        while self._finished:
            oldest, finished_at = next(iter(self._finished.items()))
            if len(self._finished) <= self.max_finished and now - finished_at <= self.ttl_s:
                break
            del self._finished[oldest]
            del self._records[oldest]
