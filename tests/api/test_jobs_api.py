"""POST /api/jobs, GET and DELETE /api/jobs/{id} (in-process: FastAPI's TestClient runs the app,
its lifespan and the real training worker)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.api.schemas.models import ModelRequest
from server.api.schemas.phase_diagrams import PhaseDiagramRequest
from server.api.settings import Limits, Settings
from server.job_records import JobRecords
from server.tms.training import TrainingBatch

SMALL = {"n_features": 5, "n_hidden": 2, "steps": 300, "batch_size": 256}
# A few seconds on 2 CPU cores: long enough to be seen mid-training by a poll.
PROGRESS = {"n_features": 20, "n_hidden": 5, "steps": 3000, "batch_size": 1024}
# Longer, for the tests that join a running training and then wait for its end.
SHARED = PROGRESS | {"steps": 5000, "seed": 2}
# About a minute on 2 CPU cores: it ends only if cancelled, in these tests.
LONG = PROGRESS | {"steps": 50_000, "seed": 1}
DIAGRAM = {"grid_size": 2, "steps": 50, "n_restarts": 1, "batch_size": 64}
JOB_FIELDS = {"id", "kind", "status", "step", "steps", "result_url", "detail"}


def submit(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/jobs", json=body)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    assert set(job) == JOB_FIELDS
    assert response.headers["location"] == f"/api/jobs/{job['id']}"
    return job


def job_of(client: TestClient, job_id: str) -> dict[str, Any]:
    response = client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def poll(
    client: TestClient,
    job_id: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 120,
) -> list[dict[str, Any]]:
    """Every answer of GET /api/jobs/{id}, every 10 ms, up to the first that meets ``until``."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        seen.append(job_of(client, job_id))
        if until(seen[-1]):
            return seen
        assert time.monotonic() < deadline, f"timed out: {seen[-1]}"
        time.sleep(0.01)


def finished(job: dict[str, Any]) -> bool:
    return job["status"] in ("done", "failed", "cancelled")


def training(job: dict[str, Any]) -> bool:
    return job["status"] == "running" and job["step"] > 0


def settles(client: TestClient) -> None:
    """The worker holds no job and no run (a cancelled run leaves at its next step)."""
    deadline = time.monotonic() + 30
    while (health := client.get("/api/health").json())["jobs"] or health["training_runs"]:
        assert time.monotonic() < deadline, health
        time.sleep(0.01)


def test_a_job_answers_202_shows_its_progress_and_its_result(client: TestClient) -> None:
    job = submit(client, {"model": PROGRESS})
    model_id = ModelRequest(**PROGRESS).model_id()
    assert job["kind"] == "model" and job["status"] in ("queued", "running")
    assert re.fullmatch(r"[0-9a-f]{32}", job["id"]) and job["id"] != model_id
    assert job["steps"] == 3000 and job["result_url"] is None and job["detail"] is None

    seen = poll(client, job["id"], finished)
    assert seen[-1]["status"] == "done", seen[-1]
    steps = [answer["step"] for answer in seen]
    assert steps == sorted(steps)  # progress never goes back
    assert any(a["status"] == "running" and 0 < a["step"] < 3000 for a in seen), steps
    done = seen[-1]
    assert done["step"] == done["steps"] == 3000 and done["detail"] is None
    assert done["result_url"] == f"/api/models/{model_id}"
    result = client.get(done["result_url"])
    assert result.status_code == 200 and result.json()["id"] == model_id
    assert result.json()["loss_history"][-1]["step"] == 3000

    # A cache hit is done at once, as a new job with its own id.
    again = submit(client, {"model": PROGRESS | {"importance_decay": 1.0}})  # the same model
    assert again["status"] == "done" and again["step"] == 3000 and again["id"] != job["id"]
    assert again["result_url"] == done["result_url"]
    # DELETE on a finished job leaves it as it was.
    for finished_job in (done, again):
        deleted = client.delete(f"/api/jobs/{finished_job['id']}")
        assert deleted.status_code == 200 and deleted.json() == finished_job
        assert job_of(client, finished_job["id"]) == finished_job


