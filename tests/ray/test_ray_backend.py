"""The Ray backend (``--backend ray``) on a local Ray instance that a real server starts, with two
CPU actors: the same weights as the local backend and ``server.tms.train``, many live clients at
once, an actor killed mid-training and its job still done (or failed, clearly, when its training
keeps killing actors), and no Ray process left once the server has exited.

One server serves the whole module (Ray takes seconds to start); the last test stops it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from benchmarks.load import explorer_request, ws_url
from benchmarks.serve import start_server, stop_server
from server.api.app import create_app
from server.api.schemas.models import ModelRequest
from server.api.settings import Settings
from server.cache import MODEL_KIND, ModelCache
from server.jobs import TrainingWorker, train_or_load
from server.results import ModelTask
from server.tms import train
from tests.api.test_carry_on import test_pause_step_resume_and_speed as pause_step_resume_and_speed

pytest.importorskip("ray")

pytestmark = pytest.mark.timeout(300)


class RayServer:
    def __init__(self, proc: subprocess.Popen[bytes], base: str, cache: Path) -> None:
        self.proc, self.base, self.cache = proc, base, cache

    def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(f"{self.base}/api/health", timeout=30).json()
        return answer

    def weights(self, model_id: str) -> torch.Tensor:
        """W as the server stored it (exact float32, not JSON)."""
        W = ModelCache(self.cache).read(model_id, MODEL_KIND, lambda stored, _: stored.tensors)
        assert W is not None, f"{model_id} is not in the server's cache"
        return W["W"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayServer]:
    cache = tmp_path_factory.mktemp("ray_cache")
    proc, base = start_server(cache, "--backend", "ray", "--workers", "2", startup_s=240)
    try:
        yield RayServer(proc, base, cache)
    finally:
        if proc.poll() is None:
            stop_server(proc)


def wait_for(condition: Any, timeout: float = 120, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def alone(request: ModelRequest) -> torch.Tensor:
    """W of ``request`` from ``server.tms.train``, outside any worker."""
    request = request.normalised()
    return train(request.to_config(), request.train_config()).W


def local_backend(requests: list[ModelRequest], cache: Path) -> list[torch.Tensor]:
    """W of each request from the local backend's worker, all in flight at once (coalesced)."""
    worker = TrainingWorker(ModelCache(cache), torch.device("cpu"), 0.05)

    async def scenario() -> None:
        await asyncio.gather(*(train_or_load(worker, ModelTask(r)) for r in requests))

    worker.start()
    try:
        asyncio.run(scenario())
    finally:
        worker.stop()
    stored = ModelCache(cache)
    return [
        stored.read(r.model_id(), MODEL_KIND, lambda s, _: s.tensors)["W"]  # type: ignore[index]
        for r in requests
    ]


def post_job(server: RayServer, request: dict[str, Any]) -> str:
    answer = httpx.post(f"{server.base}/api/jobs", json={"model": request}, timeout=30)
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["id"]
    return job_id


