"""GET /api/models/{id}/weights: the cache entry's safetensors file, verified before serving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from safetensors.numpy import load

from server.cache import WEIGHTS
from tests.api.conftest import train

SMALL = {
    "n_features": 5,
    "n_hidden": 2,
    "feature_probability": [0.3, 0.05],
    "steps": 100,
    "batch_size": 128,
}
ABSOLUTE = {
    "n_features": 3,
    "n_hidden": 6,
    "task": "absolute_value",
    "steps": 100,
    "batch_size": 128,
}


def weights(client: TestClient, model_id: str) -> dict[str, np.ndarray]:
    response = client.get(f"/api/models/{model_id}/weights")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    disposition = response.headers["content-disposition"]
    assert disposition == f'attachment; filename="model-{model_id[:12]}.safetensors"'
    return load(response.content)


def test_the_weights_file_holds_the_results_W_and_b(client: TestClient, tmp_path: Path) -> None:
    result = train(client, SMALL)
    tensors = weights(client, result["id"])
    assert set(tensors) == {"W", "b"}
    assert tensors["W"].shape == (2, 2, 5) and tensors["b"].shape == (2, 5)
    assert tensors["W"].dtype == np.float32
    for k, instance in enumerate(result["instances"]):
        np.testing.assert_array_equal(tensors["W"][k], np.array(instance["W"], dtype=np.float32))
        np.testing.assert_array_equal(tensors["b"][k], np.array(instance["b"], dtype=np.float32))
    # The very file the cache stored.
    stored = (tmp_path / result["id"] / WEIGHTS).read_bytes()
    assert client.get(f"/api/models/{result['id']}/weights").content == stored


def test_the_absolute_value_models_file_holds_W_out(client: TestClient) -> None:
    result = train(client, ABSOLUTE)
    tensors = weights(client, result["id"])
    assert set(tensors) == {"W", "b", "W_out"}
    assert tensors["W_out"].shape == (1, 3, 6)
    (instance,) = result["instances"]
    np.testing.assert_array_equal(tensors["W_out"][0], np.array(instance["W_out"], np.float32))
    np.testing.assert_array_equal(tensors["W"][0], np.array(instance["W"], np.float32))


def test_kept_snapshots_come_with_the_weights(client: TestClient) -> None:
    result = train(client, SMALL | {"snapshots": 3})
    tensors = weights(client, result["id"])
    assert tensors["snapshot_W"].shape == (3, 2, 2, 5)
    assert tensors["snapshot_b"].shape == (3, 2, 5)
    np.testing.assert_array_equal(tensors["snapshot_W"][-1], tensors["W"])  # the last: trained


def test_absent_or_unusable_weights_are_404(client: TestClient, tmp_path: Path) -> None:
    missing = client.get(f"/api/models/{'0' * 64}/weights")
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    assert client.get("/api/models/not-an-id/weights").status_code == 422
    diagram = client.post(
        "/api/phase-diagrams", json={"grid_size": 2, "steps": 20, "n_restarts": 1}
    ).json()
    assert client.get(f"/api/models/{diagram['id']}/weights").status_code == 404  # not a model
    # A weights file that no longer matches its checksum is never served (and is retrained).
    result = train(client, SMALL)
    path = tmp_path / result["id"] / WEIGHTS
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    assert client.get(f"/api/models/{result['id']}/weights").status_code == 404
    assert not (tmp_path / result["id"]).exists()