def test_a_phase_diagram_job(client: TestClient) -> None:
    job = submit(client, {"phase_diagram": DIAGRAM})
    assert job["kind"] == "phase_diagram" and job["steps"] == 50
    done = poll(client, job["id"], finished)[-1]
    assert done["status"] == "done", done
    diagram_id = PhaseDiagramRequest(**DIAGRAM).diagram_id()
    assert done["result_url"] == f"/api/phase-diagrams/{diagram_id}"
    result = client.get(done["result_url"]).json()
    assert result["id"] == diagram_id and len(result["empirical"]) == 2


def test_cancel_stops_a_training_nobody_else_waits_for(client: TestClient) -> None:
    job = submit(client, {"model": LONG})
    poll(client, job["id"], training)
    response = client.delete(f"/api/jobs/{job['id']}")
    assert response.status_code == 200
    cancelled = response.json()
    assert cancelled["status"] == "cancelled" and 0 < cancelled["step"] < LONG["steps"]
    assert cancelled["result_url"] is None
    settles(client)  # the worker dropped the run: the training stopped
    time.sleep(0.2)
    assert job_of(client, job["id"]) == cancelled  # and the step stays where it stopped
    assert client.get(f"/api/models/{ModelRequest(**LONG).model_id()}").status_code == 404


def test_cancel_leaves_a_training_another_job_waits_for(client: TestClient) -> None:
    first = submit(client, {"model": SHARED})
    poll(client, first["id"], training)
    second = submit(client, {"model": SHARED})  # the same training, already running
    assert second["status"] == "running" and second["step"] > 0
    assert client.get("/api/health").json()["jobs"] == 1  # one training for both
    assert client.delete(f"/api/jobs/{first['id']}").json()["status"] == "cancelled"
    done = poll(client, second["id"], finished)[-1]
    assert done["status"] == "done" and done["step"] == 5000, done
    assert job_of(client, first["id"])["status"] == "cancelled"


def test_cancel_leaves_a_training_a_live_socket_waits_for(client: TestClient) -> None:
    with client.websocket_connect("/api/models/live") as ws:
        ws.send_text(json.dumps(SHARED))
        assert ws.receive_json()["type"] == "snapshot"  # the socket's training is running
        job = submit(client, {"model": SHARED})
        assert job["status"] == "running"
        assert client.delete(f"/api/jobs/{job['id']}").json()["status"] == "cancelled"
        while (message := ws.receive_json())["type"] == "snapshot":
            pass
        assert message["type"] == "done", message
        assert message["result"]["loss_history"][-1]["step"] == 5000


