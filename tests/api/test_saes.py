"""POST /api/saes, GET /api/saes/{id}, WS /api/saes/live and SAE jobs: the library's SAE behind
every route, one id for a model given by request or by id, and 422s that name the field."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.api.settings import Limits, Settings
from server.tms.sae import SAEConfig, train_sae

MODEL = {"n_features": 5, "n_hidden": 2, "feature_probability": 0.05, "steps": 300,
         "batch_size": 256, "seed": 4}  # fmt: skip
SAE = {"model": MODEL, "n_latents": 6, "steps": 300, "batch_size": 256, "resample_interval": 100}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        cache_dir=tmp_path_factory.mktemp("sae_cache"),
        device="cpu",
        limits=Limits(max_latents=64, max_steps=5000),
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def trained(client: TestClient) -> dict[str, Any]:
    response = client.post("/api/saes", json=SAE)
    assert response.status_code == 200, response.text
    return response.json()


def test_post_trains_the_model_then_the_sae(client: TestClient, trained: dict) -> None:
    assert not trained["cached"] and trained["final"] and trained["step"] == 300
    n, m, L = 5, 2, 6
    assert (trained["n_features"], trained["n_hidden"], trained["n_latents"]) == (n, m, L)
    shapes = {"W_enc": (L, m), "b_enc": (L,), "W_dec": (m, L), "b_dec": (m,), "features": (m, n),
              "cosines": (n, L), "latent_frequency": (L,), "feature_probability": (n,)}  # fmt: skip
    for name, shape in shapes.items():
        assert tuple(torch.tensor(trained[name]).shape) == shape, name
    torch.testing.assert_close(
        torch.tensor(trained["W_dec"]).norm(dim=0), torch.ones(L), check_dtype=False
    )
    assert trained["feature_probability"] == [0.05] * 5
    assert trained["resample_steps"] == [100, 200]
    assert [e["step"] for e in trained["resampled"]] == [100, 200]
    assert len(trained["loss_history"]) == len(trained["history_steps"]) > 0
    assert trained["dead_latents"] == sum(f == 0 for f in trained["latent_frequency"])
    assert sorted(trained["latent_order"]) == list(range(L))
    assert (
        trained["request"]["model"] is None
        and trained["request"]["model_id"] == (trained["model_id"])
    )
    model = client.get(f"/api/models/{trained['model_id']}").json()  # trained first, and cached
    assert model["instances"][0]["W"] == trained["features"]


def test_the_scores_are_those_of_the_returned_weights(trained: dict) -> None:
    """MMCS and MCC recomputed here from W and W_dec (brute force over matchings)."""
    W, D = torch.tensor(trained["features"]).double(), torch.tensor(trained["W_dec"]).double()
    cos = (W / W.norm(dim=0)).T @ (D / D.norm(dim=0))  # (n, L)
    scored = [i for i in range(5) if W[:, i].norm() >= 0.5]
    assert trained["represented"] == scored
    assert trained["mmcs"] == pytest.approx(float(cos[scored].max(dim=1).values.mean()), abs=1e-9)
    best = max(
        sum(float(cos[i, j]) for i, j in zip(scored, chosen, strict=True))
        for chosen in itertools.permutations(range(6), len(scored))
    )
    assert trained["mcc"] == pytest.approx(best / len(scored), abs=1e-9)
    torch.testing.assert_close(torch.tensor(trained["cosines"], dtype=torch.float64), cos)


def test_the_library_trains_the_same_sae(trained: dict) -> None:
    """server.tms.sae.train_sae on the model's W gives the weights the server returned."""
    from server.api.schemas.models import ModelRequest

    config = ModelRequest(**MODEL).to_config()
    sae = train_sae(
        config,
        torch.tensor(trained["features"]),
        0,
        SAEConfig(n_latents=6, steps=300, batch_size=256, resample_interval=100),
    )
    assert torch.equal(torch.tensor(trained["W_dec"]), sae.W_dec)
    assert torch.equal(torch.tensor(trained["b_enc"]), sae.b_enc)
    assert trained["loss"] == pytest.approx(float(sae.measures.loss), rel=1e-12)


