"""/api/phase-diagrams: REST in-process, and the live socket against a real uvicorn server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import connect

TINY = {"grid_size": 4, "n_restarts": 2, "steps": 200}


def test_post_returns_the_documented_fields_then_caches(client: TestClient) -> None:
    response = client.post("/api/phase-diagrams", json=TINY)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["cached"] is False and result["final"] is True and result["step"] == 200
    assert len(result["feature_probability"]) == 4 and len(result["relative_importance"]) == 4
    assert result["feature_probability"][0] == 1.0
    assert result["feature_probability"][-1] == pytest.approx(0.01)
    for name in ("empirical", "theory", "extra_norm", "extra_superposition", "loss"):
        grid = result[name]
        assert len(grid) == 4 and all(len(row) == 4 for row in grid), name
    classes = {"not_learned", "dedicated", "superposition"}
    assert {c for row in result["empirical"] for c in row} <= classes
    assert {c for row in result["theory"] for c in row} <= classes
    assert 0.0 <= result["agreement"] <= 1.0
    assert set(result["candidate_losses"]) == classes | {"superposition_optimised_bias"}
    assert result["boundaries"] and all(
        len(c["feature_probability"]) == len(c["relative_importance"]) > 0
        for c in result["boundaries"]
    )
    assert len(result["W"][0][0]) == 1 and len(result["W"][0][0][0]) == 2

    again = client.post("/api/phase-diagrams", json=TINY).json()
    assert again["cached"] is True and again["empirical"] == result["empirical"]
    stored = client.get(f"/api/phase-diagrams/{result['id']}")
    assert stored.status_code == 200 and stored.json()["loss"] == result["loss"]
    # A diagram is not a model, and reading it as one neither finds nor harms it.
    assert client.get(f"/api/models/{result['id']}").status_code == 404
    assert client.get(f"/api/phase-diagrams/{result['id']}").status_code == 200
    assert client.get(f"/api/phase-diagrams/{'0' * 64}").status_code == 404


def test_three_features_in_two_dimensions(client: TestClient) -> None:
    response = client.post("/api/phase-diagrams", json=TINY | {"n_features": 3})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["request"]["n_hidden"] == 2
    assert result["phases"] == [
        "not_learned",
        "dedicated",
        "extra_superposed",
        "others_superposed",
    ]
    # the classifier's other classes (server/tms/phase_diagram.py): a 200-step model's noisy
    # loss may beat every candidate's closed form
    allowed = set(result["phases"]) | {"all_superposed", "other", "beats_candidates"}
    assert {c for row in result["empirical"] for c in row} <= allowed
    assert len(result["W"][0][0]) == 2 and len(result["W"][0][0][0]) == 3


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"grid_size": 65}, "grid_size", "max_grid_size = 64"),
        ({"grid_size": 1}, "grid_size", "greater than or equal to 2"),
        ({"grid_size": 64, "n_restarts": 16, "steps": 40_000}, "grid_size", "max_work"),
        ({"n_restarts": 17}, "n_restarts", "max_restarts"),
        ({"feature_probability_range": [1.5, 0.01]}, "feature_probability_range", "1"),
        ({"relative_importance_range": [0, 10]}, "relative_importance_range", "greater than 0"),
        ({"n_features": 2, "n_hidden": 2}, None, "n_hidden = 1"),
        ({"n_features": 5}, "n_features", "2 or 3"),
    ],
)
def test_bad_requests_get_422_naming_field_and_limit(
    client: TestClient, body: dict[str, Any], field: str | None, text: str
) -> None:
    response = client.post("/api/phase-diagrams", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(text in e["msg"] for e in errors), errors
    if field is not None:
        assert any(field in e["loc"] for e in errors), errors
    assert not any(Path(client.app.state.settings.cache_dir).iterdir())  # type: ignore[attr-defined]


def test_bad_ids_are_404_or_422(client: TestClient) -> None:
    for bad in ("..%2F..%2Fetc", "ABC", "g" * 64):
        assert client.get(f"/api/phase-diagrams/{bad}").status_code in (404, 422)


def test_live_socket_streams_partial_grids(live_server: str) -> None:
    url = live_server.replace("http://", "ws://") + "/api/phase-diagrams/live"
    request = {"grid_size": 6, "n_restarts": 2, "steps": 3000, "seed": 11}
    with connect(url, max_size=None) as ws:
        ws.send("not json")
        error = json.loads(ws.recv(timeout=30))
        assert error["type"] == "error" and error["seq"] == 1
        ws.send(json.dumps(request))
        snapshots = []
        while True:
            message = json.loads(ws.recv(timeout=120))
            assert message["seq"] == 2
            if message["type"] != "snapshot":
                break
            snapshots.append(message)
        # The same request again comes from the cache at once; "retrain" trains it afresh.
        ws.send(json.dumps(request))
        cached = json.loads(ws.recv(timeout=30))
        assert cached["type"] == "done" and cached["result"]["cached"] is True
        ws.send(json.dumps(request | {"retrain": True}))
        kinds = []
        while not kinds or kinds[-1] == "snapshot":
            again = json.loads(ws.recv(timeout=120))
            assert again["seq"] == 4
            kinds.append(again["type"])
        assert kinds[0] == "snapshot" and kinds[-1] == "done"
        assert again["result"]["cached"] is False
        assert again["result"]["empirical"] == cached["result"]["empirical"]  # deterministic
    assert message["type"] == "done", message
    assert len(snapshots) >= 2
    steps = [s["step"] for s in snapshots]
    assert steps == sorted(steps) and steps[-1] < 3000
    partial = snapshots[0]["diagram"]
    assert partial["final"] is False and len(partial["empirical"]) == 6
    assert partial["theory"] == message["result"]["theory"]
    assert message["result"]["final"] is True and message["result"]["id"] == snapshots[0]["id"]
