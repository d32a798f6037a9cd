"""The REST API over httpx (FastAPI's TestClient runs the app and its lifespan in-process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient
from plotly.offline import get_plotlyjs_version

from server.api.app import PLOTLY_JS, create_app
from server.api.settings import Limits, Settings
from server.tms.training import TrainingBatch

SMALL = {
    "n_features": 6,
    "n_hidden": 3,
    "feature_probability": [0.3, 0.05],
    "steps": 40,
    "batch_size": 128,
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        cache_dir=tmp_path,
        device="cpu",
        limits=Limits(max_hidden=64, max_steps=20_000, max_batch_size=4096),
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def post(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post("/api/models", json=body)


def test_post_trains_and_returns_every_metric(client: TestClient) -> None:
    response = post(client, SMALL)
    assert response.status_code == 200, response.text
    result = response.json()
    assert len(result["id"]) == 64 and result["cached"] is False
    assert result["device"] == "cpu" and result["train_seconds"] > 0
    assert result["request"]["feature_probability"] == [0.3, 0.05]
    assert result["request"]["importance"] == [1.0] * 6
    assert result["loss_history"][-1]["step"] == 40
    assert all(len(point["loss"]) == 2 for point in result["loss_history"])
    assert len(result["instances"]) == 2
    for instance, p in zip(result["instances"], [0.3, 0.05], strict=True):
        assert instance["feature_probability"] == p
        assert len(instance["W"]) == 3 and all(len(row) == 6 for row in instance["W"])
        assert len(instance["gram"]) == 6 and all(len(row) == 6 for row in instance["gram"])
        for key in ("b", "feature_norms", "superposition", "dimensionality", "importance"):
            assert len(instance[key]) == 6, key
        assert instance["loss"] > 0 and instance["dimensions_per_feature"] > 0
        # gram is WᵀW of the returned W
        W = instance["W"]
        g01 = sum(W[k][0] * W[k][1] for k in range(3))
        assert instance["gram"][0][1] == pytest.approx(g01, rel=1e-5, abs=1e-7)


def test_second_identical_request_is_cached_and_identical(client: TestClient) -> None:
    first = post(client, SMALL).json()
    # The same model asked for differently (scalar decay instead of the default) hits the cache.
    second = post(client, SMALL | {"importance_decay": 1.0}).json()
    assert second["cached"] is True
    assert second | {"cached": False} == first
    stored = client.get(f"/api/models/{first['id']}")
    assert stored.status_code == 200
    assert stored.json() | {"cached": False} == first


def test_unknown_id_is_404(client: TestClient) -> None:
    response = client.get("/api/models/" + "0" * 64)
    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


@pytest.mark.parametrize("bad_id", ["abc", "..%2F..%2Fetc%2Fpasswd", "A" * 64])
def test_malformed_id_is_refused(client: TestClient, bad_id: str) -> None:
    assert client.get(f"/api/models/{bad_id}").status_code in (404, 422)


BAD_BODIES = [
    ({"n_hidden": 0}, "n_hidden", None),
    ({"n_hidden": 65}, "n_hidden", "64"),
    ({"feature_probability": 0}, "feature_probability", None),
    ({"feature_probability": 1.5}, "feature_probability", None),
    ({"n_features": 3, "importance": [1, 1]}, "importance", None),
    ({"n_features": 10**6}, "n_features", "10000"),
    ({"steps": 20_001}, "steps", "20000"),
    ({"batch_size": 10**6}, "batch_size", "4096"),
    ({"n_features": "five"}, "n_features", None),
    ({"feature_probability": [0.1] * 129}, "feature_probability", "128"),
    (
        {"n_features": 512, "n_hidden": 64, "steps": 20_000, "batch_size": 4096, "n_restarts": 2},
        "steps",
        "max_work",
    ),
    ({"seed": -1}, "seed", None),
    ({"seed": 2**32}, "seed", None),
    ({"lr": 0}, "lr", None),
    ({"lr": 2}, "lr", None),
    ({"n_restarts": 17}, "n_restarts", "16"),
    ({"steps": 10**400}, "steps", None),
    ({"n_features": 10**30}, "n_features", None),
    ({"importance_decay": 0.5, "importance": [1] * 5}, "importance", None),
    ({"activation": "tanh"}, "activation", None),
    # each factor in range, but one step's tensors too large: the memory bound
    (
        {
            "n_features": 256,
            "n_hidden": 1,
            "feature_probability": [0.5] * 64,
            "n_restarts": 16,
            "batch_size": 4096,
            "steps": 1,
        },
        "batch_size",
        "max_step_elements",
    ),
    (
        {"n_features": 512, "feature_probability": [0.5] * 17, "steps": 1},
        "n_features",
        "max_output_values",
    ),
]


@pytest.mark.parametrize(("body", "field", "limit"), BAD_BODIES)
def test_bad_input_is_422_naming_field_and_limit(
    client: TestClient, body: dict[str, Any], field: str, limit: str | None
) -> None:
    response = post(client, body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    matching = [e for e in errors if field in map(str, e["loc"])]
    assert matching, errors
    if limit is not None:
        assert any(limit in e["msg"] for e in matching), matching


def test_nan_probability_is_422_not_500(client: TestClient) -> None:
    response = client.post(
        "/api/models",
        content='{"feature_probability": NaN}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert any("feature_probability" in e["loc"] for e in response.json()["detail"])


def test_long_invalid_lists_get_a_short_answer(client: TestClient) -> None:
    response = post(client, {"feature_probability": [0] * 4000})
    assert response.status_code == 422
    assert len(response.content) < 20_000  # not 4,000 errors each echoing the list
    errors = response.json()["detail"]
    assert any("feature_probability" in e["loc"] for e in errors)
    # The list reports its first bad entry (schemas/bounded.py), not one error per entry.
    assert len(errors) <= 2 and any(e["loc"][-2:] == [0, "constrained-float"] for e in errors)


def test_oversized_body_is_refused(client: TestClient) -> None:
    body = json.dumps({"importance": [1.0] * 300_000})  # > max_message_bytes (1 MiB)
    response = client.post(
        "/api/models", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_invalid_json_is_422(client: TestClient) -> None:
    response = client.post("/api/models", content="{", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_corrupted_cache_entry_is_retrained(client: TestClient, tmp_path: Path) -> None:
    first = post(client, SMALL).json()
    weights = tmp_path / first["id"] / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:20])  # truncated, as by a crash
    again = post(client, SMALL)
    assert again.status_code == 200
    assert again.json()["cached"] is False
    assert again.json()["instances"] == first["instances"]  # deterministic retraining
    assert post(client, SMALL).json()["cached"] is True


def test_failed_training_is_a_clear_503_and_the_worker_goes_on(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = TrainingBatch.step

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("simulated failure inside a step")

    monkeypatch.setattr(TrainingBatch, "step", fail)
    response = post(client, SMALL)
    assert response.status_code == 503
    assert "simulated failure inside a step" in response.json()["detail"]
    monkeypatch.setattr(TrainingBatch, "step", step)
    assert post(client, SMALL).status_code == 200


def test_out_of_device_memory_fails_that_job_alone_with_a_clear_error(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = TrainingBatch.step
    failures = iter([True])  # the job's first step fails, as a CUDA allocation would; then none

    def out_of_memory(self: TrainingBatch, *args: Any, **kwargs: Any) -> None:
        ours = self.runs[0].n_features == SMALL["n_features"]  # not the worker's warm-up
        if ours and next(failures, False):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        step(self, *args, **kwargs)

    monkeypatch.setattr(TrainingBatch, "step", out_of_memory)
    with client.websocket_connect("/api/models/live") as ws:
        ws.send_text(json.dumps(SMALL | {"seed": 5}))
        error = ws.receive_json()
        assert error["type"] == "error"
        assert "ran out of memory" in error["detail"] and "batch_size" in error["detail"]
        ws.send_text(json.dumps(SMALL | {"seed": 6}))  # the worker goes on with the next job
        while (message := ws.receive_json())["type"] == "snapshot":
            pass
        assert message["type"] == "done" and message["seq"] == 2
    assert client.get("/api/health").json()["jobs"] == 0


def test_a_full_training_queue_is_503_with_retry_after(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path, device="cpu", limits=Limits(max_queued_jobs=1))
    long = SMALL | {"steps": 50_000, "seed": 1}
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect("/api/models/live") as ws,
    ):
        ws.send_text(json.dumps(long))
        assert ws.receive_json()["type"] == "snapshot"  # the one allowed job is training
        response = post(client, SMALL)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "2"
        assert "max_queued_jobs" in response.json()["detail"]
        ws.send_text(json.dumps(SMALL))  # replaces the long job: room again
        while (message := ws.receive_json())["type"] != "done" or message["seq"] != 2:
            pass
        assert post(client, SMALL).json()["cached"] is True


def test_health_and_limits(client: TestClient) -> None:
    health = client.get("/api/health").json()
    assert health == health | {
        "status": "ok",
        "device": "cpu",
        "plotly_js": get_plotlyjs_version(),
        "jobs": 0,
        "training_runs": 0,
        "evaluating_runs": 0,
        "held_runs": 0,
        "live_sockets": 0,
    }
    assert health["torch"].startswith("2.13.0")
    assert health["tasks"] >= 1 and health["threads"] >= 2  # this request, and the worker
    assert health["peak_rss_bytes"] >= health["rss_bytes"] > 10**7
    assert client.get("/api/limits").json()["max_hidden"] == 64


def test_plotly_js_is_served_from_the_plotly_package(client: TestClient) -> None:
    response = client.get("/vendor/plotly.min.js")
    assert response.status_code == 200
    assert response.content == PLOTLY_JS.read_bytes()
    assert "javascript" in response.headers["content-type"]


def test_frontend_is_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/vendor/plotly.min.js" in page.text
    assert client.get("/favicon.svg").status_code == 200


def test_openapi_has_an_example_for_every_body(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    request_schema = schema["components"]["schemas"]["ModelRequest"]
    assert request_schema["examples"][0]["n_features"] == 5
    assert json.dumps(schema)  # serialisable
