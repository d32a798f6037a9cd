"""The training actor of the Ray backend: the local backend's worker, run inside a Ray actor.

Each actor owns one :class:`~server.jobs.TrainingWorker` (its own thread, batches of one training
shape, per-run generators, snapshots, pause/step/speed controls and fair time sharing), so a
training gives exactly the weights it gives on the local backend and from ``server.tms.train``.
What differs is only where events go and where results are stored: events wait in the actor's
outbox until the server collects them (:meth:`TrainerActor.poll`, a long poll), and a finished
result travels back with its raw tensors for the server to store in its own cache (the actor may
run on a machine that has none).

This module imports no Ray: the server wraps :class:`TrainerActor` with ``ray.remote`` (see
:mod:`server.ray_backend`), so the class also runs, and is tested, as a plain object.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from server.device import select_device, set_torch_threads
from server.jobs import Event, Job, Subscriber, Task, TrainingWorker, finish


class ResultWorker(TrainingWorker):
    """A training worker that hands each result back with its raw tensors instead of storing it:
    a ``done`` event's payload is ``(result, trained)`` (:class:`~server.tms.training.TrainResult`,
    or an SAE's), which the server stores with ``task.save``. Every job it gets is a retrain (the
    server answered cache hits before sending it), so it never reads a cache either."""

    def _result(self, job: Job) -> BaseModel:
        assert job.evaluation is not None
        trained = job.evaluation.result()
        result = finish(job.task, trained, self.device, job.started)
        return (result, trained)  # type: ignore[return-value]  # the server unpacks the pair


class Outbox(Subscriber):
    """One training's listener inside the actor: its events wait in the actor's outbox.

    Args:
        key: the server's name for this submission (a fresh one each time a training is sent).
        actor: whose outbox the events go to.
        wants_snapshots: whether the worker builds snapshots for it (a live client watches).
    """

    def __init__(self, key: str, actor: TrainerActor, wants_snapshots: bool) -> None:
        # No asyncio loop here: events are collected by the server's poll.
        self.key = key
        self.actor = actor
        self.wants_snapshots = wants_snapshots

    def push(self, event: Event) -> None:
        self.actor.deliver(self.key, event)


@dataclass
class Submission:
    """A training the actor holds: its worker job and its listener."""

    job: Job
    outbox: Outbox


class TrainerActor:
    """One training worker on one device (a Ray actor; plain Python here).

    Args:
        device: ``--device`` (auto, cpu or cuda); resolved on the actor's own machine, where Ray
            has made the GPUs assigned to it (if any) visible.
        torch_threads: CPU threads torch trains with in this actor (0: torch's default).
        snapshot_interval_s: least time between two snapshots of a training (seconds).
        max_jobs: most trainings the actor holds at once.
        max_batch_elements: as :class:`~server.jobs.TrainingWorker`'s.

    Raises:
        DeviceUnavailable: ``device="cuda"`` and this machine's torch sees no CUDA device.
    """

    def __init__(
        self,
        device: Literal["auto", "cpu", "cuda"],
        torch_threads: int,
        snapshot_interval_s: float,
        max_jobs: int,
        max_batch_elements: int,
    ) -> None:
        set_torch_threads(torch_threads)
        self.device = select_device(device)
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._held: dict[str, Submission] = {}
        self._events: list[tuple[str, str, Any]] = []
        self.worker = ResultWorker(
            None,  # type: ignore[arg-type]  # never read: every job is a retrain, results go back
            self.device,
            snapshot_interval_s,
            max_jobs=max_jobs,
            max_batch_elements=max_batch_elements,
        )
        self.worker.start()

    def info(self) -> dict[str, Any]:
        """``{"pid", "device"}``: the actor's process and the torch device it trains on."""
        return {"pid": os.getpid(), "device": str(self.device)}

    def submit(
        self,
        key: str,
        task: Task,
        wants_snapshots: bool,
        paused: bool = False,
        step_budget: int | None = None,
        steps_per_second: float | None = None,
    ) -> None:
        """Train ``task`` (afresh: the server checked its cache), with the controls it has.

        Raises:
            QueueFull: the actor holds ``max_jobs`` trainings already.
            TrainingFailed: its worker thread is not running.
        """
        outbox = Outbox(key, self, wants_snapshots)
        job = self.worker.subscribe(task, outbox, retrain=True)
        with self._lock:
            self._held[key] = Submission(job, outbox)
        if paused or step_budget is not None or steps_per_second is not None:
            self.worker.control(job, paused=paused, step_budget=step_budget)
            self.worker.control(job, steps_per_second=steps_per_second)

    def cancel(self, key: str) -> None:
        """The server's clients of this training have all left: it stops at its next step."""
        with self._lock:
            held = self._held.pop(key, None)
        if held is not None:
            self.worker.unsubscribe(held.job, held.outbox)

    def watch(self, key: str, wants_snapshots: bool) -> None:
        """Start or stop building snapshots of a training (a live client joined or left)."""
        with self._lock:
            held = self._held.get(key)
        if held is not None:
            held.outbox.wants_snapshots = wants_snapshots

    def control(
        self,
        key: str,
        paused: bool | None = None,
        step_budget: int | None = None,
        steps_per_second: float | Literal["keep"] | None = "keep",
    ) -> None:
        """:meth:`~server.jobs.TrainingWorker.control` on the training sent as ``key``."""
        with self._lock:
            held = self._held.get(key)
        if held is not None:
            self.worker.control(held.job, paused, step_budget, steps_per_second)

    def deliver(self, key: str, event: Event) -> None:
        """From the worker thread: queue an event for the server; a snapshot replaces the
        training's previous one that the server has not collected yet (clients skip to the
        newest anyway)."""
        with self._lock:
            if event.kind == "snapshot":
                self._events = [e for e in self._events if not (e[0] == key and e[1] == "snapshot")]
            else:
                self._held.pop(key, None)  # its last event
            self._events.append((key, event.kind, event.payload))
            self._ready.notify_all()

    def poll(self, timeout_s: float) -> dict[str, Any]:
        """The events since the last poll (waiting up to ``timeout_s`` for one) and the actor's
        state now.

        Returns:
            ``{"pid", "events": [(key, kind, payload), ...], "progress": {key: [step or None,
            paused]}, "runs": {"training", "held", "evaluating"}}``; a ``done`` payload is
            ``(result, trained)``.
        """
        with self._lock:
            if not self._events:
                self._ready.wait(timeout_s)
            events, self._events = self._events, []
            held = list(self._held.items())
        progress = {
            key: [None if s.job.run is None else s.job.run.step, s.job.paused] for key, s in held
        }
        return {
            "pid": os.getpid(),
            "events": events,
            "progress": progress,
            "runs": {
                "training": self.worker.training_runs,
                "held": self.worker.held_runs,
                "evaluating": self.worker.evaluating_runs,
            },
        }

    def stop(self) -> None:
        """Stop the worker (every training it holds ends as cancelled)."""
        self.worker.stop()


def cuda_share(gpus: float, workers: int) -> float:
    """The GPUs each of ``workers`` actors asks Ray for when the cluster has ``gpus``: an equal
    share of them, at most one whole GPU (fractional shares put several actors on one GPU)."""
    return 0.0 if gpus <= 0 else min(1.0, gpus / workers)