def test_get_and_post_by_model_id_answer_the_stored_sae(client: TestClient, trained: dict) -> None:
    stored = client.get(f"/api/saes/{trained['id']}").json()
    assert stored["cached"] and stored["W_dec"] == trained["W_dec"]
    assert stored["mmcs"] == trained["mmcs"] and stored["matching"] == trained["matching"]
    by_id = {k: v for k, v in SAE.items() if k != "model"} | {"model_id": trained["model_id"]}
    again = client.post("/api/saes", json=by_id).json()
    assert again["id"] == trained["id"] and again["cached"]
    assert client.get("/api/saes/" + "0" * 64).status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"model_id": "a" * 64}, "", "exactly one of model and model_id"),
        ({"model": None}, "", "exactly one of model and model_id"),
        ({"n_latents": 0}, "n_latents", "greater than or equal to 1"),
        ({"n_latents": 65}, "n_latents", "max_latents"),
        ({"architecture": "topk", "k": 7}, "k", "n_latents = 6"),
        ({"instance": 1}, "instance", "1 instance"),
        ({"steps": 5001}, "steps", "max_steps"),
        ({"model": MODEL | {"steps": 5001}}, "steps", "max_steps"),
    ],
)
def test_bad_requests_get_a_422_naming_the_field(
    client: TestClient, change: dict, field: str, words: str
) -> None:
    response = client.post("/api/saes", json=SAE | change)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any((not field or e["loc"][-1] == field) and words in e["msg"] for e in errors), errors


def test_a_model_id_must_name_a_trained_model_with_that_instance(
    client: TestClient, trained: dict
) -> None:
    by_id = {k: v for k, v in SAE.items() if k != "model"}
    missing = client.post("/api/saes", json=by_id | {"model_id": "b" * 64})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "model_id"]
    lacking = client.post(
        "/api/saes", json=by_id | {"model_id": trained["model_id"], "instance": 2}
    )
    assert lacking.status_code == 422
    assert lacking.json()["detail"][0]["loc"] == ["body", "instance"]


def test_a_job_trains_an_sae(client: TestClient, trained: dict) -> None:
    body = {"sae": {"model_id": trained["model_id"], "n_latents": 4, "steps": 150,
                    "batch_size": 128, "architecture": "topk", "k": 1}}  # fmt: skip
    response = client.post("/api/jobs", json=body)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["kind"] == "sae" and job["steps"] == 150
    deadline = time.monotonic() + 60
    while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
        job = client.get(f"/api/jobs/{job['id']}").json()
    assert job["status"] == "done", job
    assert job["result_url"].startswith("/api/saes/")
    result = client.get(job["result_url"]).json()
    assert result["request"]["architecture"] == "topk" and result["l0"] <= 1.0
    refused = client.post("/api/jobs", json={"sae": body["sae"] | {"k": 5}})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][-2:] == ["sae", "k"]


def test_live_streams_the_decoder_and_its_scores(client: TestClient) -> None:
    request = SAE | {"steps": 1500, "seed": 9}
    with client.websocket_connect("/api/saes/live") as ws:
        ws.send_text(json.dumps(request))
        snapshots = []
        while (message := ws.receive_json())["type"] == "snapshot":
            snapshots.append(message)
        assert message["type"] == "done", message
    result = message["result"]
    assert snapshots, "no snapshot in 1,500 steps"
    for snapshot in snapshots:
        sae = snapshot["sae"]
        assert snapshot["phase"] == "sae"  # the model was cached: no model phase
        assert snapshot["seq"] == 1 and snapshot["id"] == result["id"] and not sae["final"]
        assert 0 < snapshot["step"] == sae["step"] < 1500 and snapshot["steps"] == 1500
        assert len(sae["W_dec"][0]) == 6 and len(sae["latent_frequency"]) == 6
        assert sae["eval_samples"] == 4096 and sae["mmcs"] is not None
        assert all(e["step"] <= snapshot["step"] for e in sae["resampled"])
    steps = [s["step"] for s in snapshots]
    assert steps == sorted(steps)
    assert result["final"] and result["step"] == 1500
    rest = client.post("/api/saes", json=request).json()
    assert rest["cached"] and rest["W_dec"] == result["W_dec"]