def test_a_failed_training_reads_failed_with_its_detail(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: TrainingBatch, with_loss: bool = False) -> None:
        raise RuntimeError("the device fell over")

    monkeypatch.setattr(TrainingBatch, "step", broken)
    job = submit(client, {"model": SMALL | {"seed": 3}})
    failed = poll(client, job["id"], finished)[-1]
    assert failed["status"] == "failed" and failed["result_url"] is None
    assert "training failed" in failed["detail"] and "the device fell over" in failed["detail"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_unknown_jobs_are_404(client: TestClient, method: str) -> None:
    model_id = client.post("/api/models", json=SMALL).json()["id"]
    for job_id in ("0" * 32, model_id, "not-a-job"):  # a model id is not a job id
        response = client.request(method, f"/api/jobs/{job_id}")
        assert response.status_code == 404, (job_id, response.text)
        assert "not found" in response.json()["detail"]


def test_bad_bodies_are_422_naming_the_field_and_the_limit(client: TestClient) -> None:
    def refusal(body: Any) -> list[dict[str, Any]]:
        response = client.post("/api/jobs", json=body)
        assert response.status_code == 422, (body, response.text)
        detail: list[dict[str, Any]] = response.json()["detail"]
        return detail

    for body, got in (({}, "neither"), ({"model": SMALL, "phase_diagram": DIAGRAM}, "both")):
        (error,) = refusal(body)
        assert "exactly one of model and phase_diagram" in error["msg"] and got in error["msg"]
        assert "double_descent" in error["msg"]
    (error,) = refusal({"model": SMALL | {"steps": 60_000}})
    assert error["loc"] == ["body", "model", "steps"]
    assert "max_steps = 50000" in error["msg"] and "SUPERPOSITION_LIMITS__MAX_STEPS" in error["msg"]
    (error,) = refusal({"phase_diagram": DIAGRAM | {"grid_size": 65}})
    assert error["loc"] == ["body", "phase_diagram", "grid_size"]
    assert "max_grid_size = 64" in error["msg"]
    assert refusal({"model": SMALL | {"n_hidden": 0}})[0]["loc"] == ["body", "model", "n_hidden"]
    assert refusal({"model": SMALL, "retrain": True})[0]["loc"] == ["body", "retrain"]
    assert refusal([SMALL])[0]["loc"] == ["body"]
    assert len(client.app.state.job_records) == 0  # type: ignore[attr-defined]


def test_a_full_queue_is_503_with_retry_after(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path, device="cpu", limits=Limits(max_queued_jobs=1))
    with TestClient(create_app(settings)) as client:
        records: JobRecords = client.app.state.job_records  # type: ignore[attr-defined]
        long = submit(client, {"model": LONG})  # the one training the queue holds
        refused = client.post("/api/jobs", json={"model": SMALL})
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "2"
        assert "max_queued_jobs" in refused.json()["detail"]
        assert client.post("/api/jobs", json={"phase_diagram": DIAGRAM}).status_code == 503
        assert len(records) == 1  # a refused job leaves no record
        same = submit(client, {"model": LONG})  # joins the training in flight: no new one
        for job in (long, same):
            assert client.delete(f"/api/jobs/{job['id']}").json()["status"] == "cancelled"
        settles(client)
        room = submit(client, {"model": SMALL})  # the queue has room again
        assert poll(client, room["id"], finished)[-1]["status"] == "done"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_finished_jobs_are_kept_for_a_bounded_time_and_count(client: TestClient) -> None:
    worker = client.app.state.worker  # type: ignore[attr-defined]
    clock = Clock()
    records = JobRecords(worker, max_finished=2, ttl_s=60, max_unfinished=2, clock=clock)
    client.app.state.job_records = records  # type: ignore[attr-defined]
    client.post("/api/models", json=SMALL)  # cached from now on: its jobs are done at once
    running = submit(client, {"model": LONG})  # unfinished: never dropped
    done = []
    for _ in range(3):
        done.append(submit(client, {"model": SMALL}))
        assert done[-1]["status"] == "done"
        clock.now += 1
    # Only the newest 2 finished jobs are kept; the oldest went first.
    assert client.get(f"/api/jobs/{done[0]['id']}").status_code == 404
    assert [job_of(client, job["id"]) for job in done[1:]] == done[1:]
    # At most max_unfinished jobs at once, however many wait for one training.
    assert submit(client, {"model": LONG})["status"] == "running"
    refused = client.post("/api/jobs", json={"model": LONG})
    assert refused.status_code == 503 and refused.headers["retry-after"] == "2"
    assert "MAX_UNFINISHED_JOBS" in refused.json()["detail"]
    # An hour (here: a minute) after they finished, finished jobs are gone; unfinished stay.
    clock.now += 61
    for job in done:
        assert client.get(f"/api/jobs/{job['id']}").status_code == 404
    assert job_of(client, running["id"])["status"] == "running"
    assert len(records) == records.unfinished == 2


def test_shutdown_cancels_unfinished_jobs(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(cache_dir=tmp_path, device="cpu"))) as client:
        job = submit(client, {"model": LONG})
        poll(client, job["id"], training)
        records: JobRecords = client.app.state.job_records  # type: ignore[attr-defined]
        worker = client.app.state.worker  # type: ignore[attr-defined]
        record = records.get(job["id"])
        assert record is not None and record.task is not None
    assert record.task.done() and not worker.alive  # the lifespan cancelled and joined them
    assert record.status == "cancelled" and 0 < record.step < LONG["steps"]


def test_a_stopped_worker_is_503(client: TestClient) -> None:
    client.app.state.worker.stop()  # type: ignore[attr-defined]
    refused = client.post("/api/jobs", json={"model": SMALL})
    assert refused.status_code == 503 and "worker is not running" in refused.json()["detail"]
    assert len(client.app.state.job_records) == 0  # type: ignore[attr-defined]
