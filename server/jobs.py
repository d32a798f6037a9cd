"""One training worker thread that owns the device, and the jobs it runs.

The event loop never trains: API handlers submit a job and await its events. Identical requests
in flight share one job (single flight); concurrent jobs of one training shape train side by side
in one batch; a job whose last subscriber leaves is cancelled and leaves its batch at the next
step. At most ``max_jobs`` jobs wait or train; beyond that a request is refused (503) at once.
Events reach each subscriber's asyncio queue through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch
from pydantic import BaseModel

from server.cache import ModelCache
from server.tms import ModelConfig, TrainConfig, fused, train
from server.tms.training import (
    CheckCallback,
    FinalEvaluation,
    Run,
    TrainingBatch,
    TrainResult,
    run_to_end,
)

log = logging.getLogger(__name__)

# Worker time (seconds) by which one lane (a batch, or a finished run's evaluation) may run ahead
# of the lane that has had the least, before it waits for the others to catch up.
FAIR_SLICE_S = 0.02

EventKind = Literal["snapshot", "done", "error", "cancelled", "stopping"]


class JobCancelled(Exception):
    """Raised inside training when every subscriber has left."""


class TrainingFailed(RuntimeError):
    """Training raised; the message is safe to show to the client."""


class ServerStopping(TrainingFailed):
    """The server is shutting down: the training was cancelled; the client may retry later."""

    def __init__(self) -> None:
        super().__init__("the server is shutting down: training cancelled; retry once it is back")


class QueueFull(RuntimeError):
    """The worker already holds its most jobs; the client should retry later."""

    retry_after_s = 2

    def __init__(self, max_jobs: int) -> None:
        super().__init__(
            f"the training queue is full ({max_jobs} jobs, the limit max_queued_jobs); "
            f"retry in {self.retry_after_s} s"
        )


def failure_detail(exc: Exception) -> str:
    """What a client is told when its training raised ``exc`` (the worker goes on)."""
    if isinstance(exc, torch.OutOfMemoryError):
        return (
            "training failed: the device ran out of memory; ask for a smaller batch_size or "
            "fewer instances, cells or restarts (the limit max_step_elements bounds one step)"
        )
    return f"training failed: {type(exc).__name__}: {exc}"


@dataclass
class Event:
    kind: EventKind
    payload: Any = None


class Subscriber:
    """An asyncio-side listener of one job's events."""

    def __init__(self, wants_snapshots: bool) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.wants_snapshots = wants_snapshots

    def push(self, event: Event) -> None:
        """Thread-safe: hand an event to the subscriber's loop."""
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is listening
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)


class Task(Protocol):
    """What one job trains, as the resource that asked for it defines it.

    Implemented by :class:`~server.results.ModelTask` (a model),
    :class:`~server.phase_results.PhaseDiagramTask` (a phase diagram) and
    :class:`~server.sae_results.SAETask` (an SAE). ``id`` is the cache key; jobs with equal ids
    are one job. Optional: an async ``prepare(worker, on_job, on_snapshot)``, awaited by
    :func:`train_or_load` before the job is queued (an SAE gets its model there); a run with
    ``new_batch()`` is stepped in the batch that makes (an SAE's
    :class:`~server.tms.sae.SAEBatch`), not a TrainingBatch.
    """

    id: str

    def load(self, cache: ModelCache) -> BaseModel | None:
        """The stored result, or None."""

    def start(self, device: torch.device) -> Run:
        """A fresh run (weights, optimiser state, generator) on ``device``."""

    def snapshot(self, run: Run) -> dict[str, Any]:
        """The live snapshot's fields, from the run's current weights."""

    def result(self, trained: TrainResult, device: torch.device, seconds: float) -> BaseModel:
        """The finished result."""

    def save(self, cache: ModelCache, result: Any, trained: TrainResult) -> None:
        """Store the result; OSError is logged by the worker and costs only the entry."""


