"""The Ray backend's parts without a Ray instance: the training actor as a plain object, the
routing of trainings to actors, and the local backend never importing Ray."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from typing import Any

import torch

from server.api.schemas.models import ModelRequest
from server.jobs import Job
from server.results import ModelTask
from server.tms import train


def alone(request: ModelRequest) -> torch.Tensor:
    request = request.normalised()
    return train(request.to_config(), request.train_config()).W


def test_the_actor_trains_as_the_local_worker_and_hands_back_the_raw_result() -> None:
    from server.ray_actor import TrainerActor

    base = ModelRequest(n_features=4, n_hidden=2, steps=120, batch_size=32)
    requests = [base, base.model_copy(update={"seed": 3, "feature_probability": [0.2, 0.05]})]
    actor = TrainerActor("cpu", 1, 0.05, 8, 1 << 26)
    try:
        for key, request in enumerate(requests):
            actor.submit(str(key), ModelTask(request), wants_snapshots=key == 0)
        events: list[tuple[str, str, Any]] = []
        deadline = time.monotonic() + 60
        while sum(kind == "done" for _, kind, _ in events) < len(requests):
            assert time.monotonic() < deadline
            events += actor.poll(0.5)["events"]
    finally:
        actor.stop()
    done = {key: payload for key, kind, payload in events if kind == "done"}
    for key, request in enumerate(requests):
        result, trained = done[str(key)]
        assert result.id == request.model_id() and not result.cached
        assert torch.equal(trained.W, alone(request))
    assert any(k == "0" and kind == "snapshot" for k, kind, _ in events)  # watched: snapshots
    assert not any(k == "1" and kind == "snapshot" for k, kind, _ in events)  # not watched


def test_trainings_go_to_an_actor_of_their_shape_until_it_holds_too_many() -> None:
    from server.ray_backend import SHAPE_AFFINITY, Placement, RayWorker, Slot, shape_key

    worker = RayWorker.__new__(RayWorker)
    worker._slots = [Slot(0, None), Slot(1, None)]
    small = ModelTask(ModelRequest(n_features=5, n_hidden=2))
    other_seed = ModelTask(ModelRequest(n_features=5, n_hidden=2, seed=9, steps=77))
    large = ModelTask(ModelRequest(n_features=20, n_hidden=5))
    assert shape_key(small) == shape_key(other_seed) != shape_key(large)

    def place(task: ModelTask) -> Slot:
        slot = worker._choose(shape_key(task))
        key = str(len(slot.placements) + 10 * slot.index)
        slot.placements[key] = Placement(Job(task, task.id), slot, key, shape_key(task))
        return slot

    assert place(small).index == 0
    assert place(large).index == 1  # the least loaded: coalescing is not worth a queue
    # Same-shape trainings join actor 0 until it holds SHAPE_AFFINITY more than actor 1.
    placed = [place(other_seed).index for _ in range(SHAPE_AFFINITY + 2)]
    assert placed == [0] * (SHAPE_AFFINITY + 1) + [1]
    worker._slots[0].up = False  # a dead or restarting actor gets nothing while another is up
    assert place(small).index == 1


def test_the_local_backend_never_imports_ray() -> None:
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from server.api.app import create_app\n"
        "from server.api.settings import Settings\n"
        "import server.__main__\n"
        "with TestClient(create_app(Settings(cache_dir=sys.argv[1], device='cpu'))) as client:\n"
        "    health = client.get('/api/health', headers={'host': 'localhost'}).json()\n"
        "assert health['backend'] == 'local', health\n"
        "assert [w['id'] for w in health['workers']] == ['local'], health\n"
        "assert not [m for m in sys.modules if m == 'ray' or m.startswith('ray.')]\n"
    )
    with tempfile.TemporaryDirectory() as cache:
        done = subprocess.run(
            [sys.executable, "-c", code, cache], capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0, done.stderr[-2000:]
