"""Finite training sets through the API: ModelRequest's n_train and its fields, /api/double-descent
(REST in-process; the live socket and jobs against a real uvicorn server), ids of old requests,
and 422s naming the field and the limit."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from server.api.app import create_app
from server.api.limits import double_descent_limit_errors, limit_errors
from server.api.schemas.double_descent import DoubleDescentRequest
from server.api.schemas.models import ModelRequest
from server.api.settings import Limits, Settings
from server.client import Client, DoubleDescent
from server.jobs import train_task
from server.results import ModelTask

MODEL = {
    "n_features": 30,
    "n_hidden": 2,
    "feature_probability": 0.2,
    "normalize_inputs": True,
    "lr": 1e-2,
    "lr_schedule": "warmup_cosine",
    "warmup_steps": 40,
    "steps": 300,
    "seed": 5,
}
SWEEP = MODEL | {"n_train_values": [30, 3, 10, 3]}  # sorted and deduplicated by the server


# Ids computed before the finite-training fields existed (they key the shipped cache entries).
OLD_IDS = [
    ({}, "34251bd1288a606f03cf8a3e5d7a2ca6d06be5878ed6d796983e2c8bb66c3830"),
    (
        {"n_features": 6, "n_hidden": 3, "feature_probability": [0.1, 0.2], "activation": "power",
         "snapshots": 3},
        "d730bbae360bde7539c73613ba2d395e4283d9888a6c86dc9343a7415e6155b3",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "model_id"), OLD_IDS)
def test_old_requests_keep_their_ids(fields: dict[str, Any], model_id: str) -> None:
    assert ModelRequest(**fields).model_id() == model_id
    explicit = {"n_train": None, "normalize_inputs": False, "lr_schedule": "constant"}
    assert ModelRequest(**fields, **explicit, warmup_steps=0).model_id() == model_id
    assert ModelRequest(**fields, n_train=4).model_id() != model_id


def test_a_model_with_n_train_carries_its_training_points(client: TestClient) -> None:
    response = client.post("/api/models", json=MODEL | {"n_train": 6, "batch_size": 999})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["request"]["batch_size"] == 6  # the batch is the T points
    instance = body["instances"][0]
    assert instance["train_loss"] < instance["loss"]
    assert len(instance["data_dimensionality"]) == 6
    assert all(0 <= d <= 1 for d in instance["data_dimensionality"])
    assert len(instance["hidden_train"]) == 6 and len(instance["hidden_train"][0]) == 2
    assert instance["theory_loss"] == {}  # the closed forms assume inputs not normalised
    stored = client.get(f"/api/models/{body['id']}").json()
    assert stored["instances"][0]["hidden_train"] == instance["hidden_train"]
    # batch_size is read as T: another batch_size is the same model.
    again = client.post("/api/models", json=MODEL | {"n_train": 6}).json()
    assert again["id"] == body["id"] and again["cached"] is True
    plain = client.post("/api/models", json={"steps": 20, "batch_size": 32}).json()
    assert plain["instances"][0]["train_loss"] is None
    assert plain["instances"][0]["hidden_train"] is None


def test_post_sweep_returns_every_T_then_caches_and_opens_each_model(client: TestClient) -> None:
    response = client.post("/api/double-descent", json=SWEEP)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["final"] is True and result["cached"] is False
    assert result["request"]["n_train_values"] == [3, 10, 30]
    points = result["points"]
    assert [p["n_train"] for p in points] == [3, 10, 30]
    assert result["peak_n_train"] == max(points, key=lambda p: p["loss"][0])["n_train"]
    for point in points:
        assert len(point["train_loss"]) == len(point["loss"]) == 1
        assert len(point["feature_dimensionality"][0]) == 30
        model = client.get(f"/api/models/{point['model_id']}").json()
        instance = model["instances"][0]
        assert model["request"]["n_train"] == point["n_train"]
        assert instance["loss"] == point["loss"][0]
        assert instance["train_loss"] == point["train_loss"][0]
        mean = sum(instance["data_dimensionality"]) / point["n_train"]
        assert mean == pytest.approx(point["data_dimensionality"][0], rel=1e-12)
    # A small T is memorised: its train loss is far below its test loss.
    assert points[0]["train_loss"][0] < 0.3 * points[0]["loss"][0]
    # Each T is exactly its model request: trained alone, n_train = T gives the same weights.
    alone, _ = train_task(ModelTask(ModelRequest(**MODEL, n_train=10)), torch.device("cpu"))
    model = client.get(f"/api/models/{points[1]['model_id']}").json()
    assert alone.id == points[1]["model_id"]
    assert model["instances"][0]["W"] == alone.instances[0].W
    assert model["instances"][0]["loss"] == alone.instances[0].loss

    again = client.post("/api/double-descent", json=SWEEP | {"n_train_values": [3, 10, 30]})
    assert again.json()["cached"] is True and again.json()["points"] == points
    stored = client.get(f"/api/double-descent/{result['id']}")
    assert stored.status_code == 200 and stored.json()["points"] == points
    assert client.get(f"/api/double-descent/{'0' * 64}").status_code == 404
    assert client.get(f"/api/models/{result['id']}").status_code == 404  # a sweep is no model


def test_the_schedule_fields_are_checked(client: TestClient) -> None:
    bad = [
        ({"warmup_steps": 10}, "warmup_steps", "warmup_cosine"),
        (MODEL | {"warmup_steps": 301}, "warmup_steps", "at most steps"),
        ({"lr_schedule": "linear"}, "lr_schedule", ""),
        ({"n_train": 0}, "n_train", ""),
    ]
    for body, field, text in bad:
        response = client.post("/api/models", json=body)
        assert response.status_code == 422, body
        errors = response.json()["detail"]
        assert any(field in e["loc"] and text in e["msg"] for e in errors), errors
    refused = client.post("/api/double-descent", json=SWEEP | {"n_train": 5})
    assert refused.status_code == 422 and "n_train_values" in refused.text


LIMITED = Limits(max_train_points=50, max_sweep_points=3, max_output_values=1000, max_work=1e9)


@pytest.mark.parametrize(
    ("path", "body", "field", "setting"),
    [
        ("/api/models", MODEL | {"n_train": 51}, "n_train", "max_train_points"),
        ("/api/models", MODEL | {"n_train": 50, "n_hidden": 30}, "n_train", "max_output_values"),
        (
            "/api/double-descent",
            SWEEP | {"n_train_values": [3, 51]},
            "n_train_values",
            "max_train_points",
        ),
        (
            "/api/double-descent",
            SWEEP | {"n_train_values": [1, 2, 3, 4]},
            "n_train_values",
            "max_sweep_points",
        ),
        (
            "/api/double-descent",
            SWEEP | {"steps": 50_000, "n_train_values": [50, 49, 48]},
            "steps",
            "max_work",
        ),
    ],
)
def test_limits_refuse_naming_field_and_setting(
    tmp_path: Path, path: str, body: dict[str, Any], field: str, setting: str
) -> None:
    with TestClient(create_app(Settings(cache_dir=tmp_path, device="cpu", limits=LIMITED))) as c:
        response = c.post(path, json=body)
        assert response.status_code == 422, response.text
        errors = response.json()["detail"]
        assert any(e["loc"][-1] == field and setting in e["msg"] for e in errors), errors
        kind = "model" if path == "/api/models" else "double_descent"
        job = c.post("/api/jobs", json={kind: body})
        assert job.status_code == 422
        assert any(setting in e["msg"] for e in job.json()["detail"]), job.text
    assert not any(p for p in tmp_path.iterdir() if not p.name.startswith("."))


def test_the_papers_sizes_are_admitted_where_the_work_bound_allows() -> None:
    limits = Limits()
    arena = DoubleDescentRequest(
        n_features=1000, feature_probability=0.01, steps=2500, n_train_values=[3, 100, 3000]
    )
    assert double_descent_limit_errors(arena, limits) == []
    assert limit_errors(ModelRequest(n_features=1000, n_train=3000, steps=10_000), limits) == []
    paper = ModelRequest(n_features=10_000, n_train=100, steps=1000)
    assert [e["ctx"]["setting"] for e in limit_errors(paper, limits)] == ["max_output_values"]


def test_live_socket_fills_the_sweep_in(live_server: str) -> None:
    url = live_server.replace("http://", "ws://") + "/api/double-descent/live"
    request = MODEL | {"steps": 3000, "seed": 21, "n_train_values": [3, 12]}
    with connect(url, max_size=None) as ws:
        ws.send(json.dumps(request))
        snapshots = []
        while (message := json.loads(ws.recv(timeout=120)))["type"] == "snapshot":
            snapshots.append(message)
    assert message["type"] == "done", message
    assert snapshots, "no snapshot"
    partial = snapshots[0]["sweep"]
    assert partial["final"] is False and partial["peak_n_train"] is None
    assert [p["n_train"] for p in partial["points"]] == [3, 12]
    assert all(p["loss"] is None and len(p["train_loss"]) == 1 for p in partial["points"])
    assert message["result"]["final"] is True and message["result"]["id"] == snapshots[0]["id"]


def test_a_job_and_the_client_train_a_sweep(live_server: str) -> None:
    body = MODEL | {"seed": 22, "n_train_values": [4, 16]}
    job = httpx.post(f"{live_server}/api/jobs", json={"double_descent": body}).json()
    assert job["kind"] == "double_descent"
    for _ in range(600):
        job = httpx.get(f"{live_server}/api/jobs/{job['id']}").json()
        if job["status"] == "done":
            break
        time.sleep(0.05)
    assert job["result_url"].startswith("/api/double-descent/")
    with Client(live_server, poll_interval=0.02) as client:
        sweep = client.double_descent(progress=False, **body)
        assert isinstance(sweep, DoubleDescent) and sweep.cached is True
        assert sweep.n_train.tolist() == [4, 16] and sweep.loss.shape == (2, 1)
        assert sweep.feature_dimensionality.shape == (2, 1, 30)
        model = client.model(sweep.model_ids[0])
        instance = model.instances[0]
        assert instance.hidden_train is not None and instance.hidden_train.shape == (4, 2)
        assert instance.train_loss == sweep.train_loss[0, 0]


def test_a_sweep_with_snapshots_is_a_422_not_a_failed_training(client: TestClient) -> None:
    # Found by the schemathesis fuzz: the joined run keeps no snapshots, so the request must be
    # refused at validation, never accepted and then failed in the worker (503).
    response = client.post("/api/double-descent", json={"snapshots": 1, "steps": 1})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "snapshots"] and "snapshots" in error["msg"]