@dataclass(eq=False)  # a job is itself: compared and hashed by identity
class Job:
    """One task id in flight: its subscribers and, once training starts, its run."""

    task: Task
    id: str
    subscribers: list[Subscriber] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)
    run: Run | None = None
    evaluation: FinalEvaluation | None = None  # once training is done: the final evaluation
    retrain: bool = False  # train even if the cache holds the result
    started: float = 0.0  # time.perf_counter() when training started
    next_snapshot: float = 0.0  # time.monotonic() before which no snapshot is sent
    # Live controls (:meth:`TrainingWorker.control`): a paused job's run waits outside any batch;
    # a step budget pauses it after that many steps; a pace spaces its steps out.
    paused: bool = False
    step_budget: int | None = None
    steps_per_second: float | None = None
    next_step_at: float = 0.0  # time.monotonic() before which a paced run does not step
    announce_pause: bool = False  # paused, and its clients are owed a snapshot of where

    def runnable(self, now: float) -> bool:
        """Whether its run may step now: not paused, and due at its pace."""
        return not self.paused and (self.steps_per_second is None or now >= self.next_step_at)

    def raise_if_cancelled(self) -> None:
        """Called from inside training: stop it once every subscriber has left."""
        if self.cancelled.is_set():
            raise JobCancelled


class JobBoard(ABC):
    """The jobs in flight, as the routes see them, whichever backend trains them.

    Identical requests share one :class:`Job` (single flight, by task id), each job keeps its
    clients, and a job's events fan out to them. :class:`TrainingWorker` (a thread in this
    process) and :class:`server.ray_backend.RayWorker` (Ray actors) are the two backends: they
    differ in where the training runs, and the routes type against this class.

    Args:
        max_jobs: most distinct jobs queued or training at once; more raise :class:`QueueFull`.
    """

    backend = "local"  # GET /api/health's ``backend``

    def __init__(self, max_jobs: int) -> None:
        self.max_jobs = max_jobs
        self._lock = threading.Lock()
        self._active: dict[str, Job] = {}  # task id → its job, while queued or training
        self._stopping = False

    @property
    def jobs(self) -> int:
        """Distinct jobs queued or training now."""
        with self._lock:
            return len(self._active)

    # -- what each backend provides ------------------------------------------------------------
    @property
    @abstractmethod
    def alive(self) -> bool:
        """Whether the backend trains (False once stopped)."""

    @property
    @abstractmethod
    def training_runs(self) -> int:
        """Runs training now."""

    @property
    @abstractmethod
    def held_runs(self) -> int:
        """Runs that wait outside any batch: paused, or between the steps of their pace."""

    @property
    @abstractmethod
    def evaluating_runs(self) -> int:
        """Runs done training whose final evaluation is under way now."""

    @abstractmethod
    def workers(self) -> list[dict[str, Any]]:
        """GET /api/health's ``workers``: ``{"id", "pid", "device", "runs"}`` each."""

    @abstractmethod
    def subscribe(self, task: Task, subscriber: Subscriber, retrain: bool = False) -> Job:
        """Attach to the job training ``task``, creating and queueing it if there is none.

        Args:
            retrain: a new job trains even if the cache holds the result.

        Raises:
            TrainingFailed: the backend is not running.
            QueueFull: ``max_jobs`` distinct jobs are already queued or training.
        """

    @abstractmethod
    def unsubscribe(self, job: Job, subscriber: Subscriber) -> None:
        """Detach; a job with no subscriber left is cancelled."""

    @abstractmethod
    def control(
        self,
        job: Job,
        paused: bool | None = None,
        step_budget: int | None = None,
        steps_per_second: float | Literal["keep"] | None = "keep",
    ) -> None:
        """Pause, resume, advance or pace a job's training (the live socket's controls).

        Thread-safe; takes effect before the job's next step. Every client of the job sees it.

        Args:
            paused: True pauses (its clients get one snapshot of where it stopped), False
                resumes; None leaves it.
            step_budget: with ``paused=False``: take this many steps, then pause.
            steps_per_second: the most steps a second (a positive number), None for as fast as
                the device goes; ``"keep"`` leaves it.
        """

    # -- shared bookkeeping (call with the lock held where it says so) -------------------------
    def _join(self, task: Task, subscriber: Subscriber, retrain: bool) -> tuple[Job, bool, bool]:
        """With the lock held: the job for ``task`` (made if there is none) with ``subscriber``
        added; whether it is new, and whether a client wanted snapshots before this one.

        Raises:
            QueueFull: a new job would be one more than ``max_jobs``.
        """
        job = self._active.get(task.id)
        new = job is None
        if job is None:
            if len(self._active) >= self.max_jobs:
                raise QueueFull(self.max_jobs)
            job = self._active[task.id] = Job(task, task.id, retrain=retrain)
        watched = any(s.wants_snapshots for s in job.subscribers)
        job.subscribers.append(subscriber)
        return job, new, watched

    def _detach(self, job: Job, subscriber: Subscriber) -> bool:
        """With the lock held: detach ``subscriber``; True when that cancelled the job (its last
        client left), which is then no longer active."""
        if subscriber in job.subscribers:
            job.subscribers.remove(subscriber)
        if job.subscribers or job.cancelled.is_set():
            return False
        job.cancelled.set()
        if self._active.get(job.id) is job:
            del self._active[job.id]
        return True

    def _cancel_all(self) -> list[Job]:
        """With the lock held: cancel every job and stop taking new ones; the cancelled jobs
        (to tell their clients, outside the lock, that the server is stopping)."""
        jobs = list(self._active.values())
        for job in jobs:
            job.cancelled.set()
        self._active.clear()
        self._stopping = True
        return jobs

    def _publish(self, job: Job, event: Event) -> None:
        with self._lock:
            subscribers = list(job.subscribers)
        for subscriber in subscribers:
            if event.kind != "snapshot" or subscriber.wants_snapshots:
                subscriber.push(event)

    def _finish(self, job: Job, event: Event) -> None:
        """The job's last event: it is no longer active, then its clients get ``event``."""
        with self._lock:
            if self._active.get(job.id) is job:
                del self._active[job.id]
        self._forget(job)
        self._publish(job, event)

    def _forget(self, job: Job) -> None:  # noqa: B027 (an optional hook: most backends need none)
        """A backend's own clean-up of a finished job (nothing here)."""