def test_live_shows_the_model_training_first(client: TestClient) -> None:
    request = SAE | {"model": MODEL | {"steps": 3000, "seed": 12}, "steps": 400}
    with client.websocket_connect("/api/saes/live") as ws:
        ws.send_text(json.dumps(request))
        snapshots = []
        while (message := ws.receive_json())["type"] == "snapshot":
            snapshots.append(message)
    assert message["type"] == "done", message
    phases = [s["phase"] for s in snapshots]
    assert phases and phases[0] == "model" and phases == sorted(phases)  # model, …, sae, …
    for snapshot in snapshots:
        assert snapshot["id"] == message["result"]["id"]
        if snapshot["phase"] == "model":
            assert snapshot["sae"] is None and snapshot["steps"] == 3000
        else:
            assert snapshot["sae"]["step"] == snapshot["step"] and snapshot["steps"] == 400


def test_live_controls_pause_and_step_an_sae(client: TestClient, trained: dict) -> None:
    """The live controls act on the SAE's training: paused, it stands still; a step of 5 takes
    5 steps and pauses again, with a snapshot of where it stopped."""

    def next_of(ws: Any, kind: str) -> dict[str, Any]:
        while (message := ws.receive_json())["type"] != kind:
            assert message["type"] in ("snapshot", "control"), message
        return message

    by_id = {k: v for k, v in SAE.items() if k != "model"}
    with client.websocket_connect("/api/saes/live") as ws:
        ws.send_text(
            json.dumps(by_id | {"model_id": trained["model_id"], "steps": 5000, "seed": 21})
        )
        assert next_of(ws, "snapshot")["phase"] == "sae"
        ws.send_text(json.dumps({"type": "pause"}))
        assert next_of(ws, "control")["paused"]
        stopped = next_of(ws, "snapshot")
        while not stopped["paused"]:
            stopped = next_of(ws, "snapshot")
        assert stopped["sae"]["step"] == stopped["step"]
        ws.send_text(json.dumps({"type": "step", "steps": 5}))
        assert next_of(ws, "control")["applied"]
        stepped = next_of(ws, "snapshot")
        while not stepped["paused"]:
            stepped = next_of(ws, "snapshot")
        assert stepped["step"] == stopped["step"] + 5


def test_live_refuses_a_bad_request_and_an_unknown_model(client: TestClient) -> None:
    with client.websocket_connect("/api/saes/live") as ws:
        ws.send_text(json.dumps(SAE | {"n_latents": 0}))
        error = ws.receive_json()
        assert error["type"] == "error" and error["detail"][0]["loc"] == ["n_latents"]
        unknown = {k: v for k, v in SAE.items() if k != "model"} | {"model_id": "c" * 64}
        ws.send_text(json.dumps(unknown))
        error = ws.receive_json()
        assert error["type"] == "error" and "no trained model" in error["detail"], error


def test_a_tampered_entry_is_retrained(client: TestClient, trained: dict, tmp_path: Path) -> None:
    """An entry whose weights no longer fit its stored scores' shapes is unusable: GET 404."""
    from server.cache import META

    cache_dir = client.app.state.settings.cache_dir  # type: ignore[attr-defined]
    meta_path = Path(cache_dir) / trained["id"] / META
    original = meta_path.read_text()
    meta = json.loads(original)
    meta["result"]["n_features"] = 4
    meta_path.write_text(json.dumps(meta))
    assert client.get(f"/api/saes/{trained['id']}").status_code == 404  # checksum: removed
    retrained = client.post("/api/saes", json=SAE).json()
    assert not retrained["cached"] and retrained["W_dec"] == trained["W_dec"]
