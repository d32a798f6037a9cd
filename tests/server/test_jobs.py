"""The training worker: shared jobs, coalesced batches, cancellation, a bounded queue, failures
(a real worker thread, no server)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
import torch

from server.api.schemas.models import ModelRequest, ModelResult
from server.cache import ModelCache
from server.jobs import Job, QueueFull, TrainingFailed, TrainingWorker, train_or_load
from server.results import ModelTask
from server.tms import train
from server.tms.training import Run, TrainingBatch

T = TypeVar("T")

SMALL = ModelRequest(n_features=4, n_hidden=2, steps=200, batch_size=64)


def recording_worker(tmp_path: Path) -> tuple[TrainingWorker, list[str]]:
    """A worker whose every real training run is recorded by model id."""
    worker = TrainingWorker(ModelCache(tmp_path), torch.device("cpu"), 0.05)
    trained: list[str] = []
    original = worker._start

    def start(job: Job) -> Run:
        trained.append(job.id)
        return original(job)

    worker._start = start  # type: ignore[method-assign]
    return worker, trained


def run_with(worker: TrainingWorker, scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Start the worker, run the scenario on a fresh event loop, stop the worker."""
    worker.start()
    try:
        return asyncio.run(scenario())
    finally:
        worker.stop()


async def until(condition: Any, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_identical_requests_in_flight_share_one_job(tmp_path: Path) -> None:
    async def scenario() -> tuple[ModelResult, ModelResult]:
        same = SMALL.model_copy(update={"importance_decay": 1.0})  # equivalent request
        a, b = await asyncio.gather(
            train_or_load(worker, ModelTask(SMALL)), train_or_load(worker, ModelTask(same))
        )
        return a, b

    worker, trained = recording_worker(tmp_path)
    a, b = run_with(worker, scenario)
    assert trained == [SMALL.model_id()]
    assert a == b


def test_cancelled_jobs_leave_their_batch_and_are_never_stored(tmp_path: Path) -> None:
    long = ModelRequest(n_features=4, n_hidden=2, steps=50_000, batch_size=64, seed=1)
    joined = SMALL.model_copy(update={"seed": 2, "steps": 50_000})
    last = SMALL.model_copy(update={"seed": 3})

    async def scenario() -> ModelResult:
        running = asyncio.create_task(train_or_load(worker, ModelTask(long)))
        await until(lambda: trained == [long.model_id()])
        waiting = asyncio.create_task(train_or_load(worker, ModelTask(joined)))
        await until(lambda: len(trained) == 2)  # it joined the long job's batch
        waiting.cancel()
        running.cancel()
        await asyncio.gather(running, waiting, return_exceptions=True)
        await until(lambda: worker.jobs == 0 and not worker._batches)
        return await train_or_load(worker, ModelTask(last))

    worker, trained = recording_worker(tmp_path)
    result = run_with(worker, scenario)
    assert trained == [long.model_id(), joined.model_id(), last.model_id()]
    assert worker.cache.load(long.model_id()) is None  # cancelled work is never stored
    assert worker.cache.load(joined.model_id()) is None
    assert worker.cache.load(last.model_id()) == result.model_copy(update={"cached": True})


def alone(request: ModelRequest) -> torch.Tensor:
    """W of ``request`` trained by itself, outside any worker."""
    request = request.normalised()
    return train(request.to_config(), request.train_config()).W


def test_concurrent_requests_of_one_shape_train_in_one_batch_each_as_if_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Eight mixed requests of one training shape: other sparsities, importances, seeds, restarts,
    # step counts and learning rates. They coalesce into one batch, and each gets exactly the
    # weights it gets alone (its own seed, optimiser state and step count).
    base = ModelRequest(n_features=5, n_hidden=2, steps=300, batch_size=128)
    requests = [
        base,
        base.model_copy(update={"seed": 1, "feature_probability": [0.3, 0.03]}),
        base.model_copy(update={"seed": 2, "importance_decay": 0.8}),
        base.model_copy(update={"seed": 3, "n_restarts": 3}),
        base.model_copy(update={"seed": 4, "steps": 150}),
        base.model_copy(update={"seed": 5, "lr": 3e-3}),
        base.model_copy(update={"seed": 6, "feature_probability": 1.0, "steps": 420}),
        base.model_copy(update={"seed": 7, "importance": [1, 2, 3, 4, 5]}),
    ]
    sizes: list[int] = []
    step = TrainingBatch.step

    def recording_step(self: TrainingBatch, with_loss: bool = False) -> None:
        sizes.append(len(self.runs))
        step(self, with_loss)

    monkeypatch.setattr(TrainingBatch, "step", recording_step)

    async def scenario() -> list[ModelResult]:
        return list(await asyncio.gather(*(train_or_load(worker, ModelTask(r)) for r in requests)))

    worker, trained = recording_worker(tmp_path)
    results = run_with(worker, scenario)
    assert max(sizes) == len(requests)  # all eight trained side by side at some step
    assert sorted(trained) == sorted(r.model_id() for r in requests)
    for request, result in zip(requests, results, strict=True):
        assert result.id == request.model_id()
        assert result.request == request.normalised()
        W = torch.tensor([instance.W for instance in result.instances])
        torch.testing.assert_close(W, alone(request), rtol=0, atol=1e-6)


def test_a_cancelled_neighbour_does_not_disturb_a_batch(tmp_path: Path) -> None:
    kept = ModelRequest(n_features=5, n_hidden=2, steps=3000, batch_size=128, seed=8)
    leaving = kept.model_copy(update={"seed": 9, "steps": 50_000})

    async def scenario() -> ModelResult:
        stays = asyncio.create_task(train_or_load(worker, ModelTask(kept)))
        goes = asyncio.create_task(train_or_load(worker, ModelTask(leaving)))
        await until(lambda: len(trained) == 2)
        await asyncio.sleep(0.05)
        goes.cancel()
        await asyncio.gather(goes, return_exceptions=True)
        return await stays

    worker, trained = recording_worker(tmp_path)
    result = run_with(worker, scenario)
    W = torch.tensor([instance.W for instance in result.instances])
    torch.testing.assert_close(W, alone(kept), rtol=0, atol=1e-6)


def test_a_full_queue_refuses_new_jobs_but_joins_running_ones(tmp_path: Path) -> None:
    long = ModelRequest(n_features=4, n_hidden=2, steps=50_000, batch_size=64, seed=1)

    async def scenario() -> None:
        running = asyncio.create_task(train_or_load(worker, ModelTask(long)))
        await until(lambda: worker.jobs == 1)
        with pytest.raises(QueueFull, match=r"max_queued_jobs.*retry in 2 s"):
            await train_or_load(worker, ModelTask(SMALL))
        # the same model: no new job
        joining = asyncio.create_task(train_or_load(worker, ModelTask(long)))
        await asyncio.sleep(0.1)
        assert not joining.done() and worker.jobs == 1
        running.cancel()
        joining.cancel()
        await asyncio.gather(running, joining, return_exceptions=True)
        await until(lambda: worker.jobs == 0)
        await train_or_load(worker, ModelTask(SMALL))  # room again

    worker = TrainingWorker(ModelCache(tmp_path), torch.device("cpu"), 0.05, max_jobs=1)
    run_with(worker, scenario)


def test_a_cache_write_failure_still_returns_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker, _ = recording_worker(tmp_path)

    def full_disk(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(worker.cache, "save", full_disk)
    worker.start()
    try:
        result = asyncio.run(train_or_load(worker, ModelTask(SMALL)))
    finally:
        worker.stop()
    assert result.cached is False and len(result.instances) == 1
    assert not any(tmp_path.iterdir())


def test_a_stopped_worker_refuses_at_once(tmp_path: Path) -> None:
    worker, _ = recording_worker(tmp_path)
    worker.start()
    worker.stop()
    assert not worker.alive
    with pytest.raises(TrainingFailed, match="not running"):
        asyncio.run(train_or_load(worker, ModelTask(SMALL)))


# Issue 22, fault 2: no admitted request holds the worker. 64 probabilities × 16 restarts of
# 3 → 2 trained one step: 1,024 rows whose evaluation on 2¹⁶ fresh samples takes 49 chunks of 2²²
# input entries (10 s on 2 cores), while SMALL's training and evaluation take 0.03 s alone.
LONG_EVALUATION = ModelRequest(
    n_features=3,
    n_hidden=2,
    feature_probability=[0.01 * k for k in range(1, 65)],
    n_restarts=16,
    steps=1,
    batch_size=64,
)


def test_a_small_job_finishes_while_a_long_evaluation_goes_on(tmp_path: Path) -> None:
    async def scenario() -> tuple[ModelResult, bool]:
        long = asyncio.create_task(train_or_load(worker, ModelTask(LONG_EVALUATION)))
        await until(lambda: worker.evaluating_runs == 1)
        small = await train_or_load(worker, ModelTask(SMALL))
        still_evaluating = not long.done() and worker.evaluating_runs == 1
        long.cancel()
        await asyncio.gather(long, return_exceptions=True)
        await until(lambda: worker.jobs == 0 and worker.evaluating_runs == 0)
        return small, still_evaluating

    worker, trained = recording_worker(tmp_path)
    small, still_evaluating = run_with(worker, scenario)
    assert trained == [LONG_EVALUATION.model_id(), SMALL.model_id()]
    assert still_evaluating  # SMALL trained and was evaluated between the long one's chunks
    W = torch.tensor([instance.W for instance in small.instances])
    torch.testing.assert_close(W, alone(SMALL), rtol=0, atol=1e-6)
    assert worker.cache.load(LONG_EVALUATION.model_id()) is None  # cancelled mid-evaluation


def test_an_evaluation_between_other_work_gives_the_loss_it_gives_alone(tmp_path: Path) -> None:
    # The evaluation's chunks depend on its rows alone: advanced between SMALL's steps, the
    # long-evaluation model reports exactly the loss that training it by itself reports.
    request = LONG_EVALUATION.model_copy(update={"feature_probability": [0.1, 0.5]})

    async def scenario() -> ModelResult:
        long = asyncio.create_task(train_or_load(worker, ModelTask(request)))
        await until(lambda: worker.evaluating_runs == 1)
        await train_or_load(worker, ModelTask(SMALL))
        return await long

    worker, _ = recording_worker(tmp_path)
    result = run_with(worker, scenario)
    request = request.normalised()
    alone_model = train(request.to_config(), request.train_config())
    assert [instance.loss for instance in result.instances] == alone_model.loss.tolist()


def test_a_small_job_is_not_held_back_by_a_batch_of_large_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One step of 200 → 20 at batch 4,096 costs tens of small steps. Taking turns one step each,
    # the large batch stepped once per small step (200 times while SMALL trained); sharing the
    # worker's time, it steps only about as often as its share of the time allows.
    large = ModelRequest(n_features=200, n_hidden=20, steps=50_000, batch_size=4096)
    steps_of: dict[int, int] = {}
    step = TrainingBatch.step

    def counting_step(self: TrainingBatch, with_loss: bool = False) -> None:
        n_features = self.runs[0].n_features
        steps_of[n_features] = steps_of.get(n_features, 0) + 1
        step(self, with_loss)

    monkeypatch.setattr(TrainingBatch, "step", counting_step)

    async def scenario() -> tuple[int, int]:
        big = asyncio.create_task(train_or_load(worker, ModelTask(large)))
        await until(lambda: steps_of.get(200, 0) >= 3)
        before = steps_of[200]
        await train_or_load(worker, ModelTask(SMALL))
        during = steps_of[200] - before
        big.cancel()
        await asyncio.gather(big, return_exceptions=True)
        return during, steps_of[SMALL.n_features]

    worker, _ = recording_worker(tmp_path)
    large_steps, small_steps = run_with(worker, scenario)
    assert small_steps >= SMALL.steps
    assert large_steps < SMALL.steps / 2, (large_steps, small_steps)