class TrainingWorker(JobBoard):
    """Owns the device: trains every job on one dedicated thread, coalescing jobs into batches.

    Jobs whose runs share a training shape (``Run.shape``: model, inputs and batch size) train
    in one :class:`~server.tms.training.TrainingBatch`, joining and leaving it between steps; each
    keeps its own seed, optimiser state and step count, so its result is the one it would have
    had alone. A run that has done its steps is then evaluated on fresh inputs, one chunk at a
    time (:class:`~server.tms.training.Evaluator`).

    Batches and evaluations are lanes that share the worker's time fairly: each turn, every lane
    whose worker time is within ``FAIR_SLICE_S`` of the least any lane has had does one step (or
    one chunk), so a large step or a long evaluation slows a small job down by about the share of
    the lanes, never holds it back until the large one ends. A new lane starts level with the
    least, so neither it nor the others wait for a backlog.

    Args:
        cache: where results are stored and looked up.
        device: the torch device that trains.
        snapshot_interval_s: least time between two snapshots of a job (seconds).
        max_jobs: most distinct jobs queued or training at once; more raise :class:`QueueFull`.
        max_batch_elements: most input entries (rows × n_features × batch_size) in one batch; a
            run that would go over starts another batch of the same shape.
    """

    def __init__(
        self,
        cache: ModelCache,
        device: torch.device,
        snapshot_interval_s: float,
        max_jobs: int = 128,
        max_batch_elements: int = 1 << 26,
    ) -> None:
        super().__init__(max_jobs)
        self.cache = cache
        self.device = device
        self.snapshot_interval_s = snapshot_interval_s
        self.max_batch_elements = max_batch_elements
        self._wake = threading.Condition(self._lock)
        self._inbox: collections.deque[Job] = collections.deque()
        self._batches: list[TrainingBatch] = []
        self._evaluating: list[Job] = []  # jobs whose run is done training, being evaluated
        self._used: dict[TrainingBatch | Job, float] = {}  # lane → worker time had (seconds)
        self._jobs_of: dict[Run, Job] = {}  # every run in a batch → its job
        self._held: list[Job] = []  # jobs whose run waits outside any batch: paused or paced
        self._watched_jobs = 0  # of those, how many have a client that wants snapshots
        self._thread = threading.Thread(target=self._run, name="training-worker", daemon=True)

    def start(self) -> None:
        if self.device.type == "cpu":  # compile the fused step now, not in the first request
            threading.Thread(target=fused.warm, name="fused-warm", daemon=True).start()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel every job, tell each waiting client the server is stopping, and join the
        thread. Thread-safe and idempotent; the worker finishes its current step first (and
        writes no entry afterwards: a cancelled job is never stored)."""
        with self._lock:
            jobs = self._cancel_all()
            self._wake.notify()
        for job in jobs:  # at once, not after the worker's current step
            self._publish(job, Event("stopping"))
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the worker thread is running (it ends only at :meth:`stop`)."""
        return self._thread.is_alive()

    def workers(self) -> list[dict[str, Any]]:
        """GET /api/health's ``workers``: this one worker, in this process, as
        ``{"id", "pid", "device", "runs"}`` (runs: training, held or evaluating now)."""
        runs = self.training_runs + self.held_runs + self.evaluating_runs
        return [{"id": "local", "pid": os.getpid(), "device": str(self.device), "runs": runs}]

    @property
    def training_runs(self) -> int:
        """Runs in the worker's batches now, cancelled ones included until their next step."""
        return len(self._jobs_of)  # one atomic read of a dict the worker thread owns

    @property
    def held_runs(self) -> int:
        """Runs that wait outside any batch: paused, or between the steps of their pace."""
        return len(self._held)

    @property
    def evaluating_runs(self) -> int:
        """Runs done training whose final evaluation is under way now."""
        return len(self._evaluating)

    # -- asyncio side ------------------------------------------------------------------------
    def subscribe(self, task: Task, subscriber: Subscriber, retrain: bool = False) -> Job:
        """As :meth:`JobBoard.subscribe`; a new job goes to the worker thread's inbox.

        Raises:
            TrainingFailed: the worker thread is not running.
            QueueFull: ``max_jobs`` distinct jobs are already queued or training.
        """
        if not self.alive:
            raise TrainingFailed("the training worker is not running")
        with self._lock:
            job, new, _ = self._join(task, subscriber, retrain)
            if new:
                self._inbox.append(job)
                self._wake.notify()
        return job

    def unsubscribe(self, job: Job, subscriber: Subscriber) -> None:
        """As :meth:`JobBoard.unsubscribe`: a cancelled job leaves its batch next step."""
        with self._lock:
            if self._detach(job, subscriber):
                self._wake.notify()  # a paused job's run is dropped at once

    def control(
        self,
        job: Job,
        paused: bool | None = None,
        step_budget: int | None = None,
        steps_per_second: float | Literal["keep"] | None = "keep",
    ) -> None:
        """As :meth:`JobBoard.control`."""
        with self._lock:
            if paused is not None:
                job.paused, job.announce_pause = paused, paused
                job.step_budget = step_budget if not paused else None
            if steps_per_second != "keep":
                job.steps_per_second = steps_per_second
                job.next_step_at = 0.0
            self._wake.notify()

    # -- worker thread -----------------------------------------------------------------------
    def _warm_up(self) -> None:
        """Train a 2-step model once, so the first user's request does not pay torch's lazy
        initialisation (about a second on the CPU) before its first snapshot."""
        try:
            train(
                ModelConfig(n_features=2, n_hidden=1, feature_probability=1.0),
                TrainConfig(steps=2, batch_size=8, n_eval_samples=8),
                self.device,
            )
        except Exception:  # a broken device shows up again, per job, as that job's error
            log.exception("warm-up training failed")

    def _run(self) -> None:
        self._warm_up()
        while True:
            with self._lock:
                while (
                    not self._inbox
                    and not self._batches
                    and not self._evaluating
                    and not self._stopping
                    and not self._held_due(time.monotonic())
                ):
                    self._wake.wait(self._next_pace())
                if self._stopping:
                    break
                arrived = list(self._inbox)
                self._inbox.clear()
            for job in arrived:
                self._admit(job)
            self._release_held(time.monotonic())
            self._watched_jobs = sum(self._watched(job) for job in self._jobs_of.values())
            for lane in self._due_lanes():
                started = time.perf_counter()
                if isinstance(lane, Job):
                    self._evaluate(lane)
                else:
                    self._step(lane)
                self._used[lane] += time.perf_counter() - started
        for batch in self._batches:  # stopping: every job still here is cancelled
            for run in list(batch.runs):
                self._finish(self._jobs_of.pop(run), Event("cancelled"))
        self._batches.clear()
        for job in [*self._evaluating, *self._held]:
            self._finish(job, Event("cancelled"))
        self._evaluating.clear()
        self._held.clear()

    def _held_due(self, now: float) -> bool:
        """Whether a held job needs the worker now: cancelled, resumed, or due at its pace."""
        return any(
            job.cancelled.is_set() or job.runnable(now) or job.announce_pause for job in self._held
        )

    def _next_pace(self) -> float | None:
        """Seconds until the next paced, unpaused held job is due; None if there is none."""
        due = [job.next_step_at for job in self._held if not job.paused and job.steps_per_second]
        return max(0.0, min(due) - time.monotonic()) if due else None

    def _release_held(self, now: float) -> None:
        """Cancelled held jobs end; runnable ones rejoin a batch of their shape; one paused while
        it waited for its pace tells its clients where it stopped."""
        for job in list(self._held):
            if job.cancelled.is_set():
                self._held.remove(job)
                self._finish(job, Event("cancelled"))
            elif job.announce_pause:
                self._announce_pause(job, now)
            elif job.runnable(now):
                assert job.run is not None
                self._held.remove(job)
                self._batch_for(job.run).add(job.run)
                self._jobs_of[job.run] = job

    def _hold(self, batch: TrainingBatch, run: Run, now: float) -> None:
        """Take a paused or paced run out of its batch; a paused one's clients get a snapshot of
        where it stopped."""
        batch.remove(run)
        job = self._jobs_of.pop(run)
        self._held.append(job)
        self._announce_pause(job, now)

    def _announce_pause(self, job: Job, now: float) -> None:
        """Once per pause: a snapshot of where a paused, held job stopped (if it has a loss yet
        and somebody watches)."""
        if not (job.paused and job.announce_pause):
            return
        job.announce_pause = False
        if job.run is None or job.run.last_loss is None or not self._watched(job):
            return
        if not self._guard(job, lambda: self._snapshot(job, now)):
            self._held.remove(job)  # the job failed: it waits for nothing any more

    def _count_step(self, job: Job, now: float) -> None:
        """A job's run took a step: spend its step budget (pausing at 0), space its pace."""
        if job.step_budget is not None:
            job.step_budget -= 1
            if job.step_budget <= 0:
                job.paused, job.announce_pause, job.step_budget = True, True, None
        if job.steps_per_second:
            job.next_step_at = now + 1 / job.steps_per_second

    def _due_lanes(self) -> list[TrainingBatch | Job]:
        """The lanes that run this turn: those within ``FAIR_SLICE_S`` of the least-served one.

        Lanes that ended are forgotten; a new lane starts at the least worker time of the others.
        """
        lanes: list[TrainingBatch | Job] = [*self._batches, *self._evaluating]
        floor = min((self._used[lane] for lane in lanes if lane in self._used), default=0.0)
        self._used = {lane: self._used.get(lane, floor) for lane in lanes}
        return [lane for lane in lanes if self._used[lane] <= floor + FAIR_SLICE_S]

    def _guard(self, job: Job, action: Callable[[], None]) -> bool:
        """Run one job's action; its failure ends that job alone. Whether it went through."""
        try:
            action()
        except JobCancelled:
            self._finish(job, Event("cancelled"))
        except Exception as exc:
            log.exception("training job %s failed", job.id)
            self._recover(exc)
            self._finish(job, Event("error", failure_detail(exc)))
        else:
            return True
        return False

    def _recover(self, exc: Exception) -> None:
        """After a failure: give a CUDA out-of-memory error's cached blocks back, so the next
        job starts with the device's memory free."""
        if isinstance(exc, torch.OutOfMemoryError) and self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _admit(self, job: Job) -> None:
        """Answer a new job from the cache, or give it a run in a batch of its shape."""

        def admit() -> None:
            job.raise_if_cancelled()
            cached = None if job.retrain else job.task.load(self.cache)
            if cached is not None:
                self._finish(job, Event("done", cached))
                return
            run = self._start(job)
            self._batch_for(run).add(run)
            self._jobs_of[run] = job  # only once it is in a batch, which ends or leaves it

        self._guard(job, admit)

    def _start(self, job: Job) -> Run:
        """A fresh run for the job's task (tests wrap this to see which jobs train)."""
        job.started = time.perf_counter()
        job.run = job.task.start(self.device)
        return job.run

    def _batch_for(self, run: Run) -> TrainingBatch:
        """A batch of the run's shape with room for it, or a new one."""
        size = run.rows * run.n_features * run.config.batch_size
        for batch in self._batches:
            if batch.runs and batch.runs[0].shape == run.shape:
                room = self.max_batch_elements - batch.rows * run.n_features * run.config.batch_size
                if size <= room:
                    return batch
        # A run that brings its own kind of batch (an SAE's) says so; toy models train in one.
        new_batch = getattr(run, "new_batch", None)
        batch = new_batch() if new_batch is not None else TrainingBatch()
        self._batches.append(batch)
        return batch

    def _step(self, batch: TrainingBatch) -> None:
        """One step of every run in the batch; then snapshots, finished and cancelled runs."""
        now = time.monotonic()
        for run in list(batch.runs):
            job = self._jobs_of[run]
            if job.cancelled.is_set():
                self._leave(batch, run, Event("cancelled"))
            elif not job.runnable(now):
                self._hold(batch, run, now)
        if not batch.runs:
            self._batches.remove(batch)
            return
        snapshot_due = [
            job
            for job in (self._jobs_of[run] for run in batch.runs)
            if now >= job.next_snapshot and self._watched(job)
        ]
        try:
            batch.step(with_loss=bool(snapshot_due))
        except Exception as exc:  # a failed step fails every run in it, and only those
            log.exception("a training step failed")
            self._recover(exc)
            for run in list(batch.runs):
                self._leave(batch, run, Event("error", failure_detail(exc)))
            self._batches.remove(batch)
            return
        for job in snapshot_due:
            if job.run is not None and not job.run.done:
                self._guard(job, lambda job=job: self._snapshot(job, now))
        for run in list(batch.runs):
            if run.done:
                job = self._jobs_of.pop(run)
                batch.remove(run)
                job.evaluation = run.final_evaluation()
                self._evaluating.append(job)
                continue
            job = self._jobs_of[run]
            self._count_step(job, now)
            if not job.runnable(now):
                self._hold(batch, run, now)
        if not batch.runs:
            self._batches.remove(batch)

    def _leave(self, batch: TrainingBatch, run: Run, event: Event) -> None:
        batch.remove(run)
        self._finish(self._jobs_of.pop(run), event)

    def _watched(self, job: Job) -> bool:
        with self._lock:
            return any(s.wants_snapshots for s in job.subscribers)

    def _snapshot(self, job: Job, now: float) -> None:
        """Publish the job's current weights and metrics.

        Snapshots come at most every ``snapshot_interval_s``, and all of them together never take
        more than about a fifth of the worker's time: each job's interval is stretched to 4× its
        build time × the number of watched jobs (large models, or a room full of sliders).
        """
        assert job.run is not None
        paused = job.paused and job in self._held
        self._publish(job, Event("snapshot", job.task.snapshot(job.run) | {"paused": paused}))
        built = time.monotonic() - now
        share = 4 * built * max(1, self._watched_jobs)
        job.next_snapshot = now + max(self.snapshot_interval_s, share)

    def _evaluate(self, job: Job) -> None:
        """One chunk of a finished run's evaluation; at its end, the job's result. The job
        leaves the evaluation lanes once it is done, cancelled or failed."""
        evaluation = job.evaluation
        assert evaluation is not None

        def advance() -> None:
            job.raise_if_cancelled()
            evaluation.advance()
            if evaluation.done:
                self._evaluating.remove(job)  # before its clients hear of the result
                self._complete(job)

        if not self._guard(job, advance) and job in self._evaluating:
            self._evaluating.remove(job)  # cancelled, or it failed

    def _complete(self, job: Job) -> None:
        self._finish(job, Event("done", self._result(job)))

    def _result(self, job: Job) -> BaseModel:
        """Store a finished, evaluated run's result in the cache and return it."""
        assert job.evaluation is not None
        trained = job.evaluation.result()
        result = finish(job.task, trained, self.device, job.started)
        try:
            job.task.save(self.cache, result, trained)
        except OSError:  # a full disk or read-only cache costs the cache entry, not the result
            log.exception("could not store %s in the cache", job.id)
        return result


