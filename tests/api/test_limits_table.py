"""One table of field → limit: the checks, the OpenAPI schema and GET /api/limits read it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.api.limits import FIELD_LIMITS, field_settings
from server.api.settings import Limits, Settings

SMALL = Limits(max_features=7, max_hidden=3, max_instances=2, max_grid_size=4, max_restarts=2,
               max_steps=30, max_batch_size=64, max_latents=6, max_train_points=40,
               max_sweep_points=3)  # fmt: skip
PATHS = {
    "ModelRequest": "/api/models",
    "PhaseDiagramRequest": "/api/phase-diagrams",
    "SAERequest": "/api/saes",
    "DoubleDescentRequest": "/api/double-descent",
}
BASES = {
    "ModelRequest": {"n_features": 5, "n_hidden": 2, "steps": 10, "batch_size": 32},
    "PhaseDiagramRequest": {"grid_size": 2, "steps": 10, "batch_size": 32, "n_restarts": 1},
    "SAERequest": {
        "model": {"n_features": 5, "n_hidden": 2, "steps": 10, "batch_size": 32},
        "n_latents": 3,
        "steps": 10,
        "batch_size": 32,
    },
    "DoubleDescentRequest": {"n_features": 5, "n_hidden": 2, "steps": 10, "n_train_values": [3]},
}
# Fields whose limit counts entries: ``count`` entries of each (a sweep's T are distinct).
LIST_VALUES = {
    "feature_probability": lambda count: [0.1] * count,
    "n_train_values": lambda count: list(range(1, count + 1)),
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(cache_dir=tmp_path, device="cpu", limits=SMALL))) as c:
        yield c


def test_limits_serves_the_table(client: TestClient) -> None:
    body = client.get("/api/limits").json()
    assert body["fields"] == field_settings()
    assert body["fields"]["ModelRequest"]["n_features"] == "max_features"
    assert body["max_features"] == 7


def test_the_openapi_schema_shows_every_bound_in_force(client: TestClient) -> None:
    components = client.get("/openapi.json").json()["components"]["schemas"]
    for model, fields in FIELD_LIMITS.items():
        for entry in fields:
            prop = components[model]["properties"][entry.field]
            bounds = [b.get("maximum", b.get("maxItems")) for b in [prop, *prop.get("anyOf", [])]]
            assert getattr(SMALL, entry.setting) in bounds, (model, entry.field, bounds)


@pytest.mark.parametrize(
    ("model", "field"),
    [(model, f.field) for model, fields in FIELD_LIMITS.items() for f in fields if f.checked],
)
def test_every_checked_field_is_refused_past_its_limit(
    client: TestClient, model: str, field: str
) -> None:
    setting = field_settings()[model][field]
    over = getattr(SMALL, setting) + 1
    value: object = LIST_VALUES[field](over) if field in LIST_VALUES else over
    response = client.post(PATHS[model], json=BASES[model] | {field: value})
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(e["loc"][-1] == field and setting in e["msg"] for e in errors), errors
