"""The training worker: shared jobs, cancellation, failures (a real worker thread, no server)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import torch

from server.cache import ModelCache
from server.jobs import Job, TrainingFailed, TrainingWorker, train_or_load
from server.schemas import ModelRequest, ModelResult

SMALL = ModelRequest(n_features=4, n_hidden=2, steps=200, batch_size=64)


def recording_worker(tmp_path: Path) -> tuple[TrainingWorker, list[str]]:
    """A worker whose every real training run is recorded by model id."""
    worker = TrainingWorker(ModelCache(tmp_path), torch.device("cpu"), 0.05)
    trained: list[str] = []
    original = worker._train

    def train(job: Job) -> ModelResult:
        trained.append(job.id)
        return original(job)

    worker._train = train  # type: ignore[method-assign]
    return worker, trained


async def until(condition: Any, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_identical_requests_in_flight_share_one_job(tmp_path: Path) -> None:
    async def scenario() -> tuple[ModelResult, ModelResult]:
        same = SMALL.model_copy(update={"importance_decay": 1.0})  # equivalent request
        a, b = await asyncio.gather(train_or_load(worker, SMALL), train_or_load(worker, same))
        return a, b

    worker, trained = recording_worker(tmp_path)
    worker.start()
    try:
        a, b = asyncio.run(scenario())
    finally:
        worker.stop()
    assert trained == [SMALL.model_id()]
    assert a == b


def test_a_job_cancelled_while_queued_never_trains(tmp_path: Path) -> None:
    long = ModelRequest(n_features=4, n_hidden=2, steps=50_000, batch_size=64, seed=1)
    queued = SMALL.model_copy(update={"seed": 2})
    last = SMALL.model_copy(update={"seed": 3})

    async def scenario() -> None:
        running = asyncio.create_task(train_or_load(worker, long))
        await until(lambda: trained == [long.model_id()])  # the long job holds the worker
        waiting = asyncio.create_task(train_or_load(worker, queued))
        await asyncio.sleep(0.1)
        waiting.cancel()
        running.cancel()
        await asyncio.gather(running, waiting, return_exceptions=True)
        await train_or_load(worker, last)  # jobs run in order: the queued one came before

    worker, trained = recording_worker(tmp_path)
    worker.start()
    try:
        asyncio.run(scenario())
    finally:
        worker.stop()
    assert trained == [long.model_id(), last.model_id()]
    assert worker.cache.load(long.model_id()) is None  # cancelled work is never stored


def test_a_cache_write_failure_still_returns_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker, _ = recording_worker(tmp_path)

    def full_disk(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(worker.cache, "save", full_disk)
    worker.start()
    try:
        result = asyncio.run(train_or_load(worker, SMALL))
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
        asyncio.run(train_or_load(worker, SMALL))