def finish(task: Task, trained: TrainResult, device: torch.device, started: float) -> Any:
    """A finished run's result, as its task defines it, timed from ``started``
    (``time.perf_counter()``) once the device is done."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    return task.result(trained, device, time.perf_counter() - started)


def train_task(
    task: Task, device: torch.device, check: CheckCallback | None = None
) -> tuple[Any, TrainResult]:
    """Train ``task`` alone on this thread, outside any worker, and skip the cache: its result
    (what the worker would return for it) and the raw one. For scripts and tests.

    Raises:
        Whatever ``check`` raises, between steps.
    """
    started = time.perf_counter()
    trained = run_to_end(task.start(device), check)
    return finish(task, trained, device, started), trained


async def train_or_load(
    worker: JobBoard,
    task: Task,
    on_snapshot: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    use_cache: bool = True,
    on_job: Callable[[Job], None] | None = None,
) -> Any:
    """The result of ``task``: from the cache at once, or trained by the worker.

    Args:
        task: what to train (:class:`~server.results.ModelTask`, a phase diagram's task, …).
        on_snapshot: awaited with each snapshot's fields (the newest, when the client lags).
        use_cache: False trains afresh even if the result is stored (the entry is kept).
        on_job: called once with the worker's :class:`Job` as soon as this call has subscribed to
            it (not for a cache hit, nor when subscribing raised), so that a caller can follow
            its progress (``job.run.step`` once training started) without asking for snapshots.

    Returns:
        The task's result (a :class:`~server.api.schemas.models.ModelResult` for a model).

    Cancelling the awaiting task detaches from the job (and so cancels it if nobody else waits).

    Raises:
        TrainingFailed: training raised.
        QueueFull: the worker already holds its most jobs.
        ServerStopping: the server is shutting down (a :class:`TrainingFailed`).
        asyncio.CancelledError: the job was cancelled.
    """
    if use_cache:
        cached = await asyncio.to_thread(task.load, worker.cache)
        if cached is not None:
            return cached
    # A task that needs another result first (an SAE needs its toy model) gets it here, as a
    # client of the worker like any other, before its own job is queued.
    prepare = getattr(task, "prepare", None)
    if prepare is not None:
        await prepare(worker, on_job, on_snapshot)
    subscriber = Subscriber(wants_snapshots=on_snapshot is not None)
    job = worker.subscribe(task, subscriber, retrain=not use_cache)
    try:
        if on_job is not None:
            on_job(job)
        while True:
            event = await subscriber.queue.get()
            # A slow client skips to the newest snapshot rather than falling behind.
            while event.kind == "snapshot" and not subscriber.queue.empty():
                event = subscriber.queue.get_nowait()
            if event.kind == "snapshot" and on_snapshot is not None:
                await on_snapshot(event.payload)
            elif event.kind == "done":
                return event.payload
            elif event.kind == "error":
                raise TrainingFailed(event.payload)
            elif event.kind == "stopping":
                raise ServerStopping
            elif event.kind == "cancelled":
                raise asyncio.CancelledError("training job was cancelled")
    finally:
        worker.unsubscribe(job, subscriber)