def job(server: RayServer, job_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{server.base}/api/jobs/{job_id}", timeout=30).json()
    return answer


def test_health_names_the_backend_and_each_actor(server: RayServer) -> None:
    health = server.health()
    assert health["backend"] == "ray"
    workers = health["workers"]
    assert [w["id"] for w in workers] == ["actor-0", "actor-1"]
    assert all(w["device"] == "cpu" and w["pid"] not in (0, server.proc.pid) for w in workers)
    assert len({w["pid"] for w in workers}) == 2  # two processes


def test_weights_equal_the_local_backend_and_tms_train(server: RayServer, tmp_path: Path) -> None:
    # Three requests of one shape, in flight at once (they coalesce on one actor), and one of
    # another shape.
    base = ModelRequest(n_features=5, n_hidden=2, steps=300, batch_size=128)
    requests = [
        base,
        base.model_copy(update={"seed": 1, "feature_probability": [0.3, 0.03]}),
        base.model_copy(update={"seed": 2, "importance_decay": 0.8, "n_restarts": 2}),
        ModelRequest(n_features=6, n_hidden=3, steps=250, batch_size=64, seed=5),
    ]
    answers: list[httpx.Response] = []

    def post(request: ModelRequest) -> None:
        body = request.model_dump(mode="json", exclude_defaults=True)
        answers.append(httpx.post(f"{server.base}/api/models", json=body, timeout=120))

    threads = [threading.Thread(target=post, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * len(requests), [a.text for a in answers]
    assert all(a.json()["device"] == "cpu" and not a.json()["cached"] for a in answers)
    local = local_backend(requests, tmp_path)
    for request, local_W in zip(requests, local, strict=True):
        ray_W = server.weights(request.model_id())
        assert torch.equal(ray_W, local_W), request
        assert torch.equal(ray_W, alone(request)), request


def without_timing(value: Any) -> Any:
    """A result without what differs between two runs of one training (its wall time)."""
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k != "train_seconds"}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def test_phase_diagrams_saes_and_sweeps_answer_as_on_the_local_backend(
    server: RayServer, tmp_path: Path
) -> None:
    # The other tasks the worker trains (a grid, an SAE on a model trained first, a sweep over T)
    # travel to the actors and back: each answers exactly what the local backend answers.
    model = {"n_features": 5, "n_hidden": 2, "feature_probability": 0.05, "steps": 200, "seed": 4}
    asks = [
        ("/api/phase-diagrams", {"grid_size": 3, "n_restarts": 2, "steps": 150}),
        ("/api/saes", {"model": model, "n_latents": 6, "steps": 200, "batch_size": 256}),
        ("/api/double-descent", {"n_features": 8, "steps": 150, "n_train_values": [3, 10]}),
    ]
    settings = Settings(cache_dir=tmp_path, device="cpu")
    with TestClient(create_app(settings), headers={"host": "localhost"}) as local:
        for path, body in asks:
            remote = httpx.post(f"{server.base}{path}", json=body, timeout=120)
            assert remote.status_code == 200, remote.text
            alone = local.post(path, json=body)
            assert alone.status_code == 200, alone.text
            assert without_timing(remote.json()) == without_timing(alone.json()), path


def test_many_live_clients_at_once_get_no_error(server: RayServer) -> None:
    clients = 8
    errors: list[str] = []
    snapshots = [0] * clients
    done = [False] * clients

    def client(index: int) -> None:
        try:
            with connect(ws_url(server.base), max_size=None, proxy=None) as ws:
                ws.send(
                    json.dumps(explorer_request(0.05 + 0.1 * index, seed=100 + index, steps=600))
                )
                while True:
                    message = json.loads(ws.recv(timeout=120))
                    if message["type"] == "snapshot":
                        snapshots[index] += 1
                    elif message["type"] == "done":
                        done[index] = True
                        return
                    else:
                        errors.append(str(message))
                        return
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(done)
    assert sum(snapshots) > 0  # snapshots streamed back from the actors


def test_live_pause_step_resume_and_speed_reach_the_actor(server: RayServer) -> None:
    # The local backend's own test of the live controls, against the Ray backend.
    pause_step_resume_and_speed(server.base)


# 40 → 30 takes the eager step (n·m above the fused step's limit): seconds of training, time to
# kill its actor mid-training (20 → 5 ends in a fraction of a second on the fused step)
LONG = {"n_features": 40, "n_hidden": 30, "steps": 4000, "batch_size": 1024, "seed": 7}


def kill_a_busy_actor(server: RayServer, killed: set[int]) -> int:
    """SIGKILL an actor (not one killed before) once it holds a run; its pid."""

    def busy() -> int | None:
        return next(
            (w["pid"] for w in server.health()["workers"] if w["runs"] and w["pid"] not in killed),
            None,
        )

    pid: int = wait_for(busy, what="an actor holding a run")
    os.kill(pid, signal.SIGKILL)
    killed.add(pid)
    return pid


def test_an_actor_killed_mid_training_is_restarted_and_its_job_still_done(
    server: RayServer,
) -> None:
    job_id = post_job(server, LONG)
    wait_for(lambda: job(server, job_id)["step"] > 0, what="training to start")
    killed = kill_a_busy_actor(server, set())
    view = wait_for(
        lambda: (v := job(server, job_id))["status"] != "running" and v, 240, "the job to end"
    )
    assert view["status"] == "done", view
    assert view["step"] == LONG["steps"]
    model_id = view["result_url"].rsplit("/", 1)[1]
    assert torch.equal(server.weights(model_id), alone(ModelRequest(**LONG)))
    # Ray restarted the actor: two actors again, neither of them the killed process.
    pids = wait_for(
        lambda: killed not in (p := {w["pid"] for w in server.health()["workers"]}) and p,
        what="the actor's restart",
    )
    assert len(pids) == 2


def test_a_training_that_keeps_killing_its_actor_fails_clearly(server: RayServer) -> None:
    job_id = post_job(server, LONG | {"steps": 40_000, "seed": 8})  # minutes: never done here
    killed: set[int] = set()
    for _ in range(3):  # MAX_TRIES in server/ray_backend.py
        kill_a_busy_actor(server, killed)
    view = wait_for(
        lambda: (v := job(server, job_id))["status"] not in ("queued", "running") and v,
        what="the job to fail",
    )
    assert view["status"] == "failed"
    assert "died 3 times" in view["detail"]


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``: its pid → its command line (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, of in parents.items():
            if of == parent and child not in found:
                cmdline = (
                    Path(f"/proc/{child}/cmdline").read_bytes()
                    if Path(f"/proc/{child}").exists()
                    else b""
                )
                found[child] = cmdline.replace(b"\0", b" ").decode(errors="replace")
                frontier.append(child)
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_servers_exit_leaves_no_ray_process_behind(server: RayServer) -> None:
    def both_actors_up() -> dict[int, str] | None:  # the tests above killed some: restarted
        found = descendants(server.proc.pid)
        return found if sum("TrainerActor" in cmd for cmd in found.values()) == 2 else None

    ray_processes: dict[int, str] = wait_for(both_actors_up, what="both actors' processes")
    assert any("raylet" in cmd for cmd in ray_processes.values()), ray_processes
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(timeout=60)
    deadline = time.monotonic() + 30
    while (left := [cmd for pid, cmd in ray_processes.items() if running(pid)]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert left == []
