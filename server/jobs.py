"""One training worker thread that owns the device, and the jobs it runs.

The event loop never trains: API handlers submit a job and await its events. Identical requests
in flight share one job; a job whose last subscriber leaves is cancelled at its next step.
Events reach each subscriber's asyncio queue through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from server.cache import ModelCache
from server.model import ToyModel
from server.results import instance_results
from server.schemas import LossPoint, ModelRequest, ModelResult
from server.training import TrainConfig, best_restarts, train

log = logging.getLogger(__name__)

EventKind = Literal["snapshot", "done", "error", "cancelled"]


class JobCancelled(Exception):
    """Raised inside training when every subscriber has left."""


class TrainingFailed(RuntimeError):
    """Training raised; the message is safe to show to the client."""


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


@dataclass
class Job:
    request: ModelRequest  # normalised
    id: str
    subscribers: list[Subscriber] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def raise_if_cancelled(self) -> None:
        """Called from inside training: stop it once every subscriber has left."""
        if self.cancelled.is_set():
            raise JobCancelled


class TrainingWorker:
    """Runs jobs one at a time on a dedicated thread.

    Args:
        cache: where results are stored and looked up.
        device: the torch device that trains.
        snapshot_interval_s: least time between two snapshots of a job (seconds).
    """

    def __init__(self, cache: ModelCache, device: torch.device, snapshot_interval_s: float) -> None:
        self.cache = cache
        self.device = device
        self.snapshot_interval_s = snapshot_interval_s
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._active: dict[str, Job] = {}
        self._thread = threading.Thread(target=self._run, name="training-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel every job and join the thread."""
        with self._lock:
            for job in self._active.values():
                job.cancelled.set()
            self._active.clear()
        self._queue.put(None)
        self._thread.join(timeout)

    # -- asyncio side ------------------------------------------------------------------------
    def subscribe(self, request: ModelRequest, subscriber: Subscriber) -> Job:
        """Attach to the job training ``request``, creating and queueing it if there is none.

        Raises:
            TrainingFailed: the worker thread is not running.
        """
        if not self.alive:
            raise TrainingFailed("the training worker is not running")
        request = request.normalised()
        model_id = request.model_id()
        with self._lock:
            job = self._active.get(model_id)
            if job is None:
                job = self._active[model_id] = Job(request, model_id)
                self._queue.put(job)
            job.subscribers.append(subscriber)
        return job

    def unsubscribe(self, job: Job, subscriber: Subscriber) -> None:
        """Detach; a job with no subscriber left is cancelled."""
        with self._lock:
            if subscriber in job.subscribers:
                job.subscribers.remove(subscriber)
            if not job.subscribers and not job.cancelled.is_set():
                job.cancelled.set()
                if self._active.get(job.id) is job:
                    del self._active[job.id]

    # -- worker thread -----------------------------------------------------------------------
    def _publish(self, job: Job, event: Event) -> None:
        with self._lock:
            subscribers = list(job.subscribers)
        for subscriber in subscribers:
            if event.kind != "snapshot" or subscriber.wants_snapshots:
                subscriber.push(event)

    def _finish(self, job: Job, event: Event) -> None:
        with self._lock:
            if self._active.get(job.id) is job:
                del self._active[job.id]
        self._publish(job, event)

    @property
    def alive(self) -> bool:
        """Whether the worker thread is running (it ends only at :meth:`stop`)."""
        return self._thread.is_alive()

    def _warm_up(self) -> None:
        """Train a 2-step model once, so the first user's request does not pay torch's lazy
        initialisation (about a second on the CPU) before its first snapshot."""
        ones = torch.ones((1, 2), device=self.device)
        try:
            train(ones, ones, 1, "relu", TrainConfig(steps=2, batch_size=8, n_eval_samples=8), 0)
        except Exception:  # a broken device shows up again, per job, as that job's error
            log.exception("warm-up training failed")

    def _run(self) -> None:
        self._warm_up()
        while (job := self._queue.get()) is not None:
            if job.cancelled.is_set():
                self._finish(job, Event("cancelled"))
                continue
            try:
                result = self.cache.load(job.id) or self._train(job)
                self._finish(job, Event("done", result))
            except JobCancelled:
                self._finish(job, Event("cancelled"))
            except Exception as exc:
                log.exception("training job %s failed", job.id)
                self._finish(job, Event("error", f"training failed: {type(exc).__name__}: {exc}"))

    def _train(self, job: Job) -> ModelResult:
        request, device = job.request, self.device
        probability = torch.tensor(request.feature_probabilities, device=device).unsqueeze(1)
        importance = torch.tensor([request.importances] * request.n_instances, device=device)
        config = TrainConfig(
            steps=request.steps,
            batch_size=request.batch_size,
            lr=request.lr,
            n_restarts=request.n_restarts,
        )
        start = time.perf_counter()
        trained = train(
            probability,
            importance,
            request.n_hidden,
            request.activation,
            config,
            request.seed,
            on_step=self._snapshotter(job),
            check=job.raise_if_cancelled,
        )
        if device.type == "cuda":
            torch.cuda.synchronize()
        result = ModelResult(
            id=job.id,
            cached=False,
            request=request,
            device=str(device),
            train_seconds=time.perf_counter() - start,
            loss_history=[
                LossPoint(step=step, loss=losses)
                for step, losses in zip(
                    trained.history_steps, trained.history_loss.tolist(), strict=True
                )
            ],
            instances=instance_results(request, trained.W, trained.b, trained.loss),
        )
        try:
            self.cache.save(result, trained.W, trained.b)
        except OSError:  # a full disk or read-only cache costs the cache entry, not the result
            log.exception("could not store model %s in the cache", job.id)
        return result

    def _snapshotter(self, job: Job) -> Callable[[int, ToyModel, Tensor], None]:
        """The per-step callback: cancel when asked, publish a snapshot now and then.

        Snapshots come at most every ``snapshot_interval_s``, and never take more than about a
        fifth of the worker's time: large models stretch the interval to 4× their build time.
        """
        request = job.request
        state = {"next": 0.0}

        def on_step(step: int, model: ToyModel, losses: Tensor) -> None:
            job.raise_if_cancelled()
            now = time.monotonic()
            if now < state["next"] or step == request.steps:
                return
            with self._lock:
                watched = any(s.wants_snapshots for s in job.subscribers)
            if not watched:
                return
            keep = best_restarts(losses, request.n_restarts)
            instances = instance_results(
                request, model.W.detach()[keep], model.b.detach()[keep], losses[keep]
            )
            payload = {"id": job.id, "step": step, "steps": request.steps, "instances": instances}
            self._publish(job, Event("snapshot", payload))
            built = time.monotonic() - now
            state["next"] = now + max(self.snapshot_interval_s, 4 * built)

        return on_step


async def train_or_load(
    worker: TrainingWorker,
    request: ModelRequest,
    on_snapshot: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> ModelResult:
    """The result of ``request``: from the cache at once, or trained by the worker.

    Cancelling the awaiting task detaches from the job (and so cancels it if nobody else waits).

    Raises:
        TrainingFailed: training raised.
        asyncio.CancelledError: the job was cancelled (the server is stopping).
    """
    cached = await asyncio.to_thread(worker.cache.load, request.model_id())
    if cached is not None:
        return cached
    subscriber = Subscriber(wants_snapshots=on_snapshot is not None)
    job = worker.subscribe(request, subscriber)
    try:
        while True:
            event = await subscriber.queue.get()
            # A slow client skips to the newest snapshot rather than falling behind.
            while event.kind == "snapshot" and not subscriber.queue.empty():
                event = subscriber.queue.get_nowait()
            if event.kind == "snapshot" and on_snapshot is not None:
                await on_snapshot(event.payload)
            elif event.kind == "done":
                result: ModelResult = event.payload
                return result
            elif event.kind == "error":
                raise TrainingFailed(event.payload)
            elif event.kind == "cancelled":
                raise asyncio.CancelledError("training job was cancelled")
    finally:
        worker.unsubscribe(job, subscriber)
