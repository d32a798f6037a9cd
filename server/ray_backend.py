"""The Ray backend (``--backend ray``): training on ``--workers`` Ray actors instead of one
in-process worker thread.

:class:`RayWorker` offers the routes what :class:`~server.jobs.TrainingWorker` offers
(``subscribe``, ``unsubscribe``, ``control``, ``stop``, the cache and the health counters), so
REST, jobs and live sockets work unchanged. Behind it, each actor
(:class:`~server.ray_actor.TrainerActor`) runs the local backend's own worker, so a training
gives exactly the weights it gives locally.

- Single flight stays on the server: identical requests in flight are one training, answered from
  the cache when it holds the result; the queue bound ``max_queued_jobs`` counts every actor.
- Routing: a training goes to an actor that already trains one of its shape (so that coalescing
  still happens), unless that actor holds more than :data:`SHAPE_AFFINITY` trainings beyond the
  least loaded actor, which then gets it. The shape key is read from the request; it only steers
  placement, never the weights.
- Events: one asyncio task per actor long-polls it (:meth:`~server.ray_actor.TrainerActor.poll`)
  and hands snapshots and results to the waiting clients; a result is stored in the server's cache
  before its clients hear of it, as locally.
- Faults: an actor that dies is restarted by Ray (``max_restarts``); the trainings it held are sent
  again (to an actor that is up) and train from their start, with the same seed, so their results
  are unchanged: clients see progress resume, not an error. A training whose actor died
  :data:`MAX_TRIES` times fails with a message that says so.
- Ray itself: with ``--ray-address`` empty the server starts a local Ray instance (no dashboard,
  a small object store) and shuts it down when it exits; with an address it joins that cluster and
  only kills its own actors.

Only this module and :mod:`server.ray_actor` know about Ray; the local backend never imports them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import ray
from ray.exceptions import RayActorError, RayTaskError

from server.api.settings import Settings
from server.cache import ModelCache
from server.device import DeviceUnavailable
from server.jobs import (
    Event,
    Job,
    JobBoard,
    Subscriber,
    Task,
    TrainingFailed,
    failure_detail,
)
from server.ray_actor import TrainerActor, cuda_share

log = logging.getLogger(__name__)

MAX_TRIES = 3  # a training whose actor died this many times fails instead of being sent again
MAX_RESTARTS = 20  # Ray restarts a dead actor this many times
SHAPE_AFFINITY = 2  # trainings an actor may hold beyond the least loaded and still get its shape
POLL_S = 0.5  # longest wait of one poll for an actor's events (seconds)
SEND_TRIES = 240  # times a training is offered to actors that cannot take it, POLL_S apart
OBJECT_STORE_BYTES = 100 << 20  # a local instance's object store: results are small
START_TIMEOUT_S = 300.0  # longest wait for the actors to start
# Request fields that make a training's shape (what must match for two runs to share a batch).
SHAPE_FIELDS = {
    "kind",
    "n_features",
    "n_hidden",
    "batch_size",
    "activation",
    "power",
    "magnitude",
    "task",
    "hidden_activation",
    "n_latents",
    "n_train",
}


@dataclass
class RemoteRun:
    """What the server knows of a training's run on an actor: the step it reached (the jobs'
    progress, ``job.run.step``, reads it)."""

    step: int


@dataclass(eq=False)
class Placement:
    """A training sent to an actor under ``key`` (a fresh key each time it is sent)."""

    job: Job
    slot: Slot
    key: str
    shape: tuple[Any, ...]
    confirmed: int | None = None  # polls issued to the actor when it accepted the training


@dataclass(eq=False)
class Slot:
    """One actor as the server sees it."""

    index: int
    actor: Any  # a Ray actor handle of TrainerActor
    pid: int = 0
    device: str = ""
    up: bool = True  # its last poll answered
    polls: int = 0  # polls issued so far
    runs: dict[str, int] = field(default_factory=dict)
    placements: dict[str, Placement] = field(default_factory=dict)

    @property
    def load(self) -> int:
        return len(self.placements)


def shape_key(task: Task) -> tuple[Any, ...]:
    """The training shape a task's request names (routing only: a wrong guess costs coalescing,
    never a different result); a task with no request shares its shape with nothing."""
    request = getattr(task, "request", None)
    dump = getattr(request, "model_dump", None)
    if dump is None:
        return (type(task).__name__, task.id)
    fields = dump(mode="json", include=SHAPE_FIELDS)
    return (type(task).__name__, *sorted((k, repr(v)) for k, v in fields.items()))


def actor_error(exc: Exception) -> Exception:
    """The exception an actor's method raised, unwrapped from Ray's wrapper."""
    cause = getattr(exc, "cause", None) if isinstance(exc, RayTaskError) else None
    return cause if isinstance(cause, Exception) else exc


class RayWorker(JobBoard):
    """Trains on Ray actors; the routes use it as they use a
    :class:`~server.jobs.TrainingWorker`.

    Args:
        cache: the server's cache: cache hits are answered here, results are stored here.
        settings: ``ray_address``, ``workers``, ``device``, ``torch_threads``,
            ``snapshot_interval_s`` and the limits ``max_queued_jobs`` and ``max_step_elements``.
    """

    backend = "ray"

    def __init__(self, cache: ModelCache, settings: Settings) -> None:
        super().__init__(settings.limits.max_queued_jobs)
        self.cache = cache
        self.settings = settings
        self.owns_ray = not settings.ray_address
        self.device = "ray"
        self._placements: dict[Job, Placement] = {}
        self._tries: dict[Job, int] = {}
        self._slots: list[Slot] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._polls: list[asyncio.Task[None]] = []
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- life ----------------------------------------------------------------------------------
    async def open(self) -> None:
        """Start (or join) Ray, start the actors and wait until each answers.

        Raises:
            DeviceUnavailable: ``device="cuda"`` and the cluster has no GPU.
        """
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._init_ray)
        workers = self.settings.workers
        gpus = float(ray.cluster_resources().get("GPU", 0.0))
        if self.settings.device == "cuda" and gpus <= 0:
            raise DeviceUnavailable("--device cuda was requested but the Ray cluster has no GPU")
        share = 0.0 if self.settings.device == "cpu" else cuda_share(gpus, workers)
        actor_class = ray.remote(
            num_cpus=1,
            num_gpus=share,
            max_restarts=MAX_RESTARTS,
            max_task_retries=0,
            # Calls run one at a time, in the order sent (a pause then a resume stay in that
            # order); the long poll waits on a thread of its own.
            max_concurrency=1,
            concurrency_groups={"poll": 1},
        )(TrainerActor)
        limits = self.settings.limits
        for index in range(workers):
            actor = actor_class.remote(
                self.settings.device if share else "cpu",
                self.settings.torch_threads or 1,
                self.settings.snapshot_interval_s,
                limits.max_queued_jobs,
                limits.max_step_elements,
            )
            self._slots.append(Slot(index, actor))
        infos = await asyncio.wait_for(
            asyncio.gather(*(slot.actor.info.remote() for slot in self._slots)), START_TIMEOUT_S
        )
        for slot, info in zip(self._slots, infos, strict=True):
            slot.pid, slot.device = info["pid"], info["device"]
        self.device = ", ".join(sorted({slot.device for slot in self._slots}))
        self._polls = [asyncio.create_task(self._poll(slot)) for slot in self._slots]
        log.info("training on %d Ray actor(s): %s", workers, self.device)

    def _init_ray(self) -> None:
        if self.owns_ray:
            ray.init(
                num_cpus=max(self.settings.workers, os.cpu_count() or 1),
                include_dashboard=False,
                object_store_memory=OBJECT_STORE_BYTES,
            )
        else:
            ray.init(address=self.settings.ray_address)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel every training and tell each waiting client the server is stopping (thread-safe
        and idempotent, like the local worker's; :meth:`close` then ends the actors)."""
        del timeout  # nothing to join here: the actors end in close()
        with self._lock:
            jobs = self._cancel_all()
        for job in jobs:
            self._publish(job, Event("stopping"))

    async def close(self) -> None:
        """End the polls and the actors; shut Ray down if this server started it."""
        self.stop()
        if self._closed:
            return
        self._closed = True
        pending = [*self._polls, *self._tasks]  # polls, and sends that may wait on an actor
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for slot in self._slots:
            with contextlib.suppress(Exception):
                ray.kill(slot.actor, no_restart=True)
        if self.owns_ray:
            await asyncio.to_thread(ray.shutdown)

    @property
    def alive(self) -> bool:
        """Whether the backend serves: started and not stopping."""
        return bool(self._slots) and not self._stopping

    # -- health ---------------------------------------------------------------------------------
    def _runs(self, kind: str) -> int:
        return sum(slot.runs.get(kind, 0) for slot in self._slots)

    @property
    def training_runs(self) -> int:
        return self._runs("training")

    @property
    def held_runs(self) -> int:
        return self._runs("held")

    @property
    def evaluating_runs(self) -> int:
        return self._runs("evaluating")

    def workers(self) -> list[dict[str, Any]]:
        """Each actor: ``{"id", "pid", "device", "runs"}`` (runs: training, held or evaluating,
        as of its last poll)."""
        return [
            {
                "id": f"actor-{slot.index}",
                "pid": slot.pid,
                "device": slot.device,
                "runs": sum(slot.runs.values()),
            }
            for slot in self._slots
        ]

    # -- asyncio side (as TrainingWorker's) -----------------------------------------------------
    def subscribe(self, task: Task, subscriber: Subscriber, retrain: bool = False) -> Job:
        """As :meth:`server.jobs.TrainingWorker.subscribe`.

        Raises:
            TrainingFailed: the backend is not running.
            QueueFull: ``max_queued_jobs`` distinct trainings are already in flight.
        """
        if not self.alive:
            raise TrainingFailed("the training workers are not running")
        with self._lock:
            job, new, watched = self._join(task, subscriber, retrain)
        if new:
            self._spawn(self._admit(job))
        elif subscriber.wants_snapshots and not watched:
            self._tell(job, "watch", True)
        return job

    def unsubscribe(self, job: Job, subscriber: Subscriber) -> None:
        """As :meth:`server.jobs.TrainingWorker.unsubscribe`: the last client's leaving cancels
        the training on its actor."""
        with self._lock:
            cancel = self._detach(job, subscriber)
            watched = any(s.wants_snapshots for s in job.subscribers)
        if cancel:
            self._tell(job, "cancel")
            self._drop(job)
        elif subscriber.wants_snapshots and not watched:
            self._tell(job, "watch", False)

    def control(
        self,
        job: Job,
        paused: bool | None = None,
        step_budget: int | None = None,
        steps_per_second: float | Literal["keep"] | None = "keep",
    ) -> None:
        """As :meth:`server.jobs.TrainingWorker.control`, applied on the job's actor."""
        with self._lock:
            if paused is not None:
                job.paused = paused
                job.step_budget = step_budget if not paused else None
            if steps_per_second != "keep":
                job.steps_per_second = steps_per_second
        self._tell(job, "control", paused, step_budget, steps_per_second)

    # -- sending trainings to actors -----------------------------------------------------------
    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _tell(self, job: Job, method: str, *args: Any) -> None:
        """Call an actor's method for the job's training, without waiting for it (an actor
        restarting meanwhile has lost the training anyway, and gets it again in full)."""
        placement = self._placements.get(job)
        if placement is not None:
            getattr(placement.slot.actor, method).remote(placement.key, *args)

    def _drop(self, job: Job) -> None:
        placement = self._placements.pop(job, None)
        if placement is not None:
            placement.slot.placements.pop(placement.key, None)
        self._tries.pop(job, None)

    async def _admit(self, job: Job) -> None:
        """Answer a new job from the cache (another client's training may have just stored it),
        or send it to an actor."""
        if not job.retrain:
            try:
                cached = await asyncio.to_thread(job.task.load, self.cache)
            except Exception as exc:
                log.exception("loading %s failed", job.id)
                self._finish(job, Event("error", failure_detail(exc)))
                return
            if cached is not None:
                self._finish(job, Event("done", cached))
                return
        await self._send(job)

    def _choose(self, shape: tuple[Any, ...]) -> Slot:
        """The actor for a training of ``shape``: one with trainings of that shape unless it
        holds more than ``SHAPE_AFFINITY`` beyond the least loaded, else the least loaded."""
        slots = [slot for slot in self._slots if slot.up] or self._slots
        least = min(slot.load for slot in slots)
        same = [s for s in slots if any(p.shape == shape for p in s.placements.values())]
        if same:
            best = min(same, key=lambda s: (s.load, s.index))
            if best.load <= least + SHAPE_AFFINITY:
                return best
        return min(slots, key=lambda s: (s.load, s.index))

    async def _send(self, job: Job) -> None:
        """Send the job's training, with its controls, to an actor (one that is up, if any): an
        actor that cannot take it (dead, restarting) is asked again every ``POLL_S``, for at most
        ``SEND_TRIES`` times."""
        for _ in range(SEND_TRIES):
            if job.cancelled.is_set() or self._stopping:
                return
            shape = shape_key(job.task)
            slot = self._choose(shape)
            placement = Placement(job, slot, uuid.uuid4().hex, shape)
            self._placements[job] = placement
            slot.placements[placement.key] = placement
            with self._lock:
                watched = any(s.wants_snapshots for s in job.subscribers)
            try:
                await slot.actor.submit.remote(
                    placement.key,
                    job.task,
                    watched,
                    job.paused,
                    job.step_budget,
                    job.steps_per_second,
                )
            except RayActorError as exc:
                slot.up = False
                if self._placements.get(job) is not placement:
                    return  # cancelled, or already sent again
                self._drop_placement(placement)
                log.warning("actor %d cannot take %s now (%s)", slot.index, job.id, exc)
                await asyncio.sleep(POLL_S)
                continue
            except Exception as exc:
                cause = actor_error(exc)
                log.error("sending %s to actor %d failed: %s", job.id, slot.index, cause)
                self._drop_placement(placement)
                self._finish(job, Event("error", failure_detail(cause)))
                return
            if self._placements.get(job) is placement:
                placement.confirmed = slot.polls
            elif job.cancelled.is_set():  # a cancel may have reached the actor before the submit
                slot.actor.cancel.remote(placement.key)
            return
        self._finish(
            job,
            Event(
                "error",
                f"training failed: no Ray actor took it in {SEND_TRIES * POLL_S:g} s "
                "(are the actors up? see GET /api/health's workers)",
            ),
        )

    def _drop_placement(self, placement: Placement) -> None:
        placement.slot.placements.pop(placement.key, None)
        if self._placements.get(placement.job) is placement:
            del self._placements[placement.job]

    def _count_try(self, job: Job, exc: Exception) -> bool:
        """One more try of the job was lost with its actor; whether it may be sent again (else
        it has failed, with a message that says why)."""
        tries = self._tries[job] = self._tries.get(job, 0) + 1
        if tries < MAX_TRIES:
            log.warning("the actor training %s died (%s); sending it again", job.id, exc)
            return True
        self._finish(
            job,
            Event(
                "error",
                f"training failed: the Ray actor training it died {tries} times (the most "
                f"tries, MAX_TRIES, is {MAX_TRIES}); it was not sent again. Last: "
                f"{type(exc).__name__}",
            ),
        )
        return False

    def _lost(self, slot: Slot, placements: list[Placement], exc: Exception) -> None:
        """An actor died (or restarted) with these trainings: send each again, or fail it."""
        for placement in placements:
            self._drop_placement(placement)
            job = placement.job
            if job.cancelled.is_set() or not self._count_try(job, exc):
                continue
            log.info("training %s: actor %d was lost; sending it again", job.id, slot.index)
            self._spawn(self._send(job))

    # -- receiving events from actors ----------------------------------------------------------
    async def _poll(self, slot: Slot) -> None:
        """Collect one actor's events until the server stops; notice its death and restart."""
        while not self._stopping:
            slot.polls += 1
            issued = slot.polls
            try:
                state = await slot.actor.poll.options(concurrency_group="poll").remote(POLL_S)
            except RayActorError as exc:
                if self._stopping:
                    return
                slot.up = False
                held = [p for p in slot.placements.values() if p.confirmed is not None]
                self._lost(slot, held, exc)
                await asyncio.sleep(POLL_S)
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("polling actor %d failed", slot.index)
                await asyncio.sleep(POLL_S)
                continue
            slot.up = True
            self._receive(slot, state, issued)

    def _receive(self, slot: Slot, state: dict[str, Any], issued: int) -> None:
        """Hand an actor's events to the clients, and notice trainings it no longer holds (it
        restarted between two polls)."""
        slot.pid, slot.runs = state["pid"], state["runs"]  # a restarted actor's pid is new
        progress: dict[str, list[Any]] = state["progress"]
        ended: set[str] = set()
        for key, kind, payload in state["events"]:
            placement = slot.placements.get(key)
            if placement is None:
                continue  # cancelled here, or sent again elsewhere
            job = placement.job
            if kind == "snapshot":
                self._progress(job, payload.get("step"))
                self._publish(job, Event("snapshot", payload))
                continue
            ended.add(key)
            self._drop_placement(placement)
            self._tries.pop(job, None)
            if kind == "done":
                result, trained = payload
                self._spawn(self._complete(job, result, trained))
            else:
                self._finish(job, Event(kind, payload))
        for key, (step, paused) in progress.items():
            placement = slot.placements.get(key)
            if placement is not None:
                job = placement.job
                self._progress(job, step)
                if paused and job.step_budget is not None:  # its step budget ran out there
                    job.paused, job.step_budget = True, None
        vanished = [
            p
            for key, p in slot.placements.items()
            if p.confirmed is not None and p.confirmed < issued and key not in progress
            and key not in ended
        ]  # fmt: skip
        if vanished:
            self._lost(slot, vanished, RuntimeError("the actor restarted"))

    @staticmethod
    def _progress(job: Job, step: int | None) -> None:
        if step is None:
            return
        if job.run is None:
            job.run = RemoteRun(step)  # type: ignore[assignment]  # duck-typed: .step alone
        else:
            job.run.step = step

    async def _complete(self, job: Job, result: Any, trained: Any) -> None:
        """Store a finished result in the cache, then answer its clients (as locally)."""
        try:
            await asyncio.to_thread(job.task.save, self.cache, result, trained)
        except OSError:  # a full disk or read-only cache costs the cache entry, not the result
            log.exception("could not store %s in the cache", job.id)
        self._finish(job, Event("done", result))

    def _forget(self, job: Job) -> None:
        """A finished job's placement and tries go (JobBoard._finish calls this)."""
        self._drop(job)
